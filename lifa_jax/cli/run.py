"""`lifa run`: train (or load) a LIFA network, sweep faults, write a report."""

import argparse
import pathlib
import sys
import time

from .common import (
    DefaultsHelpFormatter,
    UserError,
    default_out_dir,
    input_paths,
    parse_fault_specs,
    parse_float_list,
    parse_int_list,
    staged_output,
)

# Settings that --quick changes, unless the option is given explicitly.
FULL = {"epochs": 30, "masks": 100, "rates": "0,0.05,0.1,0.2,0.3,0.5", "repair_passes": 20}
QUICK = {"epochs": 12, "masks": 8, "rates": "0,0.1,0.3", "repair_passes": 10}


def register(subparsers) -> None:
    """Add the `run` subcommand."""
    p = subparsers.add_parser(
        "run",
        help="train a LIFA network, sweep faults with and without astrocyte repair, write a report",
        description=(
            "Train a spiking network with LIFA astrocytes (or load one with --checkpoint), evaluate it under "
            "neuron and synapse faults with and without homeostatic astrocyte repair, and write summary.json, "
            "report.md, plots and the model checkpoint into --out."
        ),
        formatter_class=DefaultsHelpFormatter,
    )
    data = p.add_argument_group("data")
    data.add_argument(
        "--dataset",
        choices=("digits", "mnist", "fashion-mnist", "cifar100"),
        default="digits",
        help="data set; digits is bundled with scikit-learn, the others are read from --data-path",
    )
    data.add_argument(
        "--data-path",
        type=pathlib.Path,
        default=None,
        help="folder with MNIST IDX files or the CIFAR-100 python folder or archive",
    )
    data.add_argument("--max-train", type=int, default=None, help="use only the first N training samples")
    data.add_argument("--max-test", type=int, default=None, help="use only the first N test samples")

    model = p.add_argument_group("model")
    model.add_argument(
        "--topology",
        type=str,
        default=None,
        help="layer sizes, input first, e.g. 64,128,10 (default: inputs,128,classes)",
    )
    model.add_argument("--steps", type=int, default=20, help="simulation steps per sample, T")
    model.add_argument("--dt", type=float, default=1.0, help="time step (ms)")
    model.add_argument("--tau-n", type=float, default=20.0, help="neuron membrane time constant (ms)")
    model.add_argument("--t-ref", type=float, default=2.0, help="neuron refractory period (ms)")
    model.add_argument("--reset", choices=("zero", "subtract"), default="zero", help="membrane reset rule")
    model.add_argument("--tau-c", type=float, default=2000.0, help="astrocyte calcium time constant (ms)")
    model.add_argument("--tau-g", type=float, default=1000.0, help="gliotransmitter time constant (ms)")
    model.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="gliotransmitter gain on postsynaptic activation (0 switches astrocyte coupling off)",
    )
    model.add_argument("--domain-size", type=int, default=16, help="neurons per astrocyte (contiguous domains)")
    model.add_argument(
        "--encoder",
        choices=("regular", "poisson"),
        default="regular",
        help="input coding: evenly spaced (deterministic) or Poisson spikes",
    )
    model.add_argument("--max-rate", type=float, default=500.0, help="input rate of a pixel at full intensity (Hz)")

    training = p.add_argument_group("training")
    training.add_argument(
        "--checkpoint", type=pathlib.Path, default=None, help="load this model.eqx instead of training"
    )
    training.add_argument(
        "--epochs", type=int, default=argparse.SUPPRESS, help="training epochs (default 30, 12 with --quick)"
    )
    training.add_argument("--batch-size", type=int, default=64, help="samples per update")
    training.add_argument("--learning-rate", type=float, default=0.05, help="Adam step size")
    training.add_argument(
        "--surrogate",
        choices=("fast_sigmoid", "arctan", "triangle", "sigmoid"),
        default="fast_sigmoid",
        help="surrogate gradient of the spike function",
    )

    sweep = p.add_argument_group("fault sweep")
    sweep.add_argument(
        "--faults",
        type=str,
        default="neuron_dead,synapse_dead",
        help="comma-separated fault kinds, e.g. neuron_dead (hidden neurons never spike), synapse_dead (weights "
        "stuck at 0); KIND+KIND draws several kinds in one mask, KIND@RATE keeps a kind's rate fixed "
        "(neuron_dead+astrocyte_dead@0.5)",
    )
    sweep.add_argument(
        "--rates",
        type=str,
        default=argparse.SUPPRESS,
        help="fault rates, fractions of units in [0, 1] (default 0,0.05,0.1,0.2,0.3,0.5; 0,0.1,0.3 with --quick)",
    )
    sweep.add_argument(
        "--masks",
        type=int,
        default=argparse.SUPPRESS,
        help="fault masks per kind and rate (default 100, 8 with --quick)",
    )
    sweep.add_argument("--chunk-size", type=int, default=25, help="masks evaluated together (bounds memory)")
    sweep.add_argument(
        "--repair-samples",
        type=int,
        default=128,
        help="unlabelled training samples on which repair measures set-points and adapts",
    )
    sweep.add_argument(
        "--repair-passes",
        type=int,
        default=argparse.SUPPRESS,
        help="adaptation passes of astrocyte repair (default 20, 10 with --quick)",
    )

    p.add_argument("--seed", type=int, default=0, help="seed of the JAX PRNG key for everything random")
    p.add_argument("--out", type=pathlib.Path, default=None, help="results folder (default: runs/run-<timestamp>)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an --out folder of earlier results (one with summary.json, campaign.json or fitted.json)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 12 epochs, 8 masks, rates 0,0.1,0.3 (about a minute on 2 cores)",
    )
    p.set_defaults(func=run)


