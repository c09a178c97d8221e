"""`lifa memory`: associative-memory study (capacity, fewer connections, faults, cost)."""

import os
import sys
import time

from .common import (
    DefaultsHelpFormatter,
    UserError,
    add_output_arguments,
    default_out_dir,
    input_paths,
    parse_float_list,
    parse_int_list,
    staged_output,
)

# Settings that --quick changes, unless the option is given explicitly.
FULL = {
    "n": 500,
    "loads": "0.02,0.04,0.06,0.08,0.1,0.12,0.14,0.16,0.18,0.2,0.25,0.3",
    "sizes": "16,32,64,128,256",
    "trials": 8,
    "cues": 16,
    "keep": "1,0.8,0.6,0.4,0.3,0.2,0.1,0.05",
    "dense_n": 64,
    "fault_n": 100,
    "neuron_rates": "0,0.1,0.2,0.3,0.4",
    "synapse_rates": "0,0.2,0.4,0.6,0.8",
    "masks": 8,
    "repair_passes": 10,
}
QUICK = {
    "n": 200,
    "loads": "0.05,0.1,0.15,0.2",
    "sizes": "16,32",
    "trials": 4,
    "cues": 8,
    "keep": "1,0.5,0.2",
    "dense_n": 32,
    "fault_n": 64,
    "neuron_rates": "0,0.3",
    "synapse_rates": "0,0.6",
    "masks": 2,
    "repair_passes": 5,
}


def register(subparsers) -> None:
    """Add the `memory` subcommand."""
    p = subparsers.add_parser(
        "memory",
        help="associative-memory study: capacity, fewer connections, faults with and without astrocytes, cost",
        description=(
            "Measure recall quality against load and the storage capacity of the classical Hopfield network, "
            "capacity against network size for the classical and the neuron-astrocyte (dense) memory, recall "
            "against the fraction of connections kept, recall of a spiking LIF memory under dead neurons and "
            "synapses with and without LIFA astrocyte repair, and the storage and write cost per technology. "
            "Writes summary.json, report.md and plots into --out. Recall quality is in [0, 1], higher is better."
        ),
        formatter_class=DefaultsHelpFormatter,
    )
    classical = p.add_argument_group("classical network")
    classical.add_argument(
        "--n", type=int, default=None, help="neurons of the classical network (default 500, 200 with --quick)"
    )
    classical.add_argument(
        "--loads",
        type=str,
        default=None,
        help="loads K/N of the quality curve, comma-separated in (0, 1] (default 0.02 to 0.3)",
    )
    classical.add_argument("--cue-noise", type=float, default=0.05, help="fraction of cue bits flipped, in [0, 1]")
    classical.add_argument("--trials", type=int, default=None, help="trials per load (default 8, 4 with --quick)")
    classical.add_argument("--cues", type=int, default=None, help="cues per trial (default 16, 8 with --quick)")

    scaling = p.add_argument_group("capacity against size")
    scaling.add_argument(
        "--sizes", type=str, default=None, help="network sizes N, comma-separated (default 16,32,64,128,256)"
    )

    dilution = p.add_argument_group("fewer connections")
    dilution.add_argument(
        "--keep", type=str, default=None, help="fractions of connections kept, comma-separated in [0, 1]"
    )
    dilution.add_argument(
        "--dilution-load", type=float, default=0.05, help="load K/N of the classical network when diluted"
    )
    dilution.add_argument(
        "--dense-n", type=int, default=None, help="neurons of the neuron-astrocyte memory when diluted (default 64)"
    )
    dilution.add_argument(
        "--dense-load", type=float, default=2.0, help="load K/N of the neuron-astrocyte memory when diluted"
    )

    faults = p.add_argument_group("spiking memory under faults")
    faults.add_argument("--fault-n", type=int, default=None, help="LIF neurons of the spiking memory (default 100)")
    faults.add_argument("--fault-patterns", type=int, default=5, help="patterns stored in the spiking memory")
    faults.add_argument(
        "--neuron-rates", type=str, default=None, help="dead-neuron rates, fractions in [0, 1] (default 0 to 0.4)"
    )
    faults.add_argument(
        "--synapse-rates", type=str, default=None, help="dead-synapse rates, fractions in [0, 1] (default 0 to 0.8)"
    )
    faults.add_argument("--masks", type=int, default=None, help="fault masks per kind and rate (default 8)")
    faults.add_argument(
        "--repair-passes", type=int, default=None, help="adaptation passes of astrocyte repair (default 10)"
    )

    p.add_argument("--bits", type=int, default=8, help="weight width in bits for the storage cost")
    p.add_argument(
        "--no-ode-check",
        action="store_true",
        help="skip comparing the neuron-astrocyte ODE with its dense reduction (always skipped with --quick)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the JAX PRNG key for everything random")
    add_output_arguments(p, "memory")
    p.set_defaults(func=run)


