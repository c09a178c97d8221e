"""`lifa sweep`: a resumable fault campaign with and without astrocyte repair."""

import argparse
import dataclasses
import math
import pathlib
import re
import sys
import time
import tomllib

from .common import UserError, default_out_dir, parse_fault_specs, parse_float_list, parse_int_list

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
    "batch_size": 64,
    "devices": 1,
    "bits": None,
    "fixed_format": "2.6",
    "transient": False,
    "sensitivity": True,
    "engine": "dense",
    "capacity": None,
}
# `fault_options` is a TOML table of tables, [fault_options.KIND], read by `_requested_fault_options`.
CONFIG_KEYS = sorted(set(QUICK) | set(DEFAULTS) | {"fault_options"})
# Keys a --config TOML file accepts: the settings, and `quick`, which selects the QUICK defaults.
TOML_KEYS = sorted([*CONFIG_KEYS, "quick"])
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
    "sensitivity": (bool,),
    "quick": (bool,),
    "fault_options": (dict,),
    **dict.fromkeys(
        ("masks", "chunk_size", "epochs", "batch_size", "repair_passes", "steps", "devices", "seed", "max_test"), (int,)
    ),
    **dict.fromkeys(("checkpoint", "dataset", "data_path", "engine"), (str,)),
}
TOML_TYPE_NAMES = {
    str: "a string",
    list: "a list",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "a table",
}
# The value type of every fault field that `--fault-option` and [fault_options.KIND]
# set, with an example value for messages. Fields whose default is None also take
# "none" (all layers, all bit positions, or a value derived from the weights).
FAULT_FIELD_TYPES = {
    "exact": ("bool", "false"),
    "layers": ("ints", "0"),
    "bits": ("ints", "7"),
    "value": ("float", "0.5"),
    "threshold_factor": ("float", "1.2"),
    "tau_factor": ("float", "0.8"),
    "w_max": ("float", "1.0"),
    "scale": ("float", "0.05"),
    "sign": ("int", "-1"),
    "int_bits": ("int", "3"),
    "frac_bits": ("int", "5"),
}
FIELD_TYPE_NAMES = {
    "bool": "true or false",
    "ints": "comma-separated integers",
    "float": "a finite number",
    "int": "an integer",
}
# Final outputs of a campaign, besides campaign.json, model.eqx and chunks/.
OUTPUT_FILES = ("sweep.nc", "summary.json", "report.md", "ft_vs_rate.png", "sensitivity.png")


def _output_files(config) -> tuple[str, ...]:
    """Return the files a finished campaign writes: `OUTPUT_FILES`, without sensitivity.png when it is skipped."""
    return tuple(name for name in OUTPUT_FILES if config.sensitivity or name != "sensitivity.png")


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
            "whose keys are the option names with underscores (quick = true for --quick; --out, --overwrite and "
            "--resume are command-line only). Fault fields go in "
            "tables such as [fault_options.neuron_parametric]. Relative checkpoint and data_path paths in the "
            "TOML file are resolved from the folder of the TOML file."
        ),
    )
    p.add_argument(
        "--config",
        type=pathlib.Path,
        default=None,
        help="TOML file with campaign settings; relative checkpoint and data_path paths in it are resolved from the file's folder",
    )
    p.add_argument(
        "--faults",
        default=sup,
        help="comma-separated fault kinds (default neuron_dead,synapse_dead); KIND+KIND draws several kinds in one "
        "mask, and KIND@RATE keeps that kind's rate fixed while --rates sweeps the others "
        "(neuron_dead+astrocyte_dead@0.5)",
    )
    p.add_argument("--rates", default=sup, help="fault rates in [0, 1]; per bit for bit flips (default 0,...,0.5)")
    p.add_argument("--masks", type=int, default=sup, help="masks per kind and rate (default 100, 8 with --quick)")
    p.add_argument(
        "--chunk-size", type=int, default=sup, help="masks per chunk written to disk (default 25, 8 with --quick)"
    )
    p.add_argument("--no-repair", dest="repair", action="store_false", default=sup, help="skip astrocyte repair")
    p.add_argument(
        "--no-sensitivity",
        dest="sensitivity",
        action="store_false",
        default=sup,
        help="skip the single-neuron sensitivity map, which simulates the test set once per hidden neuron "
        "(sensitivity.png is then not written)",
    )
    p.add_argument(
        "--transient",
        action="store_true",
        default=sup,
        help="redraw each mask on every time step (transient faults) instead of once per run",
    )
    p.add_argument(
        "--engine",
        choices=("dense", "differential", "event"),
        default=sup,
        help=(
            "how masks are evaluated: dense simulates the whole network per mask (default); differential "
            "propagates each mask's differences from one fault-free run (synapse_dead, synapse_saturated and "
            "synapse bit flips only, with --no-repair; it draws other masks than dense from the same seed and compiles once per "
            "rate, so it pays off only on large networks); event simulates the same masks as differential "
            "event-driven on the CPU, summing weight rows only for the spikes that fire or change (same kinds "
            "and limits; the fastest on large networks without a GPU)"
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
        "--fault-option",
        action="append",
        default=None,
        metavar="KIND.FIELD=VALUE",
        help=(
            "set a field of one fault kind in --faults, e.g. neuron_parametric.threshold_factor=1.2 or "
            "neuron_stuck.value=0.5 (membrane in units of the threshold v_th = 1); repeatable. Overrides --bits "
            "and --fixed-format for that kind. Fields: exact, layers and per kind value, threshold_factor, "
            "tau_factor, w_max (weight units), sign, int_bits, frac_bits, bits, scale; see docs/faults.md"
        ),
    )
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
    p.add_argument(
        "--batch-size", type=int, default=sup, help="training batch size when no checkpoint is given (default 64)"
    )
    p.add_argument(
        "--repair-passes", type=int, default=sup, help="adaptation passes of repair (default 20, 10 with --quick)"
    )
    p.add_argument("--devices", type=int, default=sup, help="split masks over this many JAX devices (default 1)")
    p.add_argument("--seed", type=int, default=sup, help="seed of the JAX PRNG key (default 0)")
    p.add_argument("--out", type=pathlib.Path, default=None, help="campaign folder (default runs/sweep-<timestamp>)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an --out folder of earlier results (one with summary.json, campaign.json or fitted.json)",
    )
    p.add_argument(
        "--resume",
        type=pathlib.Path,
        default=None,
        help=(
            "continue the campaign in this folder with the settings in its campaign.json (other settings are "
            "rejected); a finished campaign only writes the outputs that are missing"
        ),
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 8 masks, rates 0,0.1,0.3, 12 training epochs, 10 repair passes, chunks of 8 masks",
    )
    p.set_defaults(func=run)


def _read_toml(path: pathlib.Path) -> dict:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"config file {str(path)!r} not found; pass an existing TOML file to --config.") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise UserError(f"config file {str(path)!r} cannot be read ({reason}); pass a TOML file to --config.") from None
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"config file {str(path)!r} is not valid TOML ({error}); fix the place it names.") from None
    command_line_only = sorted(set(data) & {"out", "overwrite", "resume"})
    if command_line_only:
        key = command_line_only[0]
        raise UserError(f"{key} in {str(path)!r} is a command-line option only; drop it and pass --{key} instead.")
    unknown = sorted(set(data) - set(TOML_KEYS))
    if unknown:
        raise UserError(f"unknown key {unknown[0]!r} in {str(path)!r}; valid keys: {', '.join(TOML_KEYS)}.")
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
    _check_toml_dataset(path, data)
    # Paths in the file are relative to the file, not to the working folder.
    for key in ("checkpoint", "data_path"):
        if data.get(key) and not pathlib.Path(data[key]).is_absolute():
            data[key] = str(path.parent / data[key])
    return data


