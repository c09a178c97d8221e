"""`lifa energy`: energy per inference with the alternative reduce regime (ARR) off, level 1 and level 2."""

import argparse
import dataclasses
import math
import pathlib
import sys
import time

from .common import (
    DefaultsHelpFormatter,
    UserError,
    add_output_arguments,
    default_out_dir,
    input_paths,
    parse_float_list,
    staged_output,
)

SCHEMES = ("unicast", "multicast", "broadcast")
LARGE_TOPOLOGY = (1024, 768, 2048, 512, 100)

# Settings that --quick changes, unless the option is given explicitly.
FULL = {"epochs": 30, "large_samples": 16}
QUICK = {"epochs": 8, "large_samples": 0}


def add_network_arguments(parser: argparse.ArgumentParser, quick_epochs: int) -> None:
    """Add the options that pick the network and its test data (shared by `lifa energy` and `lifa route`)."""
    group = parser.add_argument_group("network and data")
    group.add_argument(
        "--checkpoint",
        type=pathlib.Path,
        default=None,
        help="model.eqx written by 'lifa run'; without it a digits network is trained first",
    )
    group.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=f"training epochs when no --checkpoint is given (default 30, {quick_epochs} with --quick)",
    )
    group.add_argument(
        "--steps",
        type=int,
        default=None,
        help="simulation steps per sample, T (default: the checkpoint's training setting, else 20)",
    )
    group.add_argument("--max-test", type=int, default=None, help="use only the first N test samples")
    group.add_argument("--seed", type=int, default=0, help="seed of the JAX PRNG key for everything random")


def add_mesh_arguments(parser: argparse.ArgumentParser, *, allow_none: bool) -> None:
    """Add `--mesh` and `--n-max`."""
    extra = "; none skips routing" if allow_none else ""
    parser.add_argument(
        "--mesh",
        type=str,
        default="auto",
        help=f"core mesh as WIDTHxHEIGHT, e.g. 4x4; auto picks the smallest square mesh that fits the network{extra}",
    )
    parser.add_argument("--n-max", type=int, default=16, help="neurons per core (each core has one astrocyte)")


@dataclasses.dataclass(frozen=True)
class NetworkSetup:
    """The validated choice of network and data: a checkpoint or a training configuration."""

    config: object  # lifa_jax.pipeline.RunConfig
    checkpoint: pathlib.Path | None
    network: object | None  # the loaded SpikingNetwork, None when it must be trained
    data: object  # lifa_jax.data.Dataset
    topology: tuple[int, ...]


def network_setup(args) -> NetworkSetup:
    """Validate the network options, load the data and the checkpoint; raise `UserError` if invalid.

    This reads only small files (the digits data, the checkpoint), so it runs
    before any output is written.
    """
    from .. import pipeline
    from ..io import CheckpointError, load_checkpoint

    for name in ("epochs", "steps", "max_test"):
        value = getattr(args, name)
        if value is not None and value < 1:
            flag = "--" + name.replace("_", "-")
            raise UserError(f"{flag} must be at least 1, got {value}; pass a positive integer.")

    network, trained_with = None, {}
    if args.checkpoint is not None:
        try:
            network, header = load_checkpoint(args.checkpoint)
        except CheckpointError as error:
            raise UserError(str(error)) from None
        trained_with = header.get("metadata", {}).get("config", {}) or {}
        if trained_with.get("dataset", "digits") != "digits":
            raise UserError(
                f"checkpoint {str(args.checkpoint)!r} was trained on {trained_with['dataset']}; "
                "this command evaluates digits networks, so pass a checkpoint trained on digits."
            )

    settings = {"steps": args.steps or trained_with.get("steps", 20), "epochs": args.epochs, "seed": args.seed}
    for name in ("encoder", "max_rate"):
        if name in trained_with:
            settings[name] = trained_with[name]
    if network is not None:
        settings["dt"] = network.dt
        settings["topology"] = tuple(network.topology)
    try:
        config = pipeline.RunConfig(max_test=args.max_test, **settings)
        config.validate()
        data = pipeline.prepare_data(config)
    except ValueError as error:
        raise UserError(str(error)) from None
    if network is not None and (network.topology[0] != data.n_features or network.topology[-1] != data.n_classes):
        raise UserError(
            f"checkpoint topology {list(network.topology)} does not match the digits data "
            f"({data.n_features} inputs, {data.n_classes} classes); pass a checkpoint trained on digits."
        )
    topology = pipeline.resolve_topology(config, data)
    return NetworkSetup(config, args.checkpoint, network, data, topology)


