"""`lifa sweep`: a resumable fault campaign with and without astrocyte repair."""

import argparse
import pathlib
import re
import sys
import time
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
# TOML value types each key accepts. Lists of faults, rates and bits are joined
# into the comma-separated text the options take.
TOML_TYPES = {
    "faults": (str, list),
    "rates": (int, float, str, list),
    "bits": (int, str, list),
    "capacity": (int, str, list),
    "fixed_format": (str,),
    "repair": (bool,),
    "transient": (bool,),
    **dict.fromkeys(("masks", "chunk_size", "epochs", "repair_passes", "steps", "devices", "seed", "max_test"), (int,)),
    **dict.fromkeys(("checkpoint", "dataset", "data_path", "engine"), (str,)),
}
TOML_TYPE_NAMES = {str: "a string", list: "a list", int: "an integer", float: "a number", bool: "true or false"}
# Final outputs of a campaign, besides campaign.json, model.eqx and chunks/.
OUTPUT_FILES = ("sweep.nc", "summary.json", "report.md", "ft_vs_rate.png", "sensitivity.png")


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
    p.add_argument(
        "--resume",
        type=pathlib.Path,
        default=None,
        help=(
            "continue the campaign in this folder with the settings in its campaign.json (other settings are "
            "rejected); a finished campaign only writes the outputs that are missing"
        ),
    )
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
    for key, value in data.items():
        allowed = TOML_TYPES[key]
        # bool is a subclass of int in Python, so `masks = true` needs its own check.
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            expected = " or ".join(TOML_TYPE_NAMES[t] for t in allowed)
            raise UserError(
                f"{key} in {str(path)!r} must be {expected}, got {value!r}; fix the value in the TOML file."
            )
    for key in ("faults", "rates", "bits"):
        if isinstance(data.get(key), list):
            data[key] = ",".join(str(v) for v in data[key])
    return data


def _explicit(args) -> dict:
    return {key: getattr(args, key) for key in CONFIG_KEYS if hasattr(args, key)}


def _toml_names(path: pathlib.Path | None, toml: dict, explicit: dict) -> dict[str, str]:
    """Return how error messages name each setting whose value came from the `--config` file."""
    return {key: f"{key} in {str(path)!r}" for key in toml if key not in explicit}


def _option(key: str, names: dict[str, str]) -> str:
    """Return the name of setting `key` in messages: its TOML key and file, or its option."""
    return names.get(key, "--" + key.replace("_", "-"))


def _rename_options(message: str, names: dict[str, str]) -> str:
    """Replace the options in a validation message by the TOML keys that set them."""
    for key, name in names.items():
        option = "--" + key.replace("_", "-")
        message = re.sub(re.escape(option) + r"(?![\w-])", lambda _, name=name: name, message)
    return message