def _check_toml_dataset(path: pathlib.Path, data: dict) -> None:
    """Raise `UserError` when the TOML file names a data set that `lifa_jax.data` cannot load."""
    from ..data import DATASET_NAMES

    if "dataset" in data and data["dataset"] not in DATASET_NAMES:
        raise UserError(
            f"dataset in {str(path)!r}: unknown data set {data['dataset']!r}; use one of: {', '.join(DATASET_NAMES)}."
        )


def _explicit(args) -> dict:
    return {key: getattr(args, key) for key in CONFIG_KEYS if hasattr(args, key)}


def _toml_names(path: pathlib.Path | None, toml: dict, explicit: dict) -> dict[str, str]:
    """Return how error messages name each setting whose value came from the `--config` file."""
    return {key: f"{key} in {str(path)!r}" for key in toml if key not in explicit}


def _option(key: str, names: dict[str, str]) -> str:
    """Return the name of setting `key` in messages: its TOML key and file, or its option.

    A fault field's key is `fault_options.KIND.FIELD`, named `--fault-option KIND.FIELD`.
    """
    if key.startswith("fault_options."):
        return names.get(key, "--fault-option " + key.removeprefix("fault_options."))
    return names.get(key, "--" + key.replace("_", "-"))


def _rename_options(message: str, names: dict[str, str]) -> str:
    """Replace the options in a validation message by the TOML keys that set them."""
    for key, name in names.items():
        if key.startswith("fault_options."):
            continue
        option = "--" + key.replace("_", "-")
        message = re.sub(re.escape(option) + r"(?![\w-])", lambda _, name=name: name, message)
    return message


def _requested_fault_options(args, toml: dict) -> tuple[dict, dict[str, str]]:
    """Return the fault fields requested by `--fault-option` and the TOML file, and their names in messages.

    Removes `fault_options` from `toml`. A field given in both takes the
    `--fault-option` value. **Returns:** `({kind: {field: value}}, names)`, where
    `names` maps `fault_options.KIND.FIELD` to the option or TOML key that set it.
    """
    options, names = {}, {}
    table = toml.pop("fault_options", {})
    for kind, fields in table.items():
        _check_fault_kind(kind, f"table [fault_options.{kind}] in {str(args.config)!r}")
        if not isinstance(fields, dict):
            raise UserError(
                f"fault_options.{kind} in {str(args.config)!r} must be a table of fields, got {fields!r}; "
                f"write it as [fault_options.{kind}] followed by lines such as FIELD = VALUE."
            )
        for field, value in fields.items():
            subject = f"fault_options.{kind}.{field} in {str(args.config)!r}"
            _check_fault_field(kind, field, subject)
            options.setdefault(kind, {})[field] = _toml_field_value(value, kind, field, subject)
            names[f"fault_options.{kind}.{field}"] = subject

    seen = set()
    for text in args.fault_option or []:
        target, equals, raw = text.partition("=")
        kind, dot, field = (part.strip() for part in target.partition("."))
        if not (equals and dot and kind and field):
            raise UserError(
                f"--fault-option {text!r} must look like KIND.FIELD=VALUE; "
                "for example --fault-option neuron_parametric.threshold_factor=1.2."
            )
        subject = f"--fault-option {kind}.{field}"
        _check_fault_kind(kind, subject)
        _check_fault_field(kind, field, subject)
        if (kind, field) in seen:
            raise UserError(f"{subject} is given more than once; keep one value.")
        seen.add((kind, field))
        options.setdefault(kind, {})[field] = _text_field_value(raw, kind, field, subject)
        names[f"fault_options.{kind}.{field}"] = subject
    return options, names