def parse_mesh(text: str, n_max: int, n_neurons: int, *, allow_none: bool):
    """Return the `Mesh` named by `--mesh` (or None for "none"); raise `UserError` if invalid or too small."""
    from ..routing import Mesh

    if n_max < 1:
        raise UserError(f"--n-max must be at least 1, got {n_max}; pass the neurons one core holds.")
    text = text.strip().lower()
    if allow_none and text == "none":
        return None
    if text == "auto":
        side = math.ceil(math.sqrt(math.ceil(n_neurons / n_max)))
        return Mesh(side, side, n_max=n_max)
    parts = text.split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        choices = "WIDTHxHEIGHT such as 4x4, auto or none" if allow_none else "WIDTHxHEIGHT such as 4x4 or auto"
        raise UserError(f"--mesh must be {choices}, got {text!r}.")
    mesh = Mesh(int(parts[0]), int(parts[1]), n_max=n_max)
    try:
        mesh.check_fits(n_neurons)
    except ValueError as error:
        raise UserError(str(error).replace("n_max", "--n-max")) from None
    return mesh


def train_if_needed(setup: NetworkSetup, *, key):
    """Return `(network, history)`: the loaded network, or a network trained with a progress bar."""
    if setup.network is not None:
        return setup.network, None
    from tqdm import tqdm

    from .. import pipeline

    bar = tqdm(total=setup.config.epochs, desc="training", unit="epoch", file=sys.stderr)

    def on_epoch(epoch, metrics):
        bar.set_postfix(loss=f"{metrics['loss']:.3f}", acc=f"{metrics['accuracy']:.3f}")
        bar.update(1)

    k_init, k_train = key
    try:
        network = pipeline.build_network(setup.config, setup.topology, key=k_init)
        return pipeline.train_network(setup.config, network, setup.data, key=k_train, progress=on_epoch)
    finally:
        bar.close()


def save_trained(setup: NetworkSetup, network, history, path: pathlib.Path) -> None:
    """Write `model.eqx` when the network was trained here, so later commands can load it with --checkpoint."""
    if history is None:
        return
    from ..io import save_checkpoint

    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(setup.config).items()}
    save_checkpoint(path, network, {"config": config, "final_train_accuracy": history["accuracy"][-1]})


def encode_test_set(setup: NetworkSetup, *, key):
    """Return the encoded test samples `(n, steps, inputs)` and their labels."""
    import jax.numpy as jnp

    from .. import pipeline
    from ..training import encode_batch

    encoder = pipeline.make_encoder(setup.config)
    spikes = encode_batch(encoder, jnp.asarray(setup.data.x_test), setup.config.steps, key)
    return spikes, setup.data.y_test


def register(subparsers) -> None:
    """Add the `energy` subcommand."""
    p = subparsers.add_parser(
        "energy",
        help="energy per inference with the alternative reduce regime (ARR) off, level 1 and level 2",
        description=(
            "Count synaptic operations, neuron updates, spikes, astrocyte updates and routed hops of a digits "
            "network (loaded with --checkpoint or trained first) on the test set, price them with a cost table "
            "(pJ per event), and compare ARR off, level 1 (lossless: neurons without input are not updated) and "
            "level 2 (lossy: astrocytes switch their domain off while their calcium is below c_gate). Also sweeps "
            "c_gate and measures an untrained 1024-768-2048-512-100 network on random inputs. Writes "
            "summary.json, report.md and plots into --out."
        ),
        formatter_class=DefaultsHelpFormatter,
    )
    add_network_arguments(p, QUICK["epochs"])

    energy = p.add_argument_group("energy")
    energy.add_argument(
        "--cost-table",
        type=str,
        default="loihi",
        help="per-event energies (pJ): loihi, horowitz-45nm, horowitz-45nm-dram, or a JSON file with the same keys",
    )
    add_mesh_arguments(energy, allow_none=True)
    energy.add_argument("--scheme", choices=SCHEMES, default="multicast", help="how spikes are routed (XY routes)")

    gating = p.add_argument_group("ARR level 2 (domain gating)")
    gating.add_argument(
        "--gate-threshold",
        type=float,
        default=0.05,
        help="calcium threshold c_gate (dimensionless) of level 2 in the comparison; one domain spike adds kappa_c/tau_c",
    )
    gating.add_argument(
        "--gate-thresholds",
        type=str,
        default="0,0.02,0.05,0.08,0.1,0.15,0.2,0.3",
        help="c_gate values of the sweep, comma-separated",
    )
    gating.add_argument(
        "--probe-steps", type=int, default=5, help="steps at the start of a sample during which every domain is on"
    )

    large = p.add_argument_group("untrained 1024-768-2048-512-100 network")
    large.add_argument(
        "--large-samples",
        type=int,
        default=None,
        help="random input samples for the large network (default 16, 0 with --quick; 0 skips it)",
    )
    large.add_argument("--large-rate", type=float, default=50.0, help="firing rate of each random input (Hz)")

    add_output_arguments(p, "energy")
    p.set_defaults(func=run)


