"""Resumable fault campaigns: many fault kinds, rates and masks, written chunk by chunk.

A campaign folder contains `campaign.json` (the full configuration), `model.eqx`
(the model swept, so a resumed run uses the very same weights) and `chunks/`, one
file per evaluated chunk of masks, each written atomically. Interrupting a
campaign loses at most the chunk in flight; `run_campaign` on the same folder
skips the chunks already there. Because mask `i` of every fault and rate is drawn
from the `i`-th key of one split, a resumed campaign gives exactly the results of
an uninterrupted one.
"""

import dataclasses
import io
import json
import math
import pathlib
from collections.abc import Callable

import jax
import numpy as np
import xarray as xr

from .faults import (
    FAULT_KINDS,
    STATUS_FLAGS,
    AbstractEngine,
    AbstractFault,
    Combined,
    Dense,
    Differential,
    EventDriven,
    Transient,
    fault_from_name,
    fault_from_spec,
    mask_mesh,
    parse_fault_spec,
    shard_keys,
    sweep_masks,
)
from .io import atomic_write_bytes, atomic_write_json
from .network import SpikingNetwork
from .pipeline import RunConfig, SweepSetup, add_metrics

__all__ = [
    "CAMPAIGN_FILE",
    "CAMPAIGN_OWNED",
    "ENGINES",
    "SCHEMA_VERSION",
    "UNSETTABLE_FAULT_FIELDS",
    "CampaignConfig",
    "campaign_dataset",
    "campaign_records",
    "chunk_bounds",
    "chunk_path",
    "collect_chunks",
    "config_differences",
    "fault_option_fields",
    "load_dataset",
    "missing_chunks",
    "read_campaign_file",
    "run_campaign",
    "save_dataset",
    "sweep_dataset",
    "write_campaign_file",
]

CAMPAIGN_FILE = "campaign.json"
SCHEMA_VERSION = 1
ENGINES = {"dense": Dense, "differential": Differential, "event": EventDriven}
# Fault fields that `fault_options` cannot set: the rate is the campaign's `rates`
# axis, and `among` contains per-layer unit masks sized for one network, which a
# JSON configuration cannot store.
UNSETTABLE_FAULT_FIELDS = ("rate", "among")


def fault_option_fields(kind: str) -> tuple[str, ...]:
    """Return the fields of fault kind `kind` that `CampaignConfig.fault_options` may set, sorted."""
    fields = dataclasses.fields(FAULT_KINDS[kind])
    return tuple(sorted(f.name for f in fields if f.init and f.name not in UNSETTABLE_FAULT_FIELDS))


# Settings of `RunConfig` that a campaign replaces with its own fields.
CAMPAIGN_OWNED = ("faults", "rates", "masks", "chunk_size")