def build_config(settings: dict, *, names: dict[str, str] | None = None):
    """Return a validated `CampaignConfig` from resolved settings; raise `UserError` if invalid.

    `names` maps each setting read from a TOML file to its name in error messages,
    such as "rates in 'config.toml'". Messages name the other settings by option.
    """
    from ..campaign import CampaignConfig
    from ..pipeline import RunConfig

    names = names or {}
    faults = tuple(f.strip() for f in str(settings["faults"]).split(",") if f.strip())
    options = {}
    bits = None if settings["bits"] is None else tuple(parse_int_list(str(settings["bits"]), _option("bits", names)))
    try:
        q_i, q_f = (int(v) for v in str(settings["fixed_format"]).split("."))
    except ValueError:
        raise UserError(
            f"{_option('fixed_format', names)} must look like 2.6 (integer.fraction bits), "
            f"got {settings['fixed_format']!r}."
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
        engine_options["capacity"] = _parse_capacity(settings["capacity"], _option("capacity", names))
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
            rates=tuple(parse_float_list(str(settings["rates"]), _option("rates", names))),
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
        raise UserError(_rename_options(str(error), names)) from None
    if config.run.dataset != "digits" and config.run.data_path is None:
        raise UserError(f"--dataset {config.run.dataset} needs --data-path pointing at the downloaded files.")
    return config


def _parse_capacity(value, name: str = "--capacity") -> int | None | list[int | None]:
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
                f"{name} must be a positive integer or 'none' per hidden layer, got {part!r}; e.g. 4096,none."
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
    from ..campaign import missing_chunks, write_campaign_file

    started = time.perf_counter()
    if args.resume is not None:
        folder = args.resume
        config = _resumed_config(args)
        if not missing_chunks(config, folder):
            summary = _read_summary(folder, config)
            missing = [name for name in OUTPUT_FILES if not (folder / name).is_file()]
            if summary is not None and not missing:
                print(f"lifa sweep: the campaign in {folder} is complete; nothing to recompute.")
                _print_results(summary, folder)
                return 0
            if summary is not None and "sensitivity.png" not in missing:
                _rebuild_from_summary(config, folder, summary, missing)
                _print_results(summary, folder)
                return 0
    else:
        toml = {} if args.config is None else _read_toml(args.config)
        explicit = _explicit(args)
        settings = {**DEFAULTS, **(QUICK if args.quick else FULL), **toml, **explicit}
        config = build_config(settings, names=_toml_names(args.config, toml, explicit))
        folder = args.out or default_out_dir("sweep")

    timings = {}
    network, data, source = _load_inputs(config, folder, timings)
    _check_engine_rates(config, network if network is not None else _network_shape(config, data))
    if args.resume is None:
        _claim_folder(folder, overwrite=args.overwrite)
        write_campaign_file(folder, config)
    return _execute(config, folder, network, data, source, timings=timings, started=started)


def _resumed_config(args):
    """Return the configuration stored in `--resume`'s campaign.json.

    Raise `UserError` when the options or the `--config` file given with
    `--resume` request other settings, listing every field that differs.
    """
    from ..campaign import config_differences, read_campaign_file

    folder = args.resume
    if args.out is not None and args.out.resolve() != folder.resolve():
        raise UserError(
            f"--resume continues the campaign in {str(folder)!r} and writes there; drop --out {str(args.out)!r}."
        )
    if args.overwrite:
        raise UserError("--overwrite would discard the campaign that --resume continues; drop one of them.")
    try:
        stored = read_campaign_file(folder)
    except (FileNotFoundError, ValueError) as error:
        raise UserError(str(error)) from None

    toml = {} if args.config is None else _read_toml(args.config)
    explicit = _explicit(args)
    requested = {**(QUICK if args.quick else {}), **toml, **explicit}
    settings = {**_settings_from_config(stored), **requested}
    config = build_config(settings, names=_toml_names(args.config, toml, explicit))
    stored_dict, requested_dict = stored.to_dict(), config.to_dict()
    differ = config_differences(stored_dict, requested_dict)
    if differ:
        changes = "; ".join(
            f"{name}: {_lookup(stored_dict, name)!r} stored, {_lookup(requested_dict, name)!r} requested"
            for name in differ
        )
        raise UserError(
            f"the campaign in {str(folder)!r} was started with other settings ({', '.join(differ)}); "
            f"{changes}. Resume without changing them, or start a new campaign with --out."
        )
    return stored


def _lookup(config: dict, dotted: str):
    """Return the value at a dotted field name of a config dict, or None when it is absent."""
    value = config
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _read_summary(folder: pathlib.Path, config) -> dict | None:
    """Return the campaign's summary.json when it is readable and records `config`, else None."""
    import json

    try:
        summary = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or summary.get("config") != config.to_dict():
        return None
    if not all(key in summary for key in ("sweep", "accuracy_fault_free", "critical_neurons")):
        return None
    return summary


def _rebuild_from_summary(config, folder: pathlib.Path, summary: dict, missing: list[str]) -> None:
    """Write the outputs in `missing` (not sensitivity.png) from the chunks and a valid summary.json."""
    from ..campaign import campaign_dataset, collect_chunks, save_dataset
    from ..io import atomic_write_text
    from ..io.plots import plot_ft_vs_rate
    from ..io.report import render_sweep_report

    print(f"lifa sweep: every chunk is done; writing the missing {', '.join(missing)}", file=sys.stderr)
    if "sweep.nc" in missing:
        arrays = collect_chunks(config, folder)
        save_dataset(campaign_dataset(config, arrays, summary["accuracy_fault_free"]), folder / "sweep.nc")
    if "ft_vs_rate.png" in missing:
        plot_ft_vs_rate(summary["sweep"], folder / "ft_vs_rate.png")
    if "report.md" in missing:
        atomic_write_text(folder / "report.md", render_sweep_report(summary))


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


def _load_inputs(config, folder: pathlib.Path, timings: dict):
    """Load the data and the model (checkpoint, a resumed campaign's model, or none yet).

    Adds the seconds spent to `timings` under "data" and, when a model is loaded, "model".
    """
    from .. import pipeline
    from ..data import DataFormatError
    from ..io import CheckpointError, load_checkpoint

    clock = time.perf_counter()
    try:
        data = pipeline.prepare_data(config.run)
    except (DataFormatError, FileNotFoundError, ValueError) as error:
        raise UserError(str(error)) from None
    timings["data"] = time.perf_counter() - clock
    clock = time.perf_counter()
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
        timings["model"] = time.perf_counter() - clock
    else:
        try:
            pipeline.resolve_topology(config.run, data)
        except ValueError as error:
            raise UserError(str(error)) from None
    return network, data, source


def _execute(config, folder: pathlib.Path, network, data, source, *, timings: dict, started: float) -> int:
    import jax
    from tqdm import tqdm

    from .. import pipeline
    from ..campaign import campaign_dataset, campaign_records, run_campaign, save_dataset
    from ..faults import sensitivity_map
    from ..io import atomic_write_json, atomic_write_text, save_checkpoint
    from ..io.plots import plot_ft_vs_rate, plot_sensitivity
    from ..io.report import render_sweep_report

    key = jax.random.key(config.run.seed)
    k_init, k_train, k_sweep, _ = jax.random.split(key, 4)
    if network is None:
        print("lifa sweep: training a model (pass --checkpoint to sweep an existing one)", file=sys.stderr)
        clock = time.perf_counter()
        topology = pipeline.resolve_topology(config.run, data)
        network = pipeline.build_network(config.run, topology, key=k_init)
        with tqdm(total=config.run.epochs, desc="training", unit="epoch", file=sys.stderr) as bar:
            network, _ = pipeline.train_network(
                config.run, network, data, key=k_train, progress=lambda e, m: bar.update(1)
            )
        timings["model"] = time.perf_counter() - clock
        model_source = "trained by lifa sweep"
    else:
        model_source = f"loaded from {source}"
    if not (folder / "model.eqx").is_file():
        save_checkpoint(folder / "model.eqx", network, {"source": source or "trained by lifa sweep"})

    clock = time.perf_counter()
    setup = pipeline.sweep_setup(config.run, network, data, key=k_sweep)
    with tqdm(desc="fault campaign", unit="chunk", file=sys.stderr) as bar:

        def progress(done, total):
            bar.total = total
            bar.update(1)

        arrays = run_campaign(config, folder, network, setup, progress=progress)
    a_ff = setup.accuracy_fault_free
    records = campaign_records(config, arrays, a_ff, key=setup.bootstrap_key, n_test=data.n_test)
    timings["sweep"] = time.perf_counter() - clock

    clock = time.perf_counter()
    _, drops = sensitivity_map(network, setup.spikes, setup.labels)
    critical = []
    for layer, drop in enumerate(drops):
        order = [int(i) for i in jax.numpy.argsort(-drop)[:10]]
        critical.append({"layer": layer, "neurons": order, "accuracy_drop": [float(drop[i]) for i in order]})
    timings["sensitivity_map"] = time.perf_counter() - clock

    save_dataset(campaign_dataset(config, arrays, a_ff), folder / "sweep.nc")
    plot_ft_vs_rate(records, folder / "ft_vs_rate.png")
    plot_sensitivity(drops, folder / "sensitivity.png")
    timings["total"] = time.perf_counter() - started

    summary = {
        "dataset": data.name,
        "topology": list(network.topology),
        "accuracy_fault_free": a_ff,
        "sweep": records,
        "repair": config.repair,
        "engine": config.engine,
        "capacity": config.engine_options.get("capacity") if config.engine == "differential" else None,
        "critical_neurons": critical,
        "model_source": model_source,
        "timings_s": timings,
        "config": config.to_dict(),
        "versions": pipeline.versions(),
        "dataset_file": "sweep.nc",
    }
    # summary.json and report.md are written last: a resume treats a campaign whose
    # outputs all exist and whose summary.json records its configuration as complete.
    atomic_write_json(folder / "summary.json", summary)
    atomic_write_text(folder / "report.md", render_sweep_report(summary))
    _print_results(summary, folder)
    return 0


def _print_results(summary: dict, folder: pathlib.Path) -> None:
    print(f"fault-free accuracy: {summary['accuracy_fault_free']:.4f} (higher is better); results in {folder}")
    for r in summary["sweep"]:
        ft_r = "n/a" if r["ft_repair"] is None else f"{r['ft_repair']['mean']:.2f}"
        print(
            f"  {r['fault']:<24} rate {r['rate']:<8g} FT no repair {r['ft_no_repair']['mean']:7.2f} %   FT repair {ft_r} %"
        )
