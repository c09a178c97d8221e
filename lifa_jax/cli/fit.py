"""`lifa fit`: fit LIFA circuit parameters to recorded traces."""

import argparse
import csv
import io
import pathlib
import sys

import numpy as np

from .common import DefaultsHelpFormatter, UserError, add_output_arguments, default_out_dir, input_paths, staged_output

TRACE_COLUMNS = ("membrane", "calcium", "gliotransmitter")
DRIVE_COLUMNS = ("i_syn", "i_ext", "domain_rate", "release_rate")
# Rates are given in Hz on the command line and in files; the model takes events per ms.
RATE_COLUMNS = ("domain_rate", "release_rate")
# Parameters that `--set` may change beyond the fittable ones (refractory periods, ms).
FIXED_ONLY = {"t_ref": ("neuron", "t_ref"), "t_ref_c": ("astrocyte", "t_ref_c")}
QUICK_ITERATIONS = 100
# Parameters that reach each trace of the smooth model, which has no spikes or releases.
SMOOTH_DEPENDENCIES = {
    "membrane": ("tau_n", "v_rest", "resistance", "p0", "alpha", "tau_g", "delta_g"),
    "calcium": ("tau_c", "c_rest", "kappa_c"),
    "gliotransmitter": ("tau_g", "delta_g"),
}


def register(subparsers) -> None:
    """Add the `fit` subcommand."""
    p = subparsers.add_parser(
        "fit",
        help="fit LIFA circuit parameters (tau_c, tau_g, alpha, ...) to recorded traces",
        description=(
            "Fit parameters of one neuron-astrocyte-gliotransmitter circuit to recorded traces with Optax. "
            "TRACES is a CSV file with a header (or an NPZ file with arrays of the same names): column t (ms), "
            "at least one of membrane, calcium, gliotransmitter (dimensionless), and optionally the inputs "
            "i_syn, i_ext (current, units of v_th / R), domain_rate and release_rate (Hz), which are "
            "interpolated linearly. Writes fitted.json, loss.csv and fit.png into --out."
        ),
        formatter_class=DefaultsHelpFormatter,
    )

    p.add_argument("traces", type=pathlib.Path, help="CSV or NPZ file with the traces and inputs")
    p.add_argument(
        "--params",
        required=True,
        help="comma-separated parameters to fit, e.g. tau_c,kappa_c,tau_g,delta_g",
    )
    p.add_argument(
        "--set",
        dest="values",
        default="",
        help=(
            "comma-separated NAME=VALUE pairs: starting values of fitted parameters and fixed values of the "
            "others (times in ms), e.g. tau_c=1500,t_ref=2"
        ),
    )
    p.add_argument(
        "--method",
        choices=("smooth", "stepper"),
        default="smooth",
        help=(
            "smooth: Diffrax solve without spikes or releases (subthreshold membrane, calcium driven by "
            "domain_rate, gliotransmitter driven by release_rate); stepper: the network's discrete steps, "
            "spikes and releases included"
        ),
    )

    p.add_argument("--dt", type=float, default=1.0, help="step of --method stepper (ms); every t must be a multiple")
    p.add_argument("--i-syn", type=float, default=None, help="constant synaptic current, if no i_syn column")
    p.add_argument("--i-ext", type=float, default=None, help="constant external current, if no i_ext column")
    p.add_argument("--domain-rate", type=float, default=None, help="constant domain spike rate (Hz), if no column")
    p.add_argument("--release-rate", type=float, default=None, help="constant release rate (Hz), if no column")

    p.add_argument(
        "--iterations",
        type=int,
        default=argparse.SUPPRESS,
        help=f"optimiser iterations (default 500, {QUICK_ITERATIONS} with --quick)",
    )
    p.add_argument("--learning-rate", type=float, default=0.1, help="initial Adam step size, cosine-decayed to 0")

    add_output_arguments(p, "fit")
    p.set_defaults(func=run)