@dataclasses.dataclass(frozen=True)
class CampaignConfig:
    """Settings of a fault campaign; `run` contains the model, data and repair settings.

    - `faults`: fault kind names (see `lifa_jax.faults.FAULT_KINDS`), or kinds
      evaluated together in one mask joined by "+", such as
      `"neuron_dead+astrocyte_dead@0.5"` (see `lifa_jax.faults.Combined`).
    - `rates`: fault rates in [0, 1] (per unit; per bit for bit flips).
    - `masks`: masks per kind and rate; `chunk_size`: masks per chunk file.
    - `repair`: also evaluate with homeostatic astrocyte repair.
    - `fault_options`: keyword options per kind, e.g. `{"synapse_bitflip_fixed": {"bits": [7]}}`;
      `fault_option_fields(kind)` lists the fields a kind accepts. Only kinds in
      `faults` may have options; a kind's options apply wherever it appears.
    - `devices`: number of devices to split masks over (1: no sharding).
    - `checkpoint`: the model file swept, or None to train one with `run`.
    - `transient`: redraw every mask on every time step instead of once per run.
    - `sensitivity`: also compute the single-neuron sensitivity map (one dense
      simulation of the test set per hidden neuron).
    - `engine`: sweep engine name (see `ENGINES`); `engine_options`: its keyword
      options, e.g. `{"capacity": [4096, None]}` for `"differential"`.
    """

    run: RunConfig = RunConfig()
    faults: tuple[str, ...] = ("neuron_dead", "synapse_dead")
    rates: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
    masks: int = 100
    chunk_size: int = 25
    repair: bool = True
    fault_options: dict = dataclasses.field(default_factory=dict)
    devices: int = 1
    checkpoint: str | None = None
    transient: bool = False
    sensitivity: bool = True
    engine: str = "dense"
    engine_options: dict = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        """Raise `ValueError` naming the first invalid setting and its fix."""
        self.run.validate()
        if not self.faults:
            raise ValueError("--faults is empty; give at least one fault kind.")
        for spec in self.faults:
            try:
                parse_fault_spec(spec)
            except ValueError as error:
                raise ValueError(f"--faults: {error}") from None
        bad = [r for r in self.rates if not (math.isfinite(r) and 0.0 <= r <= 1.0)]
        if bad:
            raise ValueError(f"--rates must lie in [0, 1], got {bad}; pass fractions such as 0,0.1,0.3.")
        repeated = sorted({r for r in self.rates if list(self.rates).count(r) > 1})
        if repeated:
            raise ValueError(f"--rates repeats {repeated}; give each rate once (the dataset is indexed by rate).")
        repeated = sorted({f for f in self.faults if list(self.faults).count(f) > 1})
        if repeated:
            raise ValueError(f"--faults repeats {repeated}; give each fault kind once.")
        if self.masks < 1:
            raise ValueError(f"--masks must be at least 1, got {self.masks}; pass the number of masks per rate.")
        if self.chunk_size < 1:
            raise ValueError(f"--chunk-size must be at least 1, got {self.chunk_size}.")
        if self.devices < 1:
            raise ValueError(f"--devices must be at least 1, got {self.devices}.")
        if self.devices > len(jax.devices()):
            raise ValueError(
                f"--devices {self.devices} exceeds the {len(jax.devices())} devices JAX sees; pass --devices "
                f"{len(jax.devices())} or fewer, or on a CPU set XLA_FLAGS=--xla_force_host_platform_device_count="
                f"{self.devices} before starting Python."
            )
        if self.devices > 1 and (self.chunk_size % self.devices or self.masks % self.chunk_size):
            raise ValueError(
                f"with --devices {self.devices}, --chunk-size must be a multiple of {self.devices} and --masks a "
                f"multiple of --chunk-size; got --chunk-size {self.chunk_size} and --masks {self.masks}."
            )
        for kind, options in self.fault_options.items():
            if kind not in FAULT_KINDS:
                raise ValueError(
                    f"fault options given for unknown kind {kind!r}; use one of: {', '.join(sorted(FAULT_KINDS))}."
                )
            if kind not in self.kinds():
                raise ValueError(
                    f"fault options given for {kind!r}, which is not in faults {list(self.faults)}; "
                    f"add {kind} to faults or drop its options."
                )
            settable = fault_option_fields(kind)
            unknown = sorted(set(options) - set(settable))
            if unknown:
                raise ValueError(
                    f"fault option {unknown[0]!r} is not a settable field of {kind!r}; "
                    f"its settable fields are {', '.join(settable)}."
                )
        engine = self.build_engine()
        for kind in self.faults:
            engine.check(self.build_fault(kind, 0.0), repair=self.repair, sharded=self.devices > 1)

    def build_engine(self) -> AbstractEngine:
        """Return the sweep engine named by `engine` with `engine_options`."""
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; use one of: {', '.join(sorted(ENGINES))}.")
        try:
            return ENGINES[self.engine](**self.engine_options)
        except TypeError as error:
            raise ValueError(f"invalid options {self.engine_options} for engine {self.engine!r}: {error}.") from None

    def kinds(self) -> tuple[str, ...]:
        """Return the fault kinds that `faults` names, those inside combinations included, in order."""
        return tuple(dict.fromkeys(kind for spec in self.faults for kind, _ in parse_fault_spec(spec)))

    def _options(self, kind: str) -> dict:
        options = dict(self.fault_options.get(kind, {}))
        for key in ("bits", "layers"):
            if key in options and options[key] is not None:
                options[key] = tuple(options[key])
        return options

    def build_fault(self, spec: str, rate: float) -> AbstractFault | Combined:
        """Return the fault that `spec` names (a kind, or kinds joined by "+") at `rate`, with this campaign's options."""
        options = {kind: self._options(kind) for kind, _ in parse_fault_spec(spec)}
        try:
            fault = fault_from_spec(spec, rate, options)
        except TypeError as error:
            raise ValueError(f"invalid options {options} for faults {spec!r}: {error}.") from None
        return Transient(fault) if self.transient else fault

    def resolved_fault_options(self) -> dict:
        """Return every settable field of every kind in `faults`, with defaults filled in, as JSON values.

        Two campaigns whose resolved options are equal build the same faults, even
        when one gives a field at its default value and the other leaves it out.
        """
        resolved = {}
        for kind in self.kinds():
            fault = fault_from_name(kind, 0.0, **self._options(kind))
            resolved[kind] = {name: getattr(fault, name) for name in fault_option_fields(kind)}
        return json.loads(json.dumps(resolved, default=_json_default))

    def to_dict(self) -> dict:
        """Return the configuration as plain JSON values.

        `run` leaves out the sweep settings of `RunConfig` (faults, rates, masks,
        chunk size), which `lifa run` uses and a campaign sets with its own fields,
        so that campaign.json names each setting once.
        """
        data = json.loads(json.dumps(dataclasses.asdict(self)))
        for name in CAMPAIGN_OWNED:
            data["run"].pop(name, None)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "CampaignConfig":
        """Rebuild a configuration written by `to_dict`."""
        data = dict(data)
        run = dict(data.pop("run"))
        for name in ("topology", "hidden", "faults", "rates"):
            if run.get(name) is not None:
                run[name] = tuple(run[name])
        data["faults"] = tuple(data["faults"])
        data["rates"] = tuple(data["rates"])
        return cls(run=RunConfig(**run), **data)