def config_from_args(args):
    """Return the validated `MemoryStudyConfig` for parsed arguments; raise `UserError` if invalid."""
    from ..memory.study import MemoryStudyConfig

    preset = QUICK if args.quick else FULL
    for name, value in preset.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    for name in ("n", "trials", "cues", "dense_n", "fault_n", "fault_patterns", "masks", "repair_passes", "bits"):
        if getattr(args, name) < 1:
            flag = "--" + name.replace("_", "-")
            raise UserError(f"{flag} must be at least 1, got {getattr(args, name)}; pass a positive integer.")
    fields = {
        "n_neurons": args.n,
        "loads": tuple(parse_float_list(args.loads, "--loads")),
        "sizes": tuple(parse_int_list(args.sizes, "--sizes")),
        "cue_noise": args.cue_noise,
        "n_trials": args.trials,
        "n_cues": args.cues,
        "keep": tuple(parse_float_list(args.keep, "--keep")),
        "dilution_load": args.dilution_load,
        "dense_n": args.dense_n,
        "dense_load": args.dense_load,
        "fault_n": args.fault_n,
        "fault_patterns": args.fault_patterns,
        "neuron_rates": tuple(parse_float_list(args.neuron_rates, "--neuron-rates")),
        "synapse_rates": tuple(parse_float_list(args.synapse_rates, "--synapse-rates")),
        "n_masks": args.masks,
        "repair_passes": args.repair_passes,
        "bits": args.bits,
        "ode_check": not (args.quick or args.no_ode_check),
        "seed": args.seed,
    }
    try:
        return MemoryStudyConfig(**fields)
    except ValueError as error:
        raise UserError(_as_flags(str(error))) from None


def _as_flags(message: str) -> str:
    """Name the command-line flags in a configuration error message."""
    renames = {
        "n_neurons": "--n",
        "n_trials": "--trials",
        "n_cues": "--cues",
        "n_masks": "--masks",
        "neuron_rates": "--neuron-rates",
        "synapse_rates": "--synapse-rates",
        "fault_patterns": "--fault-patterns",
        "fault_n": "--fault-n",
        "dense_n": "--dense-n",
        "dense_load": "--dense-load",
        "dilution_load": "--dilution-load",
        "cue_noise": "--cue-noise",
        "repair_passes": "--repair-passes",
        "loads": "--loads",
        "sizes": "--sizes",
        "keep": "--keep",
        "bits": "--bits",
    }
    first, _, rest = message.partition(" ")
    return f"{renames.get(first, first)} {rest}"


def run(args) -> int:
    """Execute `lifa memory`."""
    config = config_from_args(args)
    out = args.out or default_out_dir("memory")
    if args.quick and "XLA_FLAGS" not in os.environ:
        # A quick run is dominated by compiling about ten programs. Without XLA's
        # backend optimisations a cold --quick run took 39 s instead of 68 s on a
        # shared 2-core machine, with identical results. The flag takes effect only
        # if no JAX computation has run yet in this process.
        os.environ["XLA_FLAGS"] = "--xla_backend_optimization_level=0"

    with staged_output(out, overwrite=args.overwrite, inputs=input_paths(args)) as staging:
        _run_in(config, staging, out)
    return 0


def _run_in(config, staging, out) -> None:
    from tqdm import tqdm

    from ..io import atomic_write_json, atomic_write_text
    from ..memory.report import PLOTS, render_report
    from ..memory.study import count_stages, run_study

    started = time.perf_counter()
    with tqdm(total=count_stages(config), desc="memory study", unit="stage", file=sys.stderr) as bar:
        stages_started = []

        def progress(message: str) -> None:
            # Each message opens a stage, so the one before it has finished.
            if stages_started:
                bar.update(1)
            stages_started.append(message)
            bar.set_postfix_str(message)

        summary = run_study(config, progress)
        bar.update(1)
    summary["elapsed_s"] = time.perf_counter() - started
    summary["out"] = str(out)

    atomic_write_json(staging / "summary.json", summary)
    atomic_write_text(staging / "report.md", render_report(summary))
    for name, plot in PLOTS.items():
        plot(summary, staging / name)
    _print_summary(summary)


def _print_summary(summary: dict) -> None:
    record = summary["quality_vs_load"]
    interpolated = record["load_interpolated"]
    crossing = "n/a" if interpolated is None else f"{interpolated:.3f}"
    print(
        f"classical N={record['n_neurons']}: capacity K/N = {record['load']:.3f} "
        f"(interpolated {crossing}; 0.138 for N to infinity)"
    )
    scaling = summary["capacity_vs_size"]
    for name, label in (("fit_classical", "classical"), ("fit_dense", "neuron-astrocyte")):
        fit = scaling[name]
        if fit is not None:
            print(f"{label}: capacity K ~ {fit['prefactor']:.3g} N^{fit['exponent']:.2f}")
    for r in summary["faults"]["records"]:
        print(
            f"{r['fault']:<13} rate {r['rate']:<5g} quality no repair {r['quality_no_repair']['mean']:.3f}, "
            f"repair {r['quality_repair']['mean']:.3f} (fault-free {r['quality_fault_free']:.3f}; higher is better)"
        )
    print(f"elapsed {summary['elapsed_s']:.1f} s")


__all__ = ["register", "run", "config_from_args"]