def _check_fault_kind(kind: str, subject: str) -> None:
    from ..faults import FAULT_KINDS

    if kind not in FAULT_KINDS:
        raise UserError(f"{subject}: unknown fault kind {kind!r}; use one of: {', '.join(sorted(FAULT_KINDS))}.")


def _check_fault_field(kind: str, field: str, subject: str) -> None:
    """Raise `UserError` unless `field` is a field of fault kind `kind` that a campaign may set."""
    from ..campaign import fault_option_fields

    settable = fault_option_fields(kind)
    if field not in settable:
        reasons = {
            "rate": f" The rate comes from --rates; inside a combination, {kind}@RATE in --faults fixes it.",
            "among": " Unit subsets (among) are set only on faults built in Python.",
        }
        raise UserError(
            f"{subject}: fault kind {kind} has no settable field {field!r}; its settable fields are "
            f"{', '.join(settable)}.{reasons.get(field, '')}"
        )


def _field_is_optional(kind: str, field: str) -> bool:
    """Return whether `field` of fault kind `kind` defaults to None, so it also takes "none"."""
    import dataclasses

    from ..faults import FAULT_KINDS

    return next(f for f in dataclasses.fields(FAULT_KINDS[kind]) if f.name == field).default is None


def _text_field_value(raw: str, kind: str, field: str, subject: str):
    """Parse the text of `--fault-option KIND.FIELD=VALUE` to the field's type; raise `UserError` if invalid."""
    value_type, example = FAULT_FIELD_TYPES[field]
    text = raw.strip()
    optional = _field_is_optional(kind, field)
    if optional and text.lower() == "none":
        return None
    try:
        if value_type == "bool":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            value = text.lower() == "true"
        elif value_type == "int":
            value = int(text)
        elif value_type == "float":
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(text)
        else:
            value = tuple(int(part) for part in text.split(","))
    except ValueError:
        expected = FIELD_TYPE_NAMES[value_type] + (" or none" if optional else "")
        raise UserError(
            f"{subject} must be {expected}, got {raw!r}; for example --fault-option {kind}.{field}={example}."
        ) from None
    if field == "scale":
        _check_scale(value, subject)
    return _check_unique(value, subject)