@dataclasses.dataclass(frozen=True)
class EnergyOptions:
    """Validated `lifa energy` options."""

    setup: NetworkSetup
    table: object  # CostTable
    mesh: object | None
    large_mesh: object | None
    scheme: str
    c_gate: float
    thresholds: tuple[float, ...]
    probe_steps: int
    large_samples: int
    large_rate: float


def options_from_args(args) -> EnergyOptions:
    """Validate every `lifa energy` option; raise `UserError` naming the first invalid one."""
    from ..energy import load_cost_table

    preset = QUICK if args.quick else FULL
    for name, value in preset.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)

    thresholds = tuple(parse_float_list(args.gate_thresholds, "--gate-thresholds"))
    for flag, values in (("--gate-threshold", [args.gate_threshold]), ("--gate-thresholds", thresholds)):
        bad = [v for v in values if not math.isfinite(v)]
        if bad:
            raise UserError(f"{flag} must be finite calcium levels, got {bad[0]!r}; pass numbers such as 0.05.")
    if args.probe_steps < 0:
        raise UserError(f"--probe-steps must be non-negative, got {args.probe_steps}; pass 0 or more steps.")
    if args.large_samples < 0:
        raise UserError(f"--large-samples must be non-negative, got {args.large_samples}; pass 0 to skip.")
    if not (math.isfinite(args.large_rate) and args.large_rate >= 0):
        raise UserError(f"--large-rate must be a non-negative rate in Hz, got {args.large_rate!r}.")
    try:
        table = load_cost_table(args.cost_table)
    except ValueError as error:
        raise UserError(f"--cost-table: {error}") from None

    setup = network_setup(args)
    if args.large_rate * setup.config.dt / 1000.0 > 1.0:
        raise UserError(
            f"--large-rate {args.large_rate} Hz gives more than one spike per {setup.config.dt} ms step; "
            f"pass at most {1000.0 / setup.config.dt:g} Hz."
        )
    mesh = parse_mesh(args.mesh, args.n_max, sum(setup.topology), allow_none=True)
    large_mesh = None
    if mesh is not None and args.large_samples > 0:
        # The large network gets its own mesh of the same core size.
        large_mesh = parse_mesh("auto", args.n_max, sum(LARGE_TOPOLOGY), allow_none=False)
    return EnergyOptions(
        setup=setup,
        table=table,
        mesh=mesh,
        large_mesh=large_mesh,
        scheme=args.scheme,
        c_gate=args.gate_threshold,
        thresholds=thresholds,
        probe_steps=args.probe_steps,
        large_samples=args.large_samples,
        large_rate=args.large_rate,
    )


def run(args) -> int:
    """Execute `lifa energy`."""
    options = options_from_args(args)
    out = args.out or default_out_dir("energy")

    with staged_output(out, overwrite=args.overwrite, inputs=input_paths(args)) as staging:
        _run_in(options, staging, out)
    return 0


def _scheme(name: str):
    from ..routing import Broadcast, Multicast, Unicast

    return {"unicast": Unicast(), "multicast": Multicast(), "broadcast": Broadcast()}[name]


def _public(record: dict) -> dict:
    """Drop the arrays that summary.json does not keep."""
    return {k: v for k, v in record.items() if k not in ("predictions", "spike_counts")}


def _mesh_summary(mesh) -> dict | None:
    return None if mesh is None else {"width": mesh.width, "height": mesh.height, "n_max": mesh.n_max}


