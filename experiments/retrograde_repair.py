"""Retrograde astrocyte repair after 70 % of one neuron's synapses fail (Wade et al. 2012).

Two LIF neurons share one astrocyte; each has 10 synapses with initial release
probability 0.3, each fed by its own 20 Hz Poisson train. At `--fault-s`, the
first 7 synapses of neuron 1 get stuck at zero. The run is repeated with the
same key without retrograde modulation (release probabilities fixed at 0.3).
Writes a figure of firing rate, release probability and DSE/e-SP against time,
and a JSON summary, and prints the rates before the fault, just after it and
late.

Run: `.venv/bin/python experiments/retrograde_repair.py runs/retrograde.png [--tau-syn 5]`
"""

import argparse
import io
import pathlib

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lifa_jax.io import atomic_write_json  # noqa: E402
from lifa_jax.io.atomic import atomic_write_bytes  # noqa: E402
from lifa_jax.repair.retrograde import RetrogradeCircuit, simulate_retrograde  # noqa: E402

SYNAPSES = 10
FAULTY_SYNAPSES = 7


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path, help="figure path (PNG); the summary goes beside it as .json")
    parser.add_argument("--duration-s", type=float, default=400.0, help="simulated time (s, whole seconds)")
    parser.add_argument("--fault-s", type=float, default=200.0, help="time at which the synapses fail (s)")
    parser.add_argument("--tau-syn", type=float, default=5.0, help="synaptic current time constant (ms)")
    parser.add_argument("--epsp", type=float, default=0.8, help="peak EPSP of one release (threshold units)")
    parser.add_argument("--release", type=float, default=0.3, help="initial release probability of every synapse")
    parser.add_argument("--input-rate", type=float, default=20.0, help="presynaptic Poisson rate per synapse (Hz)")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed")
    args = parser.parse_args()
    if not 0.0 < args.fault_s < args.duration_s:
        parser.error(f"--fault-s={args.fault_s} must lie inside the run (0, {args.duration_s}) s")
    if args.duration_s != int(args.duration_s):
        parser.error(f"--duration-s={args.duration_s} must be a whole number of seconds")
    if not 0.0 <= args.release <= 1.0:
        parser.error(f"--release={args.release} must lie in [0, 1]")
    return args


def phase_rates(result, fault_ms: float, duration_ms: float) -> dict:
    """Neuron rates (Hz) in the 25 s before the fault, the 3 s after it and the last quarter of the run."""
    late_start = fault_ms + 0.5 * (duration_ms - fault_ms)
    windows = {
        "before": (fault_ms - 25_000.0, fault_ms),
        "just_after": (fault_ms, fault_ms + 3_000.0),
        "late": (late_start, duration_ms),
    }
    return {name: np.asarray(result.window_rate(*window)).tolist() for name, window in windows.items()}


def smooth(values: np.ndarray, width: int = 5) -> np.ndarray:
    """Moving average over `width` bins (edges use the bins available)."""
    kernel = np.ones(width)
    return np.convolve(values, kernel, mode="same") / np.convolve(np.ones_like(values), kernel, mode="same")


def plot(repaired, plain, fault_s: float, path: pathlib.Path) -> None:
    time_s = np.asarray(repaired.time) / 1000.0
    fig, axes = plt.subplots(3, 1, figsize=(9, 9), sharex=True)

    ax = axes[0]
    ax.plot(time_s, smooth(np.asarray(repaired.rate[:, 0])), color="tab:gray", label="neuron 0 (healthy)")
    ax.plot(time_s, smooth(np.asarray(repaired.rate[:, 1])), color="tab:blue", label="neuron 1, with repair")
    ax.plot(time_s, smooth(np.asarray(plain.rate[:, 1])), color="tab:red", label="neuron 1, without astrocyte")
    ax.set_ylabel("firing rate (Hz, 5 s average)")
    ax.legend(loc="lower left")

    ax = axes[1]
    probability = np.asarray(repaired.release_probability[:, 1])
    ax.plot(time_s, probability[:, FAULTY_SYNAPSES:].mean(axis=1), color="tab:blue", label="healthy synapses (mean)")
    ax.plot(time_s, probability[:, :FAULTY_SYNAPSES].mean(axis=1), color="tab:red", label="faulty synapses (mean)")
    ax.set_ylabel("release probability, neuron 1")
    ax.legend(loc="upper left")

    ax = axes[2]
    ax.plot(time_s, np.asarray(repaired.dse[:, 0]), color="tab:gray", label="DSE, neuron 0")
    ax.plot(time_s, np.asarray(repaired.dse[:, 1]), color="tab:blue", label="DSE, neuron 1")
    ax.plot(time_s, np.asarray(repaired.esp), color="tab:green", label="e-SP (shared)")
    ax.set_ylabel("modulation (% of PR(0))")
    ax.set_xlabel("time (s)")
    ax.legend(loc="center right")

    for ax in axes:
        ax.axvline(fault_s, color="black", linestyle="--", linewidth=1)
    fig.suptitle(f"{FAULTY_SYNAPSES} of {SYNAPSES} synapses of neuron 1 stuck at zero from {fault_s:g} s")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def main() -> None:
    args = parse_args()
    duration_ms, fault_ms = args.duration_s * 1000.0, args.fault_s * 1000.0
    circuit = RetrogradeCircuit(epsp=args.epsp, tau_syn=args.tau_syn, input_rate=args.input_rate)
    initial = jnp.full((2, SYNAPSES), args.release)
    faulty = jnp.zeros((2, SYNAPSES), dtype=bool).at[1, :FAULTY_SYNAPSES].set(True)
    key = jax.random.key(args.seed)

    runs = {
        repair: simulate_retrograde(
            circuit, initial, duration_ms, key=key, faulty=faulty, fault_time_ms=fault_ms, repair=repair
        )
        for repair in (True, False)
    }
    summary = {
        "tau_syn_ms": args.tau_syn,
        "epsp": args.epsp,
        "initial_release": args.release,
        "input_rate_hz": args.input_rate,
        "fault_s": args.fault_s,
        "duration_s": args.duration_s,
        "seed": args.seed,
        "with_repair": phase_rates(runs[True], fault_ms, duration_ms),
        "without_astrocyte": phase_rates(runs[False], fault_ms, duration_ms),
    }
    for name in ("with_repair", "without_astrocyte"):
        rates = summary[name]
        rates["late_over_before_neuron1"] = rates["late"][1] / rates["before"][1]

    plot(runs[True], runs[False], args.fault_s, args.out)
    atomic_write_json(args.out.with_suffix(".json"), summary)

    print(f"neuron 1 rate (Hz; higher is better), tau_syn = {args.tau_syn} ms, EPSP peak {args.epsp}")
    print(f"{'':<20}{'before':>8}{'0-3 s after':>13}{'late':>8}{'late/before':>13}")
    for name in ("with_repair", "without_astrocyte"):
        rates = summary[name]
        print(
            f"{name:<20}{rates['before'][1]:>8.2f}{rates['just_after'][1]:>13.2f}{rates['late'][1]:>8.2f}"
            f"{rates['late_over_before_neuron1']:>13.3f}"
        )
    print(f"figure written to {args.out}, summary to {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