def _json_default(value):
    """Convert array-valued fault fields (a Python API may pass them) to lists for JSON."""
    return np.asarray(value).tolist()


def config_differences(stored: dict, requested: dict, prefix: str = "") -> list[str]:
    """Return the dotted names of the fields whose values differ between two config dicts."""
    fields = []
    for key in sorted(set(stored) | set(requested)):
        a, b = stored.get(key), requested.get(key)
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            fields += config_differences(a, b, prefix=f"{name}.")
        elif a != b:
            fields.append(name)
    return fields


def chunk_path(folder: pathlib.Path, kind: str, rate_index: int, chunk: int) -> pathlib.Path:
    """Return the file holding one chunk of masks."""
    return folder / "chunks" / f"{kind}__rate{rate_index:03d}__chunk{chunk:05d}.npz"


def chunk_bounds(config: CampaignConfig) -> list[tuple[int, int]]:
    """Return the `(start, stop)` mask indices of every chunk."""
    return [(a, min(a + config.chunk_size, config.masks)) for a in range(0, config.masks, config.chunk_size)]


def missing_chunks(config: CampaignConfig, folder: pathlib.Path) -> list[pathlib.Path]:
    """Return the chunk files of the campaign in `folder` that are not written yet."""
    return [
        chunk_path(folder, kind, r, c)
        for kind in config.faults
        for r in range(len(config.rates))
        for c in range(len(chunk_bounds(config)))
        if not chunk_path(folder, kind, r, c).is_file()
    ]


def write_campaign_file(folder: pathlib.Path, config: CampaignConfig) -> None:
    """Write `campaign.json` (atomically) describing the campaign in `folder`."""
    atomic_write_json(folder / CAMPAIGN_FILE, {"schema_version": SCHEMA_VERSION, "config": config.to_dict()})


def read_campaign_file(folder: pathlib.Path) -> CampaignConfig:
    """Read `campaign.json` from a campaign folder."""
    path = folder / CAMPAIGN_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} not found; --resume needs a folder written by 'lifa sweep'.")
    data = json.loads(path.read_text())
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{str(path)!r} has schema version {data.get('schema_version')!r}; expected {SCHEMA_VERSION}.")
    return CampaignConfig.from_dict(data["config"])