def _toml_field_value(value, kind: str, field: str, subject: str):
    """Check a [fault_options.KIND] value in a TOML file and return it as the field's type."""
    value_type, example = FAULT_FIELD_TYPES[field]
    optional = _field_is_optional(kind, field)
    if optional and isinstance(value, str) and value.strip().lower() == "none":
        return None

    is_int = isinstance(value, int) and not isinstance(value, bool)
    if value_type == "bool" and isinstance(value, bool):
        return value
    if value_type == "int" and is_int:
        return value
    if value_type == "float" and (is_int or isinstance(value, float)) and math.isfinite(value):
        return _check_scale(float(value), subject) if field == "scale" else float(value)
    if value_type == "ints" and is_int:
        return (value,)
    if (
        value_type == "ints"
        and isinstance(value, list)
        and value
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return _check_unique(tuple(value), subject)

    expected = {
        "bool": "true or false",
        "int": "an integer",
        "float": "a finite number",
        "ints": "an integer or a non-empty list of integers",
    }[value_type] + (' or "none"' if optional else "")
    toml_example = f"[{example}]" if value_type == "ints" else example
    raise UserError(
        f"{subject} must be {expected}, got {value!r}; "
        f"for example {field} = {toml_example} under [fault_options.{kind}]."
    )


def _check_scale(value, subject: str):
    """Raise `UserError` for a fixed-point `scale` that is not positive (the fault kind accepts any float)."""
    if value is not None and not value > 0:
        raise UserError(
            f"{subject} must be positive, got {value!r}; pass the weight of one fixed-point unit, or none to "
            "derive it from each layer's largest weight."
        )
    return value


def _check_unique(value, subject: str):
    """Raise `UserError` when a tuple of layers or bit positions repeats an entry; return `value`."""
    if isinstance(value, tuple):
        repeated = sorted({v for v in value if value.count(v) > 1})
        if repeated:
            raise UserError(f"{subject} repeats {repeated}; list each entry once.")
    return value


def _fault_kwargs(options: dict) -> dict:
    """Return fault keyword options with lists of layers or bits as the tuples the fault kinds take."""
    return {key: tuple(v) if isinstance(v, list) else v for key, v in options.items()}


def _check_fault_options(kind: str, base: dict, requested: dict, names: dict[str, str]) -> None:
    """Raise `UserError` naming the requested fields when fault kind `kind` rejects them.

    `base` contains the options `--bits` and `--fixed-format` set for the kind.
    Errors the base options cause alone are left to `CampaignConfig.validate`,
    whose messages name those options.
    """
    from ..faults import FAULT_KINDS

    def error_of(options: dict) -> str | None:
        try:
            FAULT_KINDS[kind](0.0, **_fault_kwargs(options))
        except ValueError as error:
            return str(error)
        return None

    message = error_of({**base, **requested})
    if message is None or error_of(base) is not None:
        return
    culprits = [field for field in requested if error_of({**base, field: requested[field]}) is not None]
    subjects = ", ".join(_option(f"fault_options.{kind}.{field}", names) for field in culprits or requested)
    raise UserError(f"{subjects}: {message}")


def build_config(settings: dict, *, names: dict[str, str] | None = None, cli_keys: frozenset[str] = frozenset()):
    """Return a validated `CampaignConfig` from resolved settings; raise `UserError` if invalid.

    `names` maps each setting read from a TOML file to its name in error messages,
    such as "rates in 'config.toml'". Messages name the other settings by option.
    `cli_keys` are the settings given as options, which the engine checks tell
    apart from settings left at their defaults.
    """
    from ..campaign import CampaignConfig
    from ..faults import parse_fault_spec
    from ..pipeline import RunConfig

    names = names or {}
    faults = parse_fault_specs(settings["faults"], _option("faults", names))
    kinds = tuple(dict.fromkeys(kind for spec in faults for kind, _ in parse_fault_spec(spec)))
    requested = settings.get("fault_options") or {}
    for kind, fields in requested.items():
        if fields and kind not in kinds:
            subject = _option(f"fault_options.{kind}.{next(iter(fields))}", names)
            faults_name = _option("faults", names)
            raise UserError(
                f"{subject} sets a field of {kind}, which is not in {faults_name} ({','.join(faults)}); "
                f"add {kind} to {faults_name} or drop the option."
            )
    options = {}
    bits_name = _option("bits", names)
    bits = None if settings["bits"] is None else tuple(parse_int_list(str(settings["bits"]), bits_name, "0,7"))
    _check_unique(bits, bits_name)
    format_name = _option("fixed_format", names)
    try:
        q_i, q_f = (int(v) for v in str(settings["fixed_format"]).split("."))
    except ValueError:
        raise UserError(
            f"{format_name} must look like 2.6 (integer.fraction bits), got {settings['fixed_format']!r}."
        ) from None
    bit_kinds = [kind for kind in ("synapse_bitflip_fixed", "synapse_bitflip_float") if kind in kinds]
    if bits is not None and not bit_kinds:
        raise UserError(
            f"{bits_name} applies to synapse_bitflip_fixed and synapse_bitflip_float, and {_option('faults', names)} "
            f"({','.join(faults)}) has neither; add one of them or drop {bits_name}."
        )
    if "synapse_bitflip_fixed" in kinds:
        options["synapse_bitflip_fixed"] = {"int_bits": q_i, "frac_bits": q_f, "bits": bits}
    if "synapse_bitflip_float" in kinds:
        options["synapse_bitflip_float"] = {"bits": bits}
    for kind, fields in requested.items():
        if not fields:
            continue
        _check_fault_options(kind, options.get(kind, {}), fields, names)
        options[kind] = {**options.get(kind, {}), **fields}
    _check_bit_options(options, requested, bits_name, format_name, settings["fixed_format"])
    engine = str(settings["engine"])
    if engine not in ("dense", "differential", "event"):
        raise UserError(f"{_option('engine', names)} must be dense, differential or event, got {engine!r}.")
    engine_options = {}
    if settings["capacity"] is not None:
        if engine != "differential":
            raise UserError(
                f"{_option('capacity', names)} applies only to the differential engine, but "
                f"{_option('engine', names)} is {engine!r}; drop the capacity or choose the differential engine."
            )
        engine_options["capacity"] = _parse_capacity(settings["capacity"], _option("capacity", names))
    if engine in ("differential", "event"):
        _check_differential_settings(faults, settings, engine, names, cli_keys)
    try:
        run = RunConfig(
            dataset=settings["dataset"],
            data_path=settings["data_path"],
            steps=settings["steps"],
            epochs=settings["epochs"],
            batch_size=settings["batch_size"],
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
            sensitivity=bool(settings["sensitivity"]),
            engine=engine,
            engine_options=engine_options,
        )
        config.validate()
    except ValueError as error:
        raise UserError(_rename_options(str(error), names)) from None
    if config.run.dataset != "digits" and config.run.data_path is None:
        if "dataset" in names:
            raise UserError(
                f"{names['dataset']} is {config.run.dataset!r}, which needs --data-path (or data_path in the "
                "TOML file) pointing at the downloaded files."
            )
        raise UserError(f"--dataset {config.run.dataset} needs --data-path pointing at the downloaded files.")
    return config


def _check_bit_options(options: dict, requested: dict, bits_name: str, format_name: str, fixed_format) -> None:
    """Raise `UserError` when `--bits` or `--fixed-format` do not fit a bit-flip kind they set.

    Kinds with `--fault-option` fields were checked with those fields already,
    so only the others are checked here, against the options that set them.
    """
    both = "synapse_bitflip_fixed" in options and "synapse_bitflip_float" in options
    hint = "; to give each kind its own positions, use --fault-option KIND.bits=POSITIONS" if both else ""
    fixed = options.get("synapse_bitflip_fixed")
    if fixed is not None and not requested.get("synapse_bitflip_fixed"):
        q_i, q_f = fixed["int_bits"], fixed["frac_bits"]
        width = q_i + q_f
        if not (q_i >= 1 and q_f >= 0 and 2 <= width <= 31):
            raise UserError(
                f"{format_name} {fixed_format} is not a supported fixed-point format; use at least one integer bit "
                "(it holds the sign), no negative fraction bits and 2 to 31 bits in all, such as 2.6."
            )
        outside = [b for b in fixed["bits"] or () if not 0 <= b < width]
        if outside:
            raise UserError(
                f"{bits_name} lists bit positions {outside} outside the {width}-bit Q({q_i}, {q_f}) word of "
                f"synapse_bitflip_fixed; use positions 0 to {width - 1}{hint}."
            )
    floating = options.get("synapse_bitflip_float")
    if floating is not None and not requested.get("synapse_bitflip_float"):
        outside = [b for b in floating["bits"] or () if not 0 <= b < 32]
        if outside:
            raise UserError(
                f"{bits_name} lists bit positions {outside} outside the 32-bit float word of synapse_bitflip_float; "
                f"use positions 0 to 31{hint}."
            )


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


def _check_differential_settings(
    faults: tuple[str, ...], settings: dict, engine: str, names: dict[str, str], cli_keys: frozenset[str]
) -> None:
    """Raise `UserError` for settings the differential or event engine cannot run.

    A setting read from the TOML file is named by its key and file, and its fix is
    a line of that file. When `engine` comes from the TOML file, the fixes of the
    settings left at their defaults are TOML lines too. Settings given as options
    keep their option names.
    """
    from ..faults import FAULT_KINDS
    from ..faults.differential import SUPPORTED_FAULTS

    # names[key] is "KEY in 'FILE'", so removing the key leaves " in 'FILE'".
    toml_keys = [key for key in ("engine", "faults", "repair", "transient", "devices") if key in names]
    in_file = names[toml_keys[0]].removeprefix(toml_keys[0]) if toml_keys else ""

    def from_toml(key: str) -> bool:
        return key in names or ("engine" in names and key not in cli_keys)

    def fixes(*changes: tuple[str, str, str]) -> str:
        """Join fixes `(key, TOML line, option text)` in order, with one "set" for all the TOML lines."""
        lines = [line for key, line, _ in changes if from_toml(key)]
        parts = []
        for key, _, option in changes:
            if not from_toml(key):
                parts.append(option)
            elif f"set {' or '.join(lines)}{in_file}" not in parts:
                parts.append(f"set {' or '.join(lines)}{in_file}")
        return " or ".join(parts)

    subject = f'engine = "{engine}"{in_file}' if "engine" in names else f"--engine {engine}"
    use_dense = ("engine", 'engine = "dense"', "pass --engine dense")
    supported = [name for name, cls in FAULT_KINDS.items() if cls in SUPPORTED_FAULTS]
    for kind in faults:
        if kind not in supported:
            if from_toml("faults"):
                runnable = [f for f in faults if f in supported] or supported[:1]
                listed = ", ".join(f'"{f}"' for f in runnable)
                fix = fixes(("faults", f"faults = [{listed}]", ""), use_dense)
            else:
                fix = f"remove the kind from --faults or {fixes(use_dense)}"
            label = "combined faults" if kind not in FAULT_KINDS else "fault kind"
            raise UserError(
                f"{subject} does not support {label} {kind!r}; it supports {', '.join(supported)}. "
                f"{fix[0].upper()}{fix[1:]}."
            )
    if settings["repair"]:
        requested = f" (repair = true{in_file})" if "repair" in names else ""
        fix = fixes(("repair", "repair = false", "add --no-repair"), use_dense)
        raise UserError(f"{subject} does not evaluate repair{requested}; {fix}.")
    if settings["transient"]:
        if "transient" not in names:
            raise UserError(f"{subject} does not support --transient faults; {fixes(use_dense)}.")
        fix = fixes(("transient", "transient = false", ""), use_dense)
        raise UserError(f"{subject} does not support transient faults (transient = true{in_file}); {fix}.")
    devices = int(settings["devices"])
    if devices > 1:
        if not (from_toml("devices") or from_toml("engine")):
            raise UserError(f"{subject} runs on one device; pass --devices 1 or --engine dense.")
        requested = f" (devices = {devices}{in_file})" if "devices" in names else ""
        fix = fixes(("devices", "devices = 1", "pass --devices 1"), use_dense)
        raise UserError(f"{subject} runs on one device{requested}; {fix}.")


def _check_fault_layers(config, network) -> None:
    """Check, before any heavy work, that every fault kind's `layers` exist in the network."""
    from ..faults import Combined, Transient

    for spec in config.faults:
        fault = config.build_fault(spec, 0.0)
        fault = fault.fault if isinstance(fault, Transient) else fault
        for part in fault.faults if isinstance(fault, Combined) else (fault,):
            try:
                part.target_layers(network)
            except ValueError as error:
                raise UserError(f"fault option {part.name}.layers: {error}") from None


def _check_engine_rates(config, network) -> None:
    """Check, before any heavy work, that the differential or event engine can run the network at every rate."""
    if config.engine not in ("differential", "event"):
        return
    from ..faults import check_event_network, sparse_fault_capacity

    if config.engine == "event":
        try:
            check_event_network(network)
        except ValueError as error:
            raise UserError(f"--engine event: {error}") from None

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
                raise UserError(f"--engine {config.engine}, fault kind {kind!r}: {error}") from None


def _warn_empty_bit_flips(config, network) -> None:
    """Warn about exact-mode bit-flip rates that flip no bit at all, so their results equal the fault-free run."""
    from ..faults import Combined, SynapseBitFlipFixed, SynapseBitFlipFloat, Transient
    from ..faults.differential import _space

    warned = set()
    for spec in config.faults:
        for rate in config.rates:
            fault = config.build_fault(spec, rate)
            fault = fault.fault if isinstance(fault, Transient) else fault
            for part in fault.faults if isinstance(fault, Combined) else (fault,):
                part_rate = float(part.rate)
                if not isinstance(part, SynapseBitFlipFixed | SynapseBitFlipFloat) or part_rate <= 0 or not part.exact:
                    continue
                _, sizes, n_bits = _space(network, part)
                positions = sum(sizes) * n_bits
                if math.floor(part_rate * positions + 1e-6) == 0 and (part.name, part_rate) not in warned:
                    warned.add((part.name, part_rate))
                    print(
                        f"lifa sweep: warning: {part.name} at rate {part_rate:g} flips floor({part_rate:g} x "
                        f"{positions}) = 0 bits per mask in exact mode, so its results equal the fault-free run; raise "
                        f"the rate, or draw a Bernoulli count with --fault-option {part.name}.exact=false",
                        file=sys.stderr,
                    )


def run(args) -> int:
    """Execute `lifa sweep`."""
    from ..campaign import missing_chunks, write_campaign_file

    started = time.perf_counter()
    if args.resume is not None:
        folder = args.resume
        config = _resumed_config(args)
        if not missing_chunks(config, folder):
            summary = _read_summary(folder, config)
            missing = [name for name in _output_files(config) if not (folder / name).is_file()]
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
        quick = toml.pop("quick", False) or args.quick
        fault_options, option_names = _requested_fault_options(args, toml)
        explicit = _explicit(args)
        settings = {**DEFAULTS, **(QUICK if quick else FULL), **toml, **explicit, "fault_options": fault_options}
        names = {**_toml_names(args.config, toml, explicit), **option_names}
        config = build_config(settings, names=names, cli_keys=frozenset(explicit))
        folder = args.out or default_out_dir("sweep")

    timings = {}
    try:
        network, data, source = _load_inputs(config, folder, timings, resumed=args.resume is not None)
    except UserError as error:
        # Name settings such as batch_size by their TOML key when the file set them.
        raise UserError(_rename_options(str(error), names if args.resume is None else {})) from None
    shape = network if network is not None else _network_shape(config, data)
    _check_fault_layers(config, shape)
    _check_engine_rates(config, shape)
    _warn_empty_bit_flips(config, shape)
    if args.resume is None:
        inputs = (config.checkpoint, config.run.data_path, args.config)
        _claim_folder(folder, overwrite=args.overwrite, inputs=tuple(p for p in inputs if p is not None))
        write_campaign_file(folder, config)
    try:
        return _execute(
            config, folder, network, data, source, timings=timings, started=started, resumed=args.resume is not None
        )
    except KeyboardInterrupt:
        print(_interrupt_message(config, folder), file=sys.stderr)
        return 130


def _interrupt_message(config, folder: pathlib.Path) -> str:
    """Return the line printed when Ctrl-C stops a campaign, naming what `--resume` does next."""
    resume = f"Continue with: lifa sweep --resume {folder}"
    if config.checkpoint is None and not (folder / "model.eqx").is_file():
        return (
            f"lifa sweep: interrupted before the trained model was saved (model.eqx is written when training "
            f"ends), so --resume trains it again (seed {config.run.seed}, {config.run.epochs} epochs). {resume}"
        )
    return f"lifa sweep: interrupted; finished chunks, if any, are kept in {folder}. {resume}"


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
    quick = toml.pop("quick", False) or args.quick
    fault_options, option_names = _requested_fault_options(args, toml)
    explicit = _explicit(args)
    requested = {**(QUICK if quick else {}), **toml, **explicit}
    stored_settings = _settings_from_config(stored)
    settings = {**stored_settings, **requested}
    settings["fault_options"] = _resumed_fault_options(
        stored_settings["fault_options"], requested, fault_options, settings
    )
    names = {**_toml_names(args.config, toml, explicit), **option_names}
    if "engine" in requested and requested["engine"] != stored_settings["engine"]:
        # Checked first: the new engine's own checks would suggest changes that a resume rejects.
        raise UserError(
            f"the campaign in {str(folder)!r} was started with other settings (engine); engine: "
            f"{stored_settings['engine']!r} stored, {requested['engine']!r} requested. Resume without changing it, "
            "or start a new campaign with --out."
        )
    if "faults" in requested:
        # Checked first too: the fault options of kinds dropped from faults would be listed as changes of their own.
        faults = parse_fault_specs(requested["faults"], _option("faults", names))
        if faults != tuple(stored.faults):
            raise UserError(
                f"the campaign in {str(folder)!r} was started with other settings (faults); faults: "
                f"{','.join(stored.faults)!r} stored, {','.join(faults)!r} requested. Resume without changing it, "
                "or start a new campaign with --out."
            )
    config = build_config(settings, names=names, cli_keys=frozenset(explicit))
    # Fault options are compared with their defaults filled in, so giving a field
    # at its default value on resume is no change.
    try:
        stored_dict = {**stored.to_dict(), "fault_options": stored.resolved_fault_options()}
    except ValueError as error:
        raise UserError(f"{str(folder / 'campaign.json')!r} contains invalid fault options: {error}") from None
    requested_dict = {**config.to_dict(), "fault_options": config.resolved_fault_options()}
    # The number of devices does not change any mask's result, so a campaign may resume on other devices.
    requested_dict["devices"] = stored_dict["devices"]
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
    return dataclasses.replace(stored, devices=config.devices)


def _resumed_fault_options(stored: dict, requested: dict, fault_options: dict, settings: dict) -> dict:
    """Return the fault fields a resumed campaign is rebuilt with: the stored ones, then the requested ones.

    Stored fields of kinds that the request drops from `faults` are left out, and
    a requested `--bits` or `--fixed-format` replaces the stored fields it sets,
    so the comparison with campaign.json shows the change.
    """
    faults = set()
    for spec in str(settings["faults"]).split(","):
        faults |= {part.partition("@")[0].strip() for part in spec.split("+")}
    replaced = set()
    if "bits" in requested:
        replaced.add("bits")
    if "fixed_format" in requested:
        replaced |= {"int_bits", "frac_bits"}
    merged = {}
    for kind, fields in stored.items():
        if kind in faults:
            bitflip = kind in ("synapse_bitflip_fixed", "synapse_bitflip_float")
            merged[kind] = {f: v for f, v in fields.items() if not (bitflip and f in replaced)}
    for kind, fields in fault_options.items():
        merged[kind] = {**merged.get(kind, {}), **fields}
    return merged


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
        "batch_size": config.run.batch_size,
        "repair_passes": config.run.repair_passes,
        "devices": config.devices,
        "bits": bits,
        "fixed_format": fixed,
        "transient": config.transient,
        "sensitivity": config.sensitivity,
        "engine": config.engine,
        "capacity": _capacity_setting(config.engine_options.get("capacity")),
        "fault_options": {kind: dict(fields) for kind, fields in options.items()},
    }