def config_from_args(args):
    """Return the validated `RunConfig` for parsed arguments; raise `UserError` if invalid."""
    from ..pipeline import RunConfig

    preset = QUICK if args.quick else FULL
    for name, value in preset.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    fields = {
        "dataset": args.dataset,
        "data_path": None if args.data_path is None else str(args.data_path),
        "topology": None if args.topology is None else tuple(parse_int_list(args.topology, "--topology")),
        "steps": args.steps,
        "dt": args.dt,
        "tau_n": args.tau_n,
        "t_ref": args.t_ref,
        "reset": args.reset,
        "tau_c": args.tau_c,
        "tau_g": args.tau_g,
        "alpha": args.alpha,
        "domain_size": args.domain_size,
        "encoder": args.encoder,
        "max_rate": args.max_rate,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "surrogate": args.surrogate,
        "faults": parse_fault_specs(args.faults, "--faults"),
        "rates": tuple(parse_float_list(args.rates, "--rates")),
        "masks": args.masks,
        "chunk_size": args.chunk_size,
        "repair_passes": args.repair_passes,
        "repair_samples": args.repair_samples,
        "max_train": args.max_train,
        "max_test": args.max_test,
        "seed": args.seed,
    }
    for name in ("max_train", "max_test"):
        if fields[name] is not None and fields[name] < 1:
            raise UserError(
                f"--{name.replace('_', '-')} must be at least 1, got {fields[name]}; omit it to use all samples."
            )
    if args.dataset == "digits" and args.data_path is not None:
        raise UserError("--data-path is not used with --dataset digits (bundled with scikit-learn); drop it.")
    if args.dataset != "digits" and args.data_path is None:
        raise UserError(f"--dataset {args.dataset} needs --data-path pointing at the downloaded files.")
    config = RunConfig(**fields)
    try:
        config.validate()
    except ValueError as error:
        raise UserError(str(error)) from None
    return config


def run(args) -> int:
    """Execute `lifa run`."""
    config = config_from_args(args)
    out = args.out or default_out_dir("run")

    with staged_output(out, overwrite=args.overwrite, inputs=input_paths(args)) as staging:
        code = _run_in(config, args, staging, out)
    return code