def run(args) -> int:
    """Execute `lifa fit`."""
    setup = _validated_setup(args)
    out = args.out or default_out_dir("fit")

    with staged_output(out, overwrite=args.overwrite, inputs=input_paths(args)) as staging:
        summary = _fit_in(setup, args, staging)

    for name, entry in summary["parameters"].items():
        print(f"{name}: {entry['initial']:.6g} -> {entry['fitted']:.6g} {entry['unit']}")
    print(f"loss {summary['initial_loss']:.3g} -> {summary['final_loss']:.3g} ({summary['status']})")
    return 0


def read_traces(path: pathlib.Path) -> dict[str, np.ndarray]:
    """Return the columns of a CSV or NPZ trace file as float arrays; raise `UserError` if invalid."""
    if not path.is_file():
        raise UserError(f"trace file {str(path)!r} not found; pass a CSV or NPZ file with a t column.")
    if path.suffix.lower() == ".npz":
        columns = _read_npz(path)
    else:
        columns = _read_csv(path)

    valid = ("t", *TRACE_COLUMNS, *DRIVE_COLUMNS)
    unknown = sorted(set(columns) - set(valid))
    if unknown:
        raise UserError(f"{str(path)!r} has unknown columns {unknown}; valid columns: {', '.join(valid)}.")
    if "t" not in columns:
        raise UserError(f"{str(path)!r} has no t column; add the sample times in ms as column t.")
    if not any(name in columns for name in TRACE_COLUMNS):
        raise UserError(f"{str(path)!r} has no trace to fit; add at least one column of: {', '.join(TRACE_COLUMNS)}.")
    t = columns["t"]
    for name, values in columns.items():
        if values.ndim != 1 or values.shape != t.shape:
            raise UserError(f"column {name} has shape {values.shape}, but t has {t.shape}; give one value per time.")
        if not np.all(np.isfinite(values)):
            raise UserError(f"column {name} contains non-finite values; fill or drop those rows.")
    if t.size < 2:
        raise UserError(f"{str(path)!r} has {t.size} samples; give at least two.")
    if np.any(np.diff(t) <= 0):
        row = int(np.argmax(np.diff(t) <= 0)) + 1
        raise UserError(
            f"t must increase strictly, but sample {row} (t = {t[row]} ms) does not come after t = {t[row - 1]} ms; "
            "sort the rows and drop duplicate times."
        )
    if t[0] < 0:
        raise UserError(f"t starts at {t[0]} ms, before 0; simulations start at rest at t = 0, so shift the times.")
    return columns