def _run_in(options: EnergyOptions, staging: pathlib.Path, out: pathlib.Path) -> None:
    import jax
    from tqdm import tqdm

    from ..energy import DomainGating
    from ..energy.report import render_report
    from ..energy.study import (
        compare_regimes,
        plot_accuracy_vs_energy,
        plot_energy_components,
        random_input_spikes,
        sweep_domain_gating,
    )
    from ..io import atomic_write_json, atomic_write_text
    from ..network import SpikingNetwork

    started = time.perf_counter()
    timings = {}
    setup = options.setup
    key = jax.random.key(setup.config.seed)
    k_init, k_train, k_test, k_large, k_inputs = jax.random.split(key, 5)
    scheme = _scheme(options.scheme)
    level_two = DomainGating(c_gate=options.c_gate, probe_steps=options.probe_steps)

    start = time.perf_counter()
    network, history = train_if_needed(setup, key=(k_init, k_train))
    timings["training"] = time.perf_counter() - start

    start = time.perf_counter()
    spikes, labels = encode_test_set(setup, key=k_test)
    print("simulating ARR off, level 1 and level 2 (the first run compiles)...", file=sys.stderr)
    digits = compare_regimes(
        network, spikes, options.table, domain_gating=level_two, labels=labels, mesh=options.mesh, scheme=scheme
    )
    with tqdm(total=len(options.thresholds), desc="c_gate sweep", unit="threshold", file=sys.stderr) as bar:
        sweep = sweep_domain_gating(
            network,
            spikes,
            options.thresholds,
            options.table,
            probe_steps=options.probe_steps,
            reference_predictions=digits[0]["predictions"],
            labels=labels,
            mesh=options.mesh,
            scheme=scheme,
            progress=lambda done, total: bar.update(1),
        )
    timings["digits"] = time.perf_counter() - start

    large = None
    if options.large_samples > 0:
        start = time.perf_counter()
        print(f"simulating the untrained {'-'.join(map(str, LARGE_TOPOLOGY))} network...", file=sys.stderr)
        large_network = SpikingNetwork.init(LARGE_TOPOLOGY, key=k_large, dt=network.dt)
        large_spikes = random_input_spikes(
            LARGE_TOPOLOGY[0],
            steps=setup.config.steps,
            samples=options.large_samples,
            rate_hz=options.large_rate,
            dt=network.dt,
            key=k_inputs,
        )
        large = compare_regimes(
            large_network,
            large_spikes,
            options.table,
            domain_gating=level_two,
            mesh=options.large_mesh,
            scheme=scheme,
            chunk_size=16,
        )
        timings["large"] = time.perf_counter() - start

    summary = {
        "network": {
            "topology": list(network.topology),
            "source": "checkpoint" if setup.checkpoint is not None else "trained",
            "checkpoint": None if setup.checkpoint is None else str(setup.checkpoint),
            "training_epochs": None if history is None else setup.config.epochs,
            "final_train_accuracy": None if history is None else history["accuracy"][-1],
            "steps": setup.config.steps,
            "dt_ms": network.dt,
            "test_samples": int(spikes.shape[0]),
            "tau_c_ms": float(network.astrocyte.tau_c),
            "kappa_c_ms": float(network.astrocyte.kappa_c),
        },
        "cost_table": options.table.as_dict(),
        "mesh": _mesh_summary(options.mesh),
        "scheme": options.scheme,
        "routing": "xy",
        "gating": {"c_gate": options.c_gate, "probe_steps": options.probe_steps, "gate_output": False},
        "digits": [_public(r) for r in digits],
        "sweep": [_public(r) for r in sweep],
        "large": None
        if large is None
        else {
            "topology": list(LARGE_TOPOLOGY),
            "weights": "untrained (SpikingNetwork.init, Gaussian)",
            "inputs": f"random Bernoulli spikes at {options.large_rate:g} Hz per input",
            "samples": options.large_samples,
            "mesh": _mesh_summary(options.large_mesh),
            "regimes": [_public(r) for r in large],
        },
        "seed": setup.config.seed,
    }
    timings["total"] = time.perf_counter() - started
    summary["timings_s"] = timings
    summary["out"] = str(out)

    atomic_write_json(staging / "summary.json", summary)
    atomic_write_text(staging / "report.md", render_report(summary))
    save_trained(setup, network, history, staging / "model.eqx")
    panels = [(f"digits {'-'.join(map(str, network.topology))} (trained)", digits)]
    if large is not None:
        panels.append((f"{'-'.join(map(str, LARGE_TOPOLOGY))} (untrained, random inputs)", large))
    plot_energy_components(panels, staging / "energy_components.png")
    plot_accuracy_vs_energy(sweep, digits[:2], staging / "accuracy_vs_energy.png")
    _print_summary(summary)


def _print_summary(summary: dict) -> None:
    print(f"cost table {summary['cost_table']['name']} ({summary['cost_table']['node']}); energy: lower is better")
    for title, records in (("digits", summary["digits"]), ("large", (summary["large"] or {}).get("regimes", []))):
        for r in records:
            e = r["energy_per_inference"]
            accuracy = "n/a" if r["accuracy"] is None else f"{r['accuracy']:.4f}"
            print(
                f"{title:<7}{r['regime']:<28} accuracy {accuracy:>7}  energy {e['total_pj'] / 1000:10.1f} nJ/inference  "
                f"saved updates {100 * r['saved_update_fraction']:5.1f} %"
            )
    print(f"elapsed {summary['timings_s']['total']:.1f} s")


__all__ = ["register", "run", "options_from_args", "network_setup", "parse_mesh"]