def run_campaign(
    config: CampaignConfig,
    folder: pathlib.Path,
    network: SpikingNetwork,
    setup: SweepSetup,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Evaluate every missing chunk of the campaign in `folder`; return the raw arrays.

    **Returns:** a dict with `accuracy_no_repair`, `accuracy_repair` and `status`,
    each of shape `(faults, rates, masks)`.
    """
    if config.repair and setup.set_points is None:
        raise ValueError(
            "the campaign evaluates repair but `setup` has no repair calibration; "
            "build it with sweep_setup(..., repair=True)."
        )
    keys = jax.random.split(setup.mask_key, config.masks)
    engine = config.build_engine()
    mesh = mask_mesh(jax.devices()[: config.devices]) if config.devices > 1 else None
    repair = setup.repair if config.repair else None
    bounds = chunk_bounds(config)
    total = len(config.faults) * len(config.rates) * len(bounds)
    done = 0
    for kind in config.faults:
        for r, rate in enumerate(config.rates):
            fault = config.build_fault(kind, rate)
            for c, (start, stop) in enumerate(bounds):
                path = chunk_path(folder, kind, r, c)
                if not path.is_file():
                    chunk_keys = keys[start:stop]
                    if mesh is not None:
                        chunk_keys = shard_keys(chunk_keys, mesh)
                    result = sweep_masks(
                        network,
                        fault,
                        chunk_keys,
                        setup.spikes,
                        setup.labels,
                        repair=repair,
                        set_points=setup.set_points if repair else None,
                        adapt_spikes=setup.stream if repair else None,
                        chunk_size=(stop - start) // (config.devices if mesh is not None else 1),
                        mesh=mesh,
                        engine=engine,
                    )
                    buffer = io.BytesIO()
                    np.savez(
                        buffer,
                        accuracy_no_repair=np.asarray(result.accuracy_no_repair),
                        accuracy_repair=np.asarray(result.accuracy_repair),
                        status=np.asarray(result.status),
                        start=start,
                        stop=stop,
                        rate=rate,
                    )
                    atomic_write_bytes(path, buffer.getvalue())
                done += 1
                if progress is not None:
                    progress(done, total)
    return collect_chunks(config, folder)


def collect_chunks(config: CampaignConfig, folder: pathlib.Path) -> dict:
    """Assemble the chunk files of a finished campaign into `(faults, rates, masks)` arrays."""
    shape = (len(config.faults), len(config.rates), config.masks)
    out = {
        "accuracy_no_repair": np.full(shape, np.nan, np.float32),
        "accuracy_repair": np.full(shape, np.nan, np.float32),
        "status": np.zeros(shape, np.int32),
    }
    for f, kind in enumerate(config.faults):
        for r in range(len(config.rates)):
            for c, (start, stop) in enumerate(chunk_bounds(config)):
                with np.load(chunk_path(folder, kind, r, c)) as chunk:
                    for name in out:
                        out[name][f, r, start:stop] = chunk[name]
    return out


def campaign_records(
    config: CampaignConfig, arrays: dict, accuracy_fault_free: float, *, key: jax.Array, n_test: int
) -> list[dict]:
    """Return one summary record per fault kind and rate, with FT, D and R and their 95 % intervals.

    `arrays` are the `(faults, rates, masks)` arrays of `collect_chunks`; `key`
    draws the bootstrap samples of R and `n_test` is the number of test samples.
    Without repair the repair metrics are None.
    """
    records = []
    for f, kind in enumerate(config.faults):
        for r, rate in enumerate(config.rates):
            no_repair = arrays["accuracy_no_repair"][f, r]
            records.append(
                {
                    "fault": kind,
                    "rate": rate,
                    "masks": config.masks,
                    "accuracy_no_repair": no_repair,
                    "accuracy_repair": arrays["accuracy_repair"][f, r] if config.repair else no_repair,
                    "status": arrays["status"][f, r],
                }
            )
    add_metrics(records, accuracy_fault_free, key=key, n_test=n_test)
    for record in records:
        record.pop("per_mask")
        if not config.repair:
            for name in ("accuracy_repair", "ft_repair", "deviation", "recovery"):
                record[name] = None
    return records


def _results_dataset(faults, rates, masks: int, arrays: dict, accuracy_fault_free: float, attrs: dict) -> xr.Dataset:
    """Return `(fault, rate, mask)` accuracy, FT and status arrays as a labelled dataset."""
    coords = {"fault": list(faults), "rate": list(rates), "mask": np.arange(masks)}
    dims = ("fault", "rate", "mask")
    a_f, a_r = arrays["accuracy_no_repair"], arrays["accuracy_repair"]

    def ft(values):
        return 100.0 * (1.0 - np.abs(accuracy_fault_free - values) / abs(accuracy_fault_free))

    with np.errstate(divide="ignore", invalid="ignore"):
        ft_no_repair, ft_repair = ft(a_f).astype(np.float32), ft(a_r).astype(np.float32)
    return xr.Dataset(
        {
            "accuracy_no_repair": (dims, a_f, {"description": "accuracy with the fault, no repair"}),
            "accuracy_repair": (dims, a_r, {"description": "accuracy with the fault and astrocyte repair"}),
            "ft_no_repair": (dims, ft_no_repair, {"units": "%", "direction": "higher is better"}),
            "ft_repair": (dims, ft_repair, {"units": "%", "direction": "higher is better"}),
            "status": (
                dims,
                arrays["status"],
                {"description": "bit flags: " + ", ".join(f"{flag} {text}" for flag, text in STATUS_FLAGS.items())},
            ),
        },
        coords=coords,
        attrs={"accuracy_fault_free": accuracy_fault_free, **attrs},
    )


def campaign_dataset(config: CampaignConfig, arrays: dict, accuracy_fault_free: float) -> xr.Dataset:
    """Return the campaign's results as an `xarray.Dataset` over (fault, rate, mask).

    Variables: accuracies without and with repair, FT without and with repair (%,
    higher is better) and the status flags of every mask.
    """
    return _results_dataset(
        config.faults,
        config.rates,
        config.masks,
        arrays,
        accuracy_fault_free,
        {"config": json.dumps(config.to_dict())},
    )


def sweep_dataset(records: list[dict], accuracy_fault_free: float) -> xr.Dataset:
    """Return the records of `run_sweep` as an `xarray.Dataset` over (fault, rate, mask).

    The dataset has the layout of a `lifa sweep` campaign's `sweep.nc`: accuracies
    without and with repair, FT without and with repair (%, higher is better,
    against `accuracy_fault_free`) and the status flags of every mask. The fault
    axis lists the fault kinds in the order they first appear in `records`, and
    the rate axis every rate in increasing order. A fault kind not swept at some
    rate has NaN accuracies there and status 0. Save it with `save_dataset` and
    read it back with `load_dataset` (both in `lifa_jax.campaign`).

    **Arguments:**

    - `records`: the list returned by `run_sweep` (or records with its keys).
    - `accuracy_fault_free`: the accuracy of the network without faults, which
      FT compares with, such as `jnp.mean(golden_run(network, spikes).predictions
      == labels)`.

    **Returns:** an `xarray.Dataset` with dimensions `fault`, `rate` and `mask`.
    """
    if not records:
        raise ValueError("records is empty; pass the list returned by run_sweep.")
    try:
        a_ff = math.nan if isinstance(accuracy_fault_free, str) else float(accuracy_fault_free)
    except (TypeError, ValueError):
        a_ff = math.nan
    if not 0.0 < a_ff <= 1.0:
        raise ValueError(
            f"accuracy_fault_free must be an accuracy in (0, 1], got {accuracy_fault_free!r}; pass the fault-free "
            "accuracy as a float (FT divides by it, so 0 leaves FT undefined)."
        )
    masks = {int(record["masks"]) for record in records}
    if len(masks) > 1:
        raise ValueError(
            f"the records have different numbers of masks ({sorted(masks)}); "
            "build one dataset per number of masks, or sweep every fault with the same n_masks."
        )
    (n_masks,) = masks
    faults = list(dict.fromkeys(record["fault"] for record in records))
    rates = sorted({float(record["rate"]) for record in records})
    shape = (len(faults), len(rates), n_masks)
    arrays = {
        "accuracy_no_repair": np.full(shape, np.nan, np.float32),
        "accuracy_repair": np.full(shape, np.nan, np.float32),
        "status": np.zeros(shape, np.int32),
    }
    seen = set()
    for record in records:
        cell = (faults.index(record["fault"]), rates.index(float(record["rate"])))
        if cell in seen:
            raise ValueError(
                f"two records share fault {record['fault']!r} and rate {record['rate']!r}, which one cell of the "
                "dataset cannot hold; build one dataset per fault option (for example per bit position)."
            )
        seen.add(cell)
        for name in arrays:
            arrays[name][cell] = np.asarray(record[name])
    return _results_dataset(faults, rates, n_masks, arrays, a_ff, {})


def save_dataset(ds: xr.Dataset, path: pathlib.Path) -> pathlib.Path:
    """Write `ds` as netCDF (scipy backend) atomically."""
    return atomic_write_bytes(path, ds.to_netcdf(engine="scipy"))


def load_dataset(path: str | pathlib.Path) -> xr.Dataset:
    """Read a dataset written by `save_dataset`: a `.nc` file, or a campaign folder that contains `sweep.nc`."""
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "sweep.nc"
    if not path.is_file():
        raise FileNotFoundError(
            f"sweep dataset {str(path)!r} not found; pass the sweep.nc of a finished campaign or its folder."
        )
    with xr.open_dataset(path, engine="scipy") as ds:
        return ds.load()
