"""`lifa sweep`: a resumable fault campaign with and without astrocyte repair."""

import argparse
import pathlib
import sys
import tomllib

from .common import UserError, default_out_dir, parse_float_list, parse_int_list

QUICK = {"masks": 8, "rates": "0,0.1,0.3", "epochs": 12, "repair_passes": 10, "chunk_size": 8}
FULL = {"masks": 100, "rates": "0,0.05,0.1,0.2,0.3,0.5", "epochs": 30, "repair_passes": 20, "chunk_size": 25}
DEFAULTS = {
    "faults": "neuron_dead,synapse_dead",
    "repair": True,
    "seed": 0,
    "checkpoint": None,
    "dataset": "digits",
    "data_path": None,
    "max_test": None,
    "steps": 20,
    "devices": 1,
    "bits": None,
    "fixed_format": "2.6",
    "transient": False,
    "engine": "dense",
    "capacity": None,
}
CONFIG_KEYS = sorted(set(QUICK) | set(DEFAULTS))


def register(subparsers) -> None:
    """Add the `sweep` subcommand."""
    sup = argparse.SUPPRESS
    p = subparsers.add_parser(
        "sweep",
        help="run a resumable fault campaign (many kinds, rates and masks) and write an xarray dataset",
        description=(
            "Evaluate a trained LIFA network (--checkpoint, or one trained here) under many fault masks per kind "
            "and rate, without and with homeostatic astrocyte repair. Results are written chunk by chunk into "
            "--out, so an interrupted campaign continues with --resume. Options override a --config TOML file, "
            "whose keys are the option names with underscores."
        ),
    )
    p.add_argument("--config", type=pathlib.Path, default=None, help="TOML file with campaign settings")
    p.add_argument("--faults", default=sup, help="comma-separated fault kinds (default neuron_dead,synapse_dead)")
    p.add_argument("--rates", default=sup, help="fault rates in [0, 1]; per bit for bit flips (default 0,...,0.5)")
    p.add_argument("--masks", type=int, default=sup, help="masks per kind and rate (default 100, 8 with --quick)")
    p.add_argument("--chunk-size", type=int, default=sup, help="masks per chunk written to disk (default 25)")
    p.add_argument("--no-repair", dest="repair", action="store_false", default=sup, help="skip astrocyte repair")
    p.add_argument(
        "--transient",
        action="store_true",
        default=sup,
        help="redraw each mask on every time step (transient faults) instead of once per run",
    )
    p.add_argument(
        "--engine",
        choices=("dense", "differential"),
        default=sup,
        help=(
            "how masks are evaluated: dense simulates the whole network per mask (default); differential "
            "propagates each mask's differences from one fault-free run (synapse_dead, synapse_saturated and "
            "synapse bit flips only, with --no-repair; it draws other masks than dense from the same seed)"
        ),
    )
    p.add_argument(
        "--capacity",
        default=sup,
        help=(
            "with --engine differential: changed spikes (count, over all test samples and steps) each hidden "
            "layer may hold per mask, as one value or one per hidden layer, e.g. 4096 or 4096,none; 'none' uses "
            "a dense product for that layer (default none; masks that overflow are re-run densely)"
        ),
    )
    p.add_argument("--bits", default=sup, help="bit positions bit flips may hit, e.g. 7 or 23,24,30 (default all)")
    p.add_argument(
        "--fixed-format", default=sup, help="fixed-point format q_i.q_f of fixed-point bit flips (default 2.6)"
    )
    p.add_argument("--checkpoint", type=str, default=sup, help="model.eqx to sweep (default: train one)")
    p.add_argument(
        "--dataset",
        choices=("digits", "mnist", "fashion-mnist", "cifar100"),
        default=sup,
        help="data set (default digits)",
    )
    p.add_argument("--data-path", type=str, default=sup, help="folder or file of the mnist/cifar100 data")
    p.add_argument("--max-test", type=int, default=sup, help="use only the first N test samples")
    p.add_argument("--steps", type=int, default=sup, help="simulation steps per sample T (default 20)")
    p.add_argument("--epochs", type=int, default=sup, help="training epochs when no checkpoint is given (default 30)")
    p.add_argument("--repair-passes", type=int, default=sup, help="adaptation passes of repair (default 20)")
    p.add_argument("--devices", type=int, default=sup, help="split masks over this many JAX devices (default 1)")
    p.add_argument("--seed", type=int, default=sup, help="seed of the JAX PRNG key (default 0)")
    p.add_argument("--out", type=pathlib.Path, default=None, help="campaign folder (default runs/sweep-<timestamp>)")
    p.add_argument("--overwrite", action="store_true", help="replace the contents of a non-empty --out folder")
    p.add_argument("--resume", type=pathlib.Path, default=None, help="continue the campaign in this folder")
    p.add_argument("--quick", action="store_true", help="smoke test: 8 masks, rates 0,0.1,0.3, 12 training epochs")
    p.set_defaults(func=run)