def _capacity_setting(capacity) -> str | None:
    """Return a stored capacity in the form `--capacity` takes (None when absent)."""
    if capacity is None:
        return None
    values = capacity if isinstance(capacity, list) else [capacity]
    return ",".join("none" if c is None else str(c) for c in values)


def _claim_folder(folder: pathlib.Path, *, overwrite: bool, inputs: tuple = ()) -> None:
    import shutil

    from ..io.atomic import check_replaceable, creation_problem

    if folder.exists() and not folder.is_dir():
        raise UserError(f"output path {str(folder)!r} exists and is not a folder; choose another --out.")
    if folder.is_dir() and any(folder.iterdir()):
        if not overwrite:
            raise UserError(
                f"output folder {str(folder)!r} exists and is not empty; choose another --out, pass --overwrite, "
                "or continue it with --resume."
            )
        try:
            check_replaceable(folder)
        except FileExistsError as error:
            raise UserError(str(error)) from None
        for path in inputs:
            resolved = pathlib.Path(path).resolve()
            if resolved == folder.resolve() or folder.resolve() in resolved.parents:
                raise UserError(
                    f"--overwrite would delete {str(path)!r}, an input of this campaign inside {str(folder)!r}; "
                    "copy it elsewhere or choose another --out."
                )
        shutil.rmtree(folder)
    existed = folder.is_dir()
    try:
        # A folder that another process creates after the checks above is not shared.
        folder.mkdir(parents=True, exist_ok=existed)
    except FileExistsError:
        raise UserError(
            f"output folder {str(folder)!r} was just created by another process; choose another --out."
        ) from None
    except OSError as error:
        raise UserError(
            f"cannot create output folder {str(folder)!r} ({creation_problem(folder.resolve(), error)}); "
            "choose another --out."
        ) from None