def _read_csv(path: pathlib.Path) -> dict[str, np.ndarray]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{str(path)!r} is not a UTF-8 text file; pass a CSV file with a header row.") from None
    rows = [row for row in csv.reader(io.StringIO(text)) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise UserError(f"{str(path)!r} is empty; pass a CSV file with a header row such as t,calcium.")
    header = [cell.strip() for cell in rows[0]]
    if len(set(header)) != len(header):
        raise UserError(f"{str(path)!r} repeats a column name in its header {header}; name each column once.")
    values = np.empty((len(rows) - 1, len(header)))
    for index, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise UserError(f"line {index} of {str(path)!r} has {len(row)} cells, the header has {len(header)}.")
        for column, cell in enumerate(row):
            try:
                values[index - 2, column] = float(cell)
            except ValueError:
                raise UserError(
                    f"line {index} of {str(path)!r}, column {header[column]}: {cell!r} is not a number."
                ) from None
    return {name: values[:, column] for column, name in enumerate(header)}


def _read_npz(path: pathlib.Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: np.asarray(data[name], dtype=float) for name in data.files}
    except (OSError, ValueError) as error:
        raise UserError(f"{str(path)!r} is not a readable NPZ file of numeric arrays ({error}).") from None


def _parse_assignments(text: str) -> dict[str, float]:
    values = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            if not sep:
                raise ValueError
            values[name] = float(value)
        except ValueError:
            raise UserError(f"--set takes NAME=VALUE pairs such as tau_c=1500, got {item!r}.") from None
    return values


def _validated_setup(args) -> dict:
    """Check every input and build the circuit, targets and simulator; raise `UserError` if invalid."""
    from ..dynamics import LIF, LIFA, Gliotransmitter, TripartiteCoupling
    from ..fitting import (
        PARAMETERS,
        CircuitDrive,
        DiscreteStepper,
        DrivenCircuit,
        FitParameters,
        Observable,
        SmoothSolver,
        TraceTarget,
    )

    names = [name.strip() for name in args.params.split(",") if name.strip()]
    if not names:
        raise UserError(f"--params is empty; name parameters to fit, from: {', '.join(PARAMETERS)}.")
    for name in names:
        if name not in PARAMETERS:
            raise UserError(f"--params: unknown parameter {name!r}; valid names: {', '.join(PARAMETERS)}.")
    if len(set(names)) != len(names):
        raise UserError(f"--params lists a parameter twice ({args.params}); list each once.")
    values = _parse_assignments(args.values)
    for name in values:
        if name not in PARAMETERS and name not in FIXED_ONLY:
            valid = ", ".join([*PARAMETERS, *FIXED_ONLY])
            raise UserError(f"--set: unknown parameter {name!r}; valid names: {valid}.")
    iterations = getattr(args, "iterations", QUICK_ITERATIONS if args.quick else 500)
    if iterations < 1:
        raise UserError(f"--iterations must be at least 1, got {iterations}.")
    if not args.learning_rate > 0:
        raise UserError(f"--learning-rate must be positive, got {args.learning_rate}.")
    if args.method == "stepper" and not args.dt > 0:
        raise UserError(f"--dt must be positive, got {args.dt} ms.")

    columns = read_traces(args.traces)
    drive = _drive_from(columns, args, CircuitDrive)

    components = {"neuron": {}, "astrocyte": {}, "gliotransmitter": {}, "coupling": {}}
    for name, value in values.items():
        component, field = (
            FIXED_ONLY[name] if name in FIXED_ONLY else (PARAMETERS[name].component, PARAMETERS[name].field)
        )
        components[component][field] = value
    try:
        circuit = DrivenCircuit(
            neuron=LIF(**components["neuron"]),
            astrocyte=LIFA(**components["astrocyte"]),
            gliotransmitter=Gliotransmitter(**components["gliotransmitter"]),
            coupling=TripartiteCoupling(**components["coupling"]),
            drive=drive,
        )
        targets = [
            TraceTarget(Observable(name), columns["t"], columns[name]) for name in TRACE_COLUMNS if name in columns
        ]
        parameters = FitParameters.from_model(circuit, names)
        simulator = DiscreteStepper(dt=args.dt) if args.method == "stepper" else SmoothSolver()
        simulator.check(targets)
    except ValueError as error:
        raise UserError(str(error)) from None

    if args.method == "smooth":
        observed = [name for name in TRACE_COLUMNS if name in columns]
        reached = {parameter for name in observed for parameter in SMOOTH_DEPENDENCIES[name]}
        for name in names:
            if name not in reached:
                raise UserError(
                    f"--params: {name} does not affect the {', '.join(observed)} traces of the smooth model, "
                    "which has no spikes or releases; drop it, add a trace it affects, or use --method stepper."
                )
    return {
        "names": names,
        "parameters": parameters,
        "circuit": circuit,
        "targets": targets,
        "simulator": simulator,
        "iterations": iterations,
        "columns": columns,
        "values": values,
    }


def _drive_from(columns: dict[str, np.ndarray], args, drive_class):
    import equinox as eqx

    constants = {
        "i_syn": args.i_syn,
        "i_ext": args.i_ext,
        "domain_rate": args.domain_rate,
        "release_rate": args.release_rate,
    }
    samples, fixed = {}, {}
    for name, constant in constants.items():
        option = "--" + name.replace("_", "-")
        if name in columns and constant is not None:
            raise UserError(f"the traces have a {name} column and {option} is given; drop one of them.")
        scale = 1e-3 if name in RATE_COLUMNS else 1.0
        if name in columns:
            samples[name] = columns[name] * scale
        elif constant is not None:
            if name in RATE_COLUMNS and constant < 0:
                raise UserError(f"{option} must be a non-negative rate in Hz, got {constant}.")
            fixed[name] = constant * scale
    for name in RATE_COLUMNS:
        if name in samples and np.any(samples[name] < 0):
            raise UserError(f"column {name} has negative rates; rates are in Hz and must be >= 0.")
    drive = drive_class.from_samples(columns["t"], **samples) if samples else drive_class()
    for name, value in fixed.items():
        drive = eqx.tree_at(lambda d, n=name: getattr(d, n), drive, value)
    return drive


def _fit_in(setup: dict, args, staging: pathlib.Path) -> dict:
    import equinox as eqx
    from tqdm import tqdm

    from ..fitting import PARAMETERS, default_optimizer, fit_circuit
    from ..io import atomic_write_json, atomic_write_text

    simulator = setup["simulator"]
    bar = tqdm(total=setup["iterations"], desc="fitting", unit="iteration", file=sys.stderr, disable=None)

    def progress(iteration, loss):
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3g}")

    try:
        result = fit_circuit(
            setup["circuit"],
            setup["targets"],
            setup["parameters"],
            simulator=simulator,
            optimizer=default_optimizer(setup["iterations"], args.learning_rate),
            max_iterations=setup["iterations"],
            progress=progress,
        )
    finally:
        bar.close()

    summary = {
        "traces": str(args.traces),
        "method": args.method,
        "dt": args.dt if args.method == "stepper" else None,
        "iterations": result.iterations,
        "status": result.status,
        "initial_loss": float(result.losses[0]),
        "final_loss": float(result.losses[-1]),
        "parameters": {
            name: {
                "initial": result.initial_values[name],
                "fitted": result.values[name],
                "unit": PARAMETERS[name].unit,
                "description": PARAMETERS[name].description,
            }
            for name in setup["names"]
        },
        "fixed": {name: value for name, value in setup["values"].items() if name not in setup["names"]},
        "observables": [target.observable.value for target in setup["targets"]],
    }
    atomic_write_json(staging / "fitted.json", summary)
    lines = ["iteration,loss"] + [f"{i},{loss!r}" for i, loss in enumerate(result.losses.tolist())]
    atomic_write_text(staging / "loss.csv", "\n".join(lines) + "\n")

    observe = eqx.filter_jit(simulator.observe)
    initial = observe(setup["circuit"], setup["targets"])
    fitted = observe(result.circuit, setup["targets"])
    _plot_fit(setup["targets"], initial, fitted, result.losses, staging / "fit.png")
    return summary


def _plot_fit(targets, initial, fitted, losses, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(targets) + 1, 1, figsize=(8, 2.6 * (len(targets) + 1)), squeeze=False)
    for ax, target, start, end in zip(axes[:, 0], targets, initial, fitted):
        ts = np.asarray(target.ts)
        ax.plot(ts, np.asarray(target.values), ".", color="black", markersize=3, label="target")
        ax.plot(ts, np.asarray(start), "--", color="tab:gray", label="initial")
        ax.plot(ts, np.asarray(end), "-", color="tab:blue", label="fitted")
        ax.set_xlabel("t (ms)")
        ax.set_ylabel(target.observable.value)
        ax.legend(loc="best")
        ax.grid(alpha=0.3)
    loss_ax = axes[-1, 0]
    loss_ax.semilogy(np.arange(len(losses)), np.maximum(losses, np.finfo(float).tiny), color="tab:red")
    loss_ax.set_xlabel("iteration")
    loss_ax.set_ylabel("loss (normalised MSE), lower is better")
    loss_ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