def _read_toml(path: pathlib.Path) -> dict:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"config file {str(path)!r} not found; pass an existing TOML file to --config.") from None
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"config file {str(path)!r} is not valid TOML ({error}); fix the line it names.") from None
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise UserError(f"unknown key {unknown[0]!r} in {str(path)!r}; valid keys: {', '.join(CONFIG_KEYS)}.")
    for key in ("faults", "rates", "bits"):
        if isinstance(data.get(key), list):
            data[key] = ",".join(str(v) for v in data[key])
    return data


def _explicit(args) -> dict:
    return {key: getattr(args, key) for key in CONFIG_KEYS if hasattr(args, key)}


def build_config(settings: dict):
    """Return a validated `CampaignConfig` from resolved settings; raise `UserError` if invalid."""
    from ..campaign import CampaignConfig
    from ..pipeline import RunConfig

    faults = tuple(f.strip() for f in str(settings["faults"]).split(",") if f.strip())
    options = {}
    bits = None if settings["bits"] is None else tuple(parse_int_list(str(settings["bits"]), "--bits"))
    try:
        q_i, q_f = (int(v) for v in str(settings["fixed_format"]).split("."))
    except ValueError:
        raise UserError(
            f"--fixed-format must look like 2.6 (integer.fraction bits), got {settings['fixed_format']!r}."
        ) from None
    if "synapse_bitflip_fixed" in faults:
        options["synapse_bitflip_fixed"] = {"int_bits": q_i, "frac_bits": q_f, "bits": bits}
    if "synapse_bitflip_float" in faults:
        options["synapse_bitflip_float"] = {"bits": bits}
    engine = str(settings["engine"])
    if engine not in ("dense", "differential"):
        raise UserError(f"--engine must be dense or differential, got {engine!r}.")
    engine_options = {}
    if settings["capacity"] is not None:
        if engine != "differential":
            raise UserError("--capacity applies only to --engine differential; drop it or add --engine differential.")
        engine_options["capacity"] = _parse_capacity(settings["capacity"])
    if engine == "differential":
        _check_differential_settings(faults, settings)
    try:
        run = RunConfig(
            dataset=settings["dataset"],
            data_path=settings["data_path"],
            steps=settings["steps"],
            epochs=settings["epochs"],
            repair_passes=settings["repair_passes"],
            max_test=settings["max_test"],
            seed=settings["seed"],
        )
        config = CampaignConfig(
            run=run,
            faults=faults,
            rates=tuple(parse_float_list(str(settings["rates"]), "--rates")),
            masks=settings["masks"],
            chunk_size=settings["chunk_size"],
            repair=bool(settings["repair"]),
            fault_options=options,
            devices=settings["devices"],
            checkpoint=settings["checkpoint"],
            transient=bool(settings["transient"]),
            engine=engine,
            engine_options=engine_options,
        )
        config.validate()
    except ValueError as error:
        raise UserError(str(error)) from None
    if config.run.dataset != "digits" and config.run.data_path is None:
        raise UserError(f"--dataset {config.run.dataset} needs --data-path pointing at the downloaded files.")
    return config


def _parse_capacity(value) -> int | None | list[int | None]:
    """Parse `--capacity`: an int or 'none', or a comma-separated list of them (one per hidden layer)."""
    parts = value if isinstance(value, list) else str(value).split(",")
    parsed = []
    for part in parts:
        text = "none" if part is None else str(part).strip().lower()
        if text == "none":
            parsed.append(None)
            continue
        try:
            number = int(text)
        except ValueError:
            number = 0
        if number < 1:
            raise UserError(
                f"--capacity must be a positive integer or 'none' per hidden layer, got {part!r}; e.g. 4096,none."
            )
        parsed.append(number)
    return parsed[0] if len(parsed) == 1 else parsed


def _check_differential_settings(faults: tuple[str, ...], settings: dict) -> None:
    """Raise `UserError` for settings the differential engine cannot run."""
    from ..faults import FAULT_KINDS
    from ..faults.differential import SUPPORTED_FAULTS

    supported = [name for name, cls in FAULT_KINDS.items() if cls in SUPPORTED_FAULTS]
    for kind in faults:
        if kind in FAULT_KINDS and kind not in supported:
            raise UserError(
                f"--engine differential does not support fault kind {kind!r}; it supports {', '.join(supported)}. "
                "Remove the kind from --faults or pass --engine dense."
            )
    if settings["repair"]:
        raise UserError("--engine differential does not evaluate repair; add --no-repair or pass --engine dense.")
    if settings["transient"]:
        raise UserError("--engine differential does not support --transient faults; pass --engine dense.")
    if int(settings["devices"]) > 1:
        raise UserError("--engine differential runs on one device; pass --devices 1 or --engine dense.")