def _run_in(config, args, staging: pathlib.Path, out: pathlib.Path) -> int:
    import jax
    from tqdm import tqdm

    from .. import pipeline
    from ..data import DataFormatError
    from ..io import CheckpointError, atomic_write_json, atomic_write_text, load_checkpoint, save_checkpoint
    from ..io.plots import plot_ft_vs_rate, plot_raster, plot_training
    from ..io.report import render_report
    from ..network import simulate

    started = time.perf_counter()
    try:
        data = pipeline.prepare_data(config)
        topology = pipeline.resolve_topology(config, data)
        if args.checkpoint is None:
            pipeline.check_training_data(config, data)
    except (DataFormatError, FileNotFoundError, ValueError) as error:
        raise UserError(str(error)) from None

    network = None
    if args.checkpoint is not None:
        try:
            network, _ = load_checkpoint(args.checkpoint)
        except CheckpointError as error:
            raise UserError(str(error)) from None
        ends_match = (network.topology[0], network.topology[-1]) == (data.n_features, data.n_classes)
        if args.topology is None and ends_match:
            # Without --topology, the checkpoint's hidden layers are taken as they are.
            topology = tuple(network.topology)
        if list(network.topology) != list(topology):
            expected = (
                f"--topology {','.join(map(str, topology))}"
                if args.topology is not None
                else (f"the {data.name} data ({data.n_features} inputs, {data.n_classes} classes)")
            )
            raise UserError(
                f"checkpoint {str(args.checkpoint)!r} has topology {list(network.topology)}, which does not match "
                f"{expected}; pass a checkpoint that matches, or drop --checkpoint to train one."
            )
        if network.dt != config.dt:
            raise UserError(
                f"checkpoint was trained with dt={network.dt} ms, not --dt {config.dt}; pass --dt {network.dt}."
            )
    print(f"lifa run: {data.describe()}; topology {'-'.join(map(str, topology))}", file=sys.stderr)

    epochs = None if network is not None else tqdm(total=config.epochs, desc="training", unit="epoch", file=sys.stderr)
    n_sweeps = len(config.faults) * len(config.rates)
    bars = {}

    def on_epoch(epoch, metrics):
        epochs.set_postfix(loss=f"{metrics['loss']:.3f}", acc=f"{metrics['accuracy']:.3f}")
        epochs.update(1)
        if epoch == config.epochs - 1:
            epochs.close()
            print("compiling the fault sweep (about a minute per fault kind)...", file=sys.stderr)

    def on_sweep(done, total):
        if "sweep" not in bars:
            bars["sweep"] = tqdm(total=n_sweeps, desc="fault sweep", unit="kind x rate", file=sys.stderr)
        bars["sweep"].update(1)

    try:
        result = pipeline.run_main_job(config, network=network, data=data, on_epoch=on_epoch, on_sweep=on_sweep)
    except pipeline.UndefinedBaselineError as error:
        raise UserError(str(error)) from None
    finally:
        for bar in (epochs, bars.get("sweep")):
            if bar is not None:
                bar.close()
    summary, network = result["summary"], result["network"]
    summary["timings_s"]["total"] = time.perf_counter() - started
    summary["out"] = str(out)

    save_checkpoint(
        staging / "model.eqx",
        network,
        {"config": summary["config"], "accuracy_fault_free": summary["accuracy_fault_free"]},
    )
    atomic_write_json(staging / "summary.json", summary)
    atomic_write_json(
        staging / "masks.json", [{"fault": r["fault"], "rate": r["rate"], **r["per_mask"]} for r in result["records"]]
    )
    atomic_write_text(staging / "report.md", render_report(summary))
    plot_ft_vs_rate(summary["sweep"], staging / "ft_vs_rate.png")
    if result["history"] is not None:
        plot_training(result["history"], staging / "training.png")

    trace_steps = max(config.steps, 300)
    sample = pipeline.make_encoder(config)(result["data"].x_test[0], trace_steps, key=jax.random.key(config.seed))
    trace = simulate(network, sample, record=True).trace
    plot_raster(
        trace,
        staging / "raster.png",
        dt=config.dt,
        title=f"test sample 0 (label {int(result['data'].y_test[0])}) presented for {trace_steps * config.dt:g} ms",
    )

    _print_summary(summary)
    return 0


def _print_summary(summary: dict) -> None:
    print(f"fault-free accuracy: {summary['accuracy_fault_free']:.4f} (higher is better)")
    # The fault column fits the longest name, such as a combination of kinds.
    width = max([14] + [len(r["fault"]) + 2 for r in summary["sweep"]])
    print(
        f"{'fault':<{width}}{'rate':>6}{'acc no repair':>15}{'acc repair':>12}{'FT no rep %':>13}{'FT rep %':>10}"
        f"{'R %':>8}"
    )
    for r in summary["sweep"]:
        rec = r["recovery"]["mean"]
        rec_text = "n/a" if rec is None else f"{rec:.1f}"
        print(
            f"{r['fault']:<{width}}{r['rate']:>6g}{r['accuracy_no_repair']['mean']:>15.4f}"
            f"{r['accuracy_repair']['mean']:>12.4f}{r['ft_no_repair']['mean']:>13.2f}"
            f"{r['ft_repair']['mean']:>10.2f}{rec_text:>8}"
        )
    print("FT and R: higher is better.")
    print("timings (s): " + ", ".join(f"{name} {value:.1f}" for name, value in summary["timings_s"].items()))


__all__ = ["register", "run", "config_from_args"]
