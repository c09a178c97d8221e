"""Retrograde astrocyte repair after 70 % of one neuron's synapses fail (Wade et al. 2012).

Two LIF neurons share one astrocyte. Each has `--synapses` synapses with
initial release probability 0.3, each fed by its own 20 Hz Poisson train. At
`--fault-s`, the first 70 % of the synapses of neuron 1 get stuck at zero. Each
seed is run twice with the same key: with retrograde modulation and without it
(release probabilities fixed at 0.3). Writes a figure of firing rate, release
probability and DSE/e-SP against time for the first seed, and a JSON summary,
and prints neuron 1's rates before the fault, in the first second after it and
late, for every seed.

The summary also contains the linear-loop prediction of the late / before ratio,
s (1 + g) / (1 + s g). Here s is the healthy fraction of the synapses (0.3),
g = k * nu_0 / 100 the loop gain, k = 8 % per Hz the steady DSE per Hz and nu_0
the rate without the astrocyte before the fault (see the module docstring of
`lifa_jax.repair.retrograde`). The default of 80 synapses per neuron is the
synapse count of the parameter sweep in the code of Han, Islam & Sengupta (AAAI
2023). With `--synapses 10` the loop gain is too low for the rate to come back
close to its pre-fault value.

Run: `.venv/bin/python experiments/retrograde_repair.py runs/retrograde.png [--synapses 80] [--seeds 0 1 2]`
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

FAULTY_FRACTION = 0.7


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path, help="figure path (PNG); the summary goes beside it as .json")
    parser.add_argument("--synapses", type=int, default=80, help="synapses per neuron (at least 2)")
    parser.add_argument("--duration-s", type=float, default=400.0, help="simulated time (s, whole seconds)")
    parser.add_argument("--fault-s", type=float, default=200.0, help="time at which the synapses fail (s)")
    parser.add_argument("--tau-syn", type=float, default=5.0, help="synaptic current time constant (ms)")
    parser.add_argument("--epsp", type=float, default=0.8, help="peak EPSP of one release (threshold units)")
    parser.add_argument("--release", type=float, default=0.3, help="initial release probability of every synapse")
    parser.add_argument("--input-rate", type=float, default=20.0, help="presynaptic Poisson rate per synapse (Hz)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="PRNG seeds, one pair of runs each")
    args = parser.parse_args()
    if args.synapses < 2:
        parser.error(f"--synapses={args.synapses} must be at least 2, so that neuron 1 keeps a healthy synapse")
    if not 0.0 < args.fault_s < args.duration_s:
        parser.error(f"--fault-s={args.fault_s} must lie inside the run (0, {args.duration_s}) s")
    if args.duration_s != int(args.duration_s):
        parser.error(f"--duration-s={args.duration_s} must be a whole number of seconds")
    if not 0.0 <= args.release <= 1.0:
        parser.error(f"--release={args.release} must lie in [0, 1]")
    try:
        args.circuit = RetrogradeCircuit(epsp=args.epsp, tau_syn=args.tau_syn, input_rate=args.input_rate)
    except ValueError as error:
        parser.error(str(error))
    return args


def phase_rates(result, fault_ms: float, duration_ms: float) -> dict:
    """Neuron rates (Hz) in the 25 s before the fault, the first second after it and the last half after it."""
    late_start = fault_ms + 0.5 * (duration_ms - fault_ms)
    windows = {
        "before": (fault_ms - 25_000.0, fault_ms),
        "first_second": (fault_ms, fault_ms + 1_000.0),
        "late": (late_start, duration_ms),
    }
    rates = {name: np.asarray(result.window_rate(*window)).tolist() for name, window in windows.items()}
    rates["late_over_before_neuron1"] = rates["late"][1] / rates["before"][1]
    return rates


def smooth(values: np.ndarray, width: int = 5) -> np.ndarray:
    """Moving average over `width` bins (edges use the bins available)."""
    kernel = np.ones(width)
    return np.convolve(values, kernel, mode="same") / np.convolve(np.ones_like(values), kernel, mode="same")


def plot(repaired, plain, n_faulty: int, fault_s: float, path: pathlib.Path) -> None:
    time_s = np.asarray(repaired.time) / 1000.0
    fig, axes = plt.subplots(3, 1, figsize=(9, 9), sharex=True)

    ax = axes[0]
    ax.plot(time_s, smooth(np.asarray(repaired.rate[:, 0])), color="tab:gray", label="neuron 0 (healthy)")
    ax.plot(time_s, smooth(np.asarray(repaired.rate[:, 1])), color="tab:blue", label="neuron 1, with repair")
    ax.plot(time_s, smooth(np.asarray(plain.rate[:, 1])), color="tab:red", label="neuron 1, without astrocyte")
    ax.set_yscale("log")
    ax.set_ylabel("firing rate (Hz, 5 s average)")
    ax.legend(loc="lower left")

    ax = axes[1]
    probability = np.asarray(repaired.release_probability[:, 1])
    # Healthy synapses are drawn last, so they stay visible where both curves coincide before the fault.
    ax.plot(time_s, probability[:, :n_faulty].mean(axis=1), color="tab:red", label="faulty synapses (mean)")
    ax.plot(time_s, probability[:, n_faulty:].mean(axis=1), color="tab:blue", label="healthy synapses (mean)")
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
    synapses = probability.shape[1]
    fig.suptitle(f"{n_faulty} of {synapses} synapses of neuron 1 stuck at zero from {fault_s:g} s")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def linear_loop_prediction(circuit: RetrogradeCircuit, open_loop_rate: float, surviving: float) -> dict:
    """Loop gain g = k nu_0 / 100 and the late / before ratio s (1 + g) / (1 + s g) it predicts.

    `surviving` is s, the fraction of neuron 1's synapses left healthy (all start at the same PR(0)).
    """
    dse_per_hz = float(circuit.astrocyte.steady_dse_per_hz())
    gain = -dse_per_hz * open_loop_rate / 100.0
    return {
        "steady_dse_per_hz": dse_per_hz,
        "esp_plateau": float(circuit.astrocyte.esp_plateau()),
        "open_loop_rate_hz": open_loop_rate,
        "surviving_fraction": surviving,
        "loop_gain": gain,
        "predicted_late_over_before": surviving * (1.0 + gain) / (1.0 + surviving * gain),
    }


def main() -> None:
    args = parse_args()
    duration_ms, fault_ms = args.duration_s * 1000.0, args.fault_s * 1000.0
    n_faulty = round(FAULTY_FRACTION * args.synapses)
    initial = jnp.full((2, args.synapses), args.release)
    faulty = jnp.zeros((2, args.synapses), dtype=bool).at[1, :n_faulty].set(True)

    summary = {
        "synapses": args.synapses,
        "faulty_synapses": n_faulty,
        "tau_syn_ms": args.tau_syn,
        "epsp": args.epsp,
        "initial_release": args.release,
        "input_rate_hz": args.input_rate,
        "fault_s": args.fault_s,
        "duration_s": args.duration_s,
        "seeds": {},
    }
    for index, seed in enumerate(args.seeds):
        key = jax.random.key(seed)
        runs = {
            repair: simulate_retrograde(
                args.circuit, initial, duration_ms, key=key, faulty=faulty, fault_time_ms=fault_ms, repair=repair
            )
            for repair in (True, False)
        }
        summary["seeds"][str(seed)] = {
            "with_repair": phase_rates(runs[True], fault_ms, duration_ms),
            "without_astrocyte": phase_rates(runs[False], fault_ms, duration_ms),
        }
        if index == 0:
            plot(runs[True], runs[False], n_faulty, args.fault_s, args.out)

    ratios = [seed["with_repair"]["late_over_before_neuron1"] for seed in summary["seeds"].values()]
    open_loop = np.mean([seed["without_astrocyte"]["before"][1] for seed in summary["seeds"].values()])
    summary["late_over_before_neuron1"] = {"mean": float(np.mean(ratios)), "min": min(ratios), "max": max(ratios)}
    surviving = 1.0 - n_faulty / args.synapses
    summary["linear_loop"] = linear_loop_prediction(args.circuit, float(open_loop), surviving)
    atomic_write_json(args.out.with_suffix(".json"), summary)

    print(
        f"neuron 1 rate (Hz), {args.synapses} synapses at {args.input_rate:g} Hz, PR(0) = {args.release}, "
        f"tau_syn = {args.tau_syn} ms, EPSP peak {args.epsp}"
    )
    print(f"{'seed':<6}{'run':<20}{'before':>8}{'0-1 s after':>13}{'late':>8}{'late/before':>13}")
    for seed, runs in summary["seeds"].items():
        for name, rates in runs.items():
            print(
                f"{seed:<6}{name:<20}{rates['before'][1]:>8.2f}{rates['first_second'][1]:>13.2f}"
                f"{rates['late'][1]:>8.2f}{rates['late_over_before_neuron1']:>13.3f}"
            )
    loop = summary["linear_loop"]
    print(
        f"with repair, late/before over {len(ratios)} seed(s): mean {np.mean(ratios):.3f}, "
        f"min {min(ratios):.3f}, max {max(ratios):.3f}"
    )
    print(
        f"linear loop: g = {loop['loop_gain']:.1f} from {loop['open_loop_rate_hz']:.1f} Hz without astrocyte, "
        f"predicted late/before {loop['predicted_late_over_before']:.3f}"
    )
    print(f"figure written to {args.out}, summary to {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