def _check_engine_rates(config, network) -> None:
    """Check, before any heavy work, that the differential engine can size its buffers at every rate."""
    if config.engine != "differential":
        return
    from ..faults import sparse_fault_capacity

    n_hidden = len(network.topology) - 2
    capacity = config.engine_options.get("capacity")
    if isinstance(capacity, list) and len(capacity) != n_hidden:
        raise UserError(
            f"--capacity gives {len(capacity)} values but the network {list(network.topology)} has {n_hidden} "
            "hidden layers; give one value, or one per hidden layer."
        )
    for kind in config.faults:
        for rate in config.rates:
            try:
                sparse_fault_capacity(network, config.build_fault(kind, rate))
            except ValueError as error:
                raise UserError(f"--engine differential, fault kind {kind!r}: {error}") from None


def run(args) -> int:
    """Execute `lifa sweep`."""
    from ..campaign import config_differences, read_campaign_file, write_campaign_file

    explicit = _explicit(args)
    if args.resume is not None:
        folder = args.resume
        try:
            stored = read_campaign_file(folder)
        except (FileNotFoundError, ValueError) as error:
            raise UserError(str(error)) from None
        if args.config is not None:
            explicit = {**_read_toml(args.config), **explicit}
        settings = _settings_from_config(stored)
        settings.update(explicit)
        config = build_config(settings)
        differ = config_differences(stored.to_dict(), config.to_dict())
        if differ:
            raise UserError(
                f"the campaign in {str(folder)!r} was started with other settings ({', '.join(differ)}); "
                "resume without changing them, or start a new campaign with --out."
            )
    else:
        settings = {**DEFAULTS, **(QUICK if args.quick else FULL)}
        if args.config is not None:
            settings.update(_read_toml(args.config))
        settings.update(explicit)
        config = build_config(settings)
        folder = args.out or default_out_dir("sweep")

    network, data, topology_note = _load_inputs(config, folder)
    _check_engine_rates(config, network if network is not None else _network_shape(config, data))
    if args.resume is None:
        _claim_folder(folder, overwrite=args.overwrite)
        write_campaign_file(folder, config)
    return _execute(config, folder, network, data, topology_note)


def _network_shape(config, data):
    """Return the network `lifa sweep` would train, as shapes only (nothing is computed)."""
    import equinox as eqx
    import jax

    from .. import pipeline

    topology = pipeline.resolve_topology(config.run, data)
    return eqx.filter_eval_shape(lambda: pipeline.build_network(config.run, topology, key=jax.random.key(0)))


def _settings_from_config(config) -> dict:
    options = config.fault_options
    bits = None
    fixed = "2.6"
    for kind in ("synapse_bitflip_fixed", "synapse_bitflip_float"):
        if kind in options and options[kind].get("bits") is not None:
            bits = ",".join(str(b) for b in options[kind]["bits"])
    if "synapse_bitflip_fixed" in options:
        fixed = f"{options['synapse_bitflip_fixed']['int_bits']}.{options['synapse_bitflip_fixed']['frac_bits']}"
    return {
        "faults": ",".join(config.faults),
        "rates": ",".join(repr(r) for r in config.rates),
        "masks": config.masks,
        "chunk_size": config.chunk_size,
        "repair": config.repair,
        "seed": config.run.seed,
        "checkpoint": config.checkpoint,
        "dataset": config.run.dataset,
        "data_path": config.run.data_path,
        "max_test": config.run.max_test,
        "steps": config.run.steps,
        "epochs": config.run.epochs,
        "repair_passes": config.run.repair_passes,
        "devices": config.devices,
        "bits": bits,
        "fixed_format": fixed,
        "transient": config.transient,
        "engine": config.engine,
        "capacity": _capacity_setting(config.engine_options.get("capacity")),
    }


def _capacity_setting(capacity) -> str | None:
    """Return a stored capacity in the form `--capacity` takes (None when absent)."""
    if capacity is None:
        return None
    values = capacity if isinstance(capacity, list) else [capacity]
    return ",".join("none" if c is None else str(c) for c in values)


def _claim_folder(folder: pathlib.Path, *, overwrite: bool) -> None:
    import shutil

    if folder.exists() and not folder.is_dir():
        raise UserError(f"output path {str(folder)!r} exists and is not a folder; choose another --out.")
    if folder.is_dir() and any(folder.iterdir()):
        if not overwrite:
            raise UserError(
                f"output folder {str(folder)!r} exists and is not empty; choose another --out, pass --overwrite, "
                "or continue it with --resume."
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)