def _load_inputs(config, folder: pathlib.Path, timings: dict, *, resumed: bool):
    """Load the data and the model (checkpoint, a resumed campaign's model, or none yet).

    A resumed campaign reads the model.eqx it saved before its first chunk, the
    model its chunks were computed with, so a relative checkpoint path works from
    any working folder. A new campaign never reads a model.eqx left in `--out`.
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
    saved = folder / "model.eqx"
    source = str(saved) if resumed and saved.is_file() else config.checkpoint
    if resumed and source is not None and source == config.checkpoint and not pathlib.Path(source).exists():
        if not pathlib.Path(source).is_absolute():
            raise UserError(
                f"checkpoint {source!r} not found: {str(folder)!r} contains no model.eqx, and campaign.json gives "
                "the checkpoint relative to the folder the campaign was started from; resume from that folder, or "
                f"copy the model to {str(saved)!r}."
            )
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
            pipeline.check_training_data(config.run, data)
        except ValueError as error:
            raise UserError(str(error)) from None
    return network, data, source


def _execute(
    config, folder: pathlib.Path, network, data, source, *, timings: dict, started: float, resumed: bool = False
) -> int:
    import jax
    from tqdm import tqdm

    from .. import pipeline
    from ..campaign import campaign_dataset, campaign_records, chunk_bounds, run_campaign, save_dataset
    from ..faults import sensitivity_map
    from ..io import atomic_write_json, atomic_write_text, save_checkpoint
    from ..io.plots import plot_ft_vs_rate, plot_sensitivity
    from ..io.report import render_sweep_report

    key = jax.random.key(config.run.seed)
    k_init, k_train, k_sweep, _ = jax.random.split(key, 4)
    if network is None:
        written = _written_chunks(config, folder) if resumed else 0
        if written:
            print(
                f"lifa sweep: warning: {folder} contains {written} chunk file{'' if written == 1 else 's'} but no "
                f"model.eqx, so the model is trained again from the stored seed {config.run.seed}; the chunks "
                f"already written were computed with the earlier model, so delete {folder / 'chunks'} to "
                "recompute them with the new one",
                file=sys.stderr,
            )
        elif resumed:
            print(
                f"lifa sweep: {folder} contains no model.eqx, which is saved only when training ends, so the model "
                f"is trained again (seed {config.run.seed}, {config.run.epochs} epochs)",
                file=sys.stderr,
            )
        else:
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
        # A resumed campaign reads its saved copy, and names the checkpoint it was started with.
        model_source = f"loaded from {config.checkpoint or source}"
    if not (folder / "model.eqx").is_file():
        save_checkpoint(folder / "model.eqx", network, {"source": source or "trained by lifa sweep"})

    clock = time.perf_counter()
    setup = pipeline.sweep_setup(config.run, network, data, key=k_sweep, repair=config.repair)
    try:
        pipeline.check_baseline(setup, data.n_test)
    except pipeline.UndefinedBaselineError as error:
        raise UserError(f"{error} No mask was evaluated; {folder} contains campaign.json and model.eqx.") from None
    n_chunks = len(config.faults) * len(config.rates) * len(chunk_bounds(config))
    done_before = _written_chunks(config, folder) if resumed else 0
    if done_before:
        print(f"lifa sweep: {done_before} of {n_chunks} chunks already done in {folder}", file=sys.stderr)
    with tqdm(total=n_chunks, initial=done_before, desc="fault campaign", unit="chunk", file=sys.stderr) as bar:

        def progress(done, total):
            # Chunks already on disk report first; the bar starts past them.
            if done > bar.n:
                bar.update(done - bar.n)

        arrays = run_campaign(config, folder, network, setup, progress=progress)
    a_ff = setup.accuracy_fault_free
    records = campaign_records(config, arrays, a_ff, key=setup.bootstrap_key, n_test=data.n_test)
    timings["sweep"] = time.perf_counter() - clock

    clock = time.perf_counter()
    critical = None
    if config.sensitivity:
        _, drops = sensitivity_map(network, setup.spikes, setup.labels)
        critical = []
        for layer, drop in enumerate(drops):
            order = [int(i) for i in jax.numpy.argsort(-drop)[:10]]
            critical.append({"layer": layer, "neurons": order, "accuracy_drop": [float(drop[i]) for i in order]})
        timings["sensitivity_map"] = time.perf_counter() - clock

    save_dataset(campaign_dataset(config, arrays, a_ff), folder / "sweep.nc")
    plot_ft_vs_rate(records, folder / "ft_vs_rate.png")
    if config.sensitivity:
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
        "fault_options": config.resolved_fault_options(),
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


def _written_chunks(config, folder: pathlib.Path) -> int:
    """Count the chunk files of the campaign in `folder` that exist."""
    from ..campaign import chunk_bounds, missing_chunks

    total = len(config.faults) * len(config.rates) * len(chunk_bounds(config))
    return total - len(missing_chunks(config, folder))


def _print_results(summary: dict, folder: pathlib.Path) -> None:
    print(f"fault-free accuracy: {summary['accuracy_fault_free']:.4f} (higher is better); results in {folder}")
    width = _fault_width(summary)
    for r in summary["sweep"]:
        ft_r = "n/a (no repair run)" if r["ft_repair"] is None else f"{r['ft_repair']['mean']:.2f} %"
        print(
            f"  {r['fault']:<{width}} rate {r['rate']:<8g} FT no repair {r['ft_no_repair']['mean']:7.2f} %   "
            f"FT repair {ft_r}"
        )
    _print_flagged(summary, folder)


def _fault_width(summary: dict) -> int:
    """Return the width of the fault column: 24, or the longest fault name, such as a combination of kinds."""
    return max([24] + [len(r["fault"]) for r in summary["sweep"]])


def _print_flagged(summary: dict, folder: pathlib.Path) -> None:
    """Print the number of flagged masks (nonzero status) and one line per fault kind and rate that has any.

    Prints nothing when no mask is flagged.
    """
    from ..io.report import flagged_masks

    rows = [(r, flagged_masks(r)) for r in summary["sweep"]]
    rows = [(r, n) for r, n in rows if n]
    if not rows:
        return
    total = sum(r["masks"] for r in summary["sweep"])
    dataset = folder / summary.get("dataset_file", "sweep.nc")
    print(
        f"{sum(n for _, n in rows)} of {total} masks flagged (nonzero status); "
        f"the flags of every mask are the status variable in {dataset}:"
    )
    for r, n in rows:
        flags = ", ".join(f"{text} ({count})" for text, count in r["status"].items() if text != "ok")
        print(f"  {r['fault']:<{_fault_width(summary)}} rate {r['rate']:<8g} {n} of {r['masks']} masks: {flags}")