def _load_inputs(config, folder: pathlib.Path):
    """Load the data and the model (checkpoint, a resumed campaign's model, or none yet)."""
    from .. import pipeline
    from ..data import DataFormatError
    from ..io import CheckpointError, load_checkpoint

    try:
        data = pipeline.prepare_data(config.run)
    except (DataFormatError, FileNotFoundError, ValueError) as error:
        raise UserError(str(error)) from None
    network = None
    source = config.checkpoint or (str(folder / "model.eqx") if (folder / "model.eqx").is_file() else None)
    if source is not None:
        try:
            network, _ = load_checkpoint(source)
        except CheckpointError as error:
            raise UserError(str(error)) from None
        topology = list(network.topology)
        if topology[0] != data.n_features or topology[-1] != data.n_classes:
            raise UserError(
                f"checkpoint {source!r} has topology {topology}, which does not match the {data.name} data "
                f"({data.n_features} inputs, {data.n_classes} classes); pass a checkpoint trained on it."
            )
    else:
        try:
            pipeline.resolve_topology(config.run, data)
        except ValueError as error:
            raise UserError(str(error)) from None
    return network, data, source


def _execute(config, folder: pathlib.Path, network, data, source) -> int:
    import jax
    from tqdm import tqdm

    from .. import pipeline
    from ..campaign import campaign_dataset, run_campaign, save_dataset
    from ..faults import sensitivity_map
    from ..io import atomic_write_json, atomic_write_text, save_checkpoint
    from ..io.plots import plot_ft_vs_rate, plot_sensitivity
    from ..io.report import render_sweep_report

    key = jax.random.key(config.run.seed)
    k_init, k_train, k_sweep, _ = jax.random.split(key, 4)
    if network is None:
        print("lifa sweep: training a model (pass --checkpoint to sweep an existing one)", file=sys.stderr)
        topology = pipeline.resolve_topology(config.run, data)
        network = pipeline.build_network(config.run, topology, key=k_init)
        with tqdm(total=config.run.epochs, desc="training", unit="epoch", file=sys.stderr) as bar:
            network, _ = pipeline.train_network(
                config.run, network, data, key=k_train, progress=lambda e, m: bar.update(1)
            )
    if not (folder / "model.eqx").is_file():
        save_checkpoint(folder / "model.eqx", network, {"source": source or "trained by lifa sweep"})

    setup = pipeline.sweep_setup(config.run, network, data, key=k_sweep)
    with tqdm(desc="fault campaign", unit="chunk", file=sys.stderr) as bar:

        def progress(done, total):
            bar.total = total
            bar.update(1)

        arrays = run_campaign(config, folder, network, setup, progress=progress)

    a_ff = setup.accuracy_fault_free
    ds = campaign_dataset(config, arrays, a_ff)
    save_dataset(ds, folder / "sweep.nc")

    records = []
    for f, kind in enumerate(config.faults):
        for r, rate in enumerate(config.rates):
            records.append(
                {
                    "fault": kind,
                    "rate": rate,
                    "masks": config.masks,
                    "accuracy_no_repair": arrays["accuracy_no_repair"][f, r],
                    "accuracy_repair": arrays["accuracy_repair"][f, r]
                    if config.repair
                    else arrays["accuracy_no_repair"][f, r],
                    "status": arrays["status"][f, r],
                }
            )
    pipeline.add_metrics(records, a_ff, key=setup.bootstrap_key, n_test=data.n_test)
    for record in records:
        record.pop("per_mask")
        if not config.repair:
            for name in ("accuracy_repair", "ft_repair", "deviation", "recovery"):
                record[name] = None

    _, drops = sensitivity_map(network, setup.spikes, setup.labels)
    critical = []
    for layer, drop in enumerate(drops):
        order = [int(i) for i in jax.numpy.argsort(-drop)[:10]]
        critical.append({"layer": layer, "neurons": order, "accuracy_drop": [float(drop[i]) for i in order]})

    summary = {
        "dataset": data.name,
        "topology": list(network.topology),
        "accuracy_fault_free": a_ff,
        "sweep": records,
        "repair": config.repair,
        "critical_neurons": critical,
        "config": config.to_dict(),
        "versions": pipeline.versions(),
        "dataset_file": "sweep.nc",
    }
    atomic_write_json(folder / "summary.json", summary)
    atomic_write_text(folder / "report.md", render_sweep_report(summary))
    plot_ft_vs_rate(records, folder / "ft_vs_rate.png")
    plot_sensitivity(drops, folder / "sensitivity.png")

    print(f"fault-free accuracy: {a_ff:.4f} (higher is better); results in {folder}")
    for r in records:
        ft_r = "n/a" if r["ft_repair"] is None else f"{r['ft_repair']['mean']:.2f}"
        print(
            f"  {r['fault']:<24} rate {r['rate']:<8g} FT no repair {r['ft_no_repair']['mean']:7.2f} %   FT repair {ft_r} %"
        )
    return 0
