"""The associative-memory study: capacity, fewer connections, faults and storage cost."""

import math
from collections.abc import Callable

import equinox as eqx
import jax
import numpy as np

from ..metrics import mean_ci95
from .base import check_fraction, check_positive_int
from .cost import (
    TECHNOLOGIES,
    astrocyte_footprint,
    diluted_footprint,
    hopfield_footprint,
    spiking_footprint,
    write_energy_j,
)
from .dilution import MagnitudePruning, RandomDilution
from .faults import NeuronDeath, SynapseDeath
from .models import DenseModel, HopfieldModel, NeuronAstrocyteModel
from .quality import capacity_from_curve, fit_power_law, random_patterns, recall_quality_curve
from .spiking import Homeostasis, SpikingHopfield, recall_under_faults


def _check_fractions(name: str, values: tuple[float, ...]) -> None:
    if not values:
        raise ValueError(f"{name} is empty; give at least one value.")
    for value in values:
        check_fraction(name, value)


class MemoryStudyConfig(eqx.Module):
    """Settings of the associative-memory study (all static; sizes in neurons).

    **Fields:**

    - `n_neurons`: size of the classical network for the quality-against-load
      curve and the dilution study.
    - `loads`: loads $K/N$ of that curve.
    - `sizes`: network sizes of the capacity-against-size study.
    - `cue_noise`: fraction of cue bits flipped.
    - `n_trials`, `n_cues`: trials per load and cues per trial.
    - `keep`: fractions of connections kept in the dilution study.
    - `dilution_load`: load of the classical network in the dilution study.
    - `dense_n`, `dense_load`: size and load of the neuron-astrocyte (dense) memory
      in the dilution study.
    - `fault_n`, `fault_patterns`: size and stored patterns of the spiking memory.
    - `neuron_rates`, `synapse_rates`: fault rates of dead neurons and synapses.
    - `n_masks`: fault masks per kind and rate.
    - `repair_passes`: adaptation passes of the astrocyte repair.
    - `bits`: weight width for the storage cost.
    - `ode_check`: also compare the neuron-astrocyte ODE with its dense reduction.
    - `seed`: seed of the JAX key behind everything random.
    """

    n_neurons: int = 500
    loads: tuple[float, ...] = (0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.14, 0.16, 0.18, 0.2, 0.25, 0.3)
    sizes: tuple[int, ...] = (16, 32, 64, 128, 256)
    cue_noise: float = 0.05
    n_trials: int = 8
    n_cues: int = 16
    keep: tuple[float, ...] = (1.0, 0.8, 0.6, 0.4, 0.3, 0.2, 0.1, 0.05)
    dilution_load: float = 0.05
    dense_n: int = 64
    dense_load: float = 2.0
    fault_n: int = 100
    fault_patterns: int = 5
    neuron_rates: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4)
    synapse_rates: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8)
    n_masks: int = 8
    repair_passes: int = 10
    bits: int = 8
    ode_check: bool = True
    seed: int = 0

    def __check_init__(self):
        for name in ("n_neurons", "dense_n", "fault_n", "fault_patterns", "n_trials", "n_cues", "n_masks"):
            check_positive_int(name, getattr(self, name), "pass a positive integer")
        check_positive_int("repair_passes", self.repair_passes, "pass the number of adaptation passes")
        check_positive_int("bits", self.bits, "pass the weight width in bits, e.g. 8")
        for name in ("n_neurons", "dense_n", "fault_n"):
            if getattr(self, name) < 8:
                raise ValueError(f"{name} must be at least 8, got {getattr(self, name)}; use a larger network.")
        if not self.sizes or any(not isinstance(n, int) or n < 8 for n in self.sizes):
            raise ValueError(f"sizes must be integers >= 8, got {list(self.sizes)}; e.g. 16,32,64.")
        if len(set(self.sizes)) < 2:
            raise ValueError(f"sizes needs at least two distinct sizes to fit a scaling law, got {list(self.sizes)}.")
        if not self.loads or any(not 0 < load <= 1 for load in self.loads):
            raise ValueError(f"loads must lie in (0, 1], got {list(self.loads)}; the Hebbian rule stores at most N.")
        _check_fractions("keep", self.keep)
        _check_fractions("neuron_rates", self.neuron_rates)
        _check_fractions("synapse_rates", self.synapse_rates)
        check_fraction("cue_noise", self.cue_noise)
        if not 0 < self.dilution_load <= 1:
            raise ValueError(f"dilution_load must lie in (0, 1], got {self.dilution_load!r}; e.g. 0.05.")
        if not 0 < self.dense_load <= self.dense_n**2:
            raise ValueError(f"dense_load must lie in (0, N^2 = {self.dense_n**2}], got {self.dense_load!r}; e.g. 2.")
        if self.fault_patterns > self.fault_n:
            raise ValueError(
                f"fault_patterns ({self.fault_patterns}) must not exceed fault_n ({self.fault_n}); store fewer."
            )


def _pattern_counts(loads, n_neurons: int) -> list[int]:
    return sorted({max(1, round(load * n_neurons)) for load in loads})


def _capacity_record(result) -> dict:
    interpolated = result.load_interpolated
    return {
        "n_neurons": result.curve.n_neurons,
        "n_patterns": result.n_patterns,
        "load": result.load,
        "load_interpolated": None if math.isnan(interpolated) else interpolated,
        "bounded": result.bounded,
        "grid": result.curve.n_patterns.tolist(),
        "quality": result.curve.quality.tolist(),
    }


def _mean_ci(values) -> dict:
    """Mean and 95 % confidence interval (Student t over masks)."""
    summary = mean_ci95(values)
    if summary["ci95"] is not None:
        summary["ci95"] = [summary["mean"] - summary["ci95"], summary["mean"] + summary["ci95"]]
    return summary


def _quality_vs_load(config, key, progress) -> dict:
    progress("classical network: recall quality against load")
    counts = _pattern_counts(config.loads, config.n_neurons)
    curve = recall_quality_curve(
        HopfieldModel(),
        config.n_neurons,
        counts,
        key=key,
        cue_noise=config.cue_noise,
        n_trials=config.n_trials,
        n_cues=config.n_cues,
    )
    result = capacity_from_curve(curve)
    return {
        **_capacity_record(result),
        "quality_std": curve.quality_std.tolist(),
        "two_cycle_fraction": curve.status_fraction[:, 1].tolist(),
        "max_sweeps_fraction": curve.status_fraction[:, 2].tolist(),
    }


def _capacity_vs_size(config, key, progress) -> dict:
    classical, dense = [], []
    for n in config.sizes:
        progress(f"capacity against size: N = {n}")
        classical_grid = sorted({int(k) for k in np.round(np.linspace(1, max(2, 0.4 * n), 16))})
        dense_grid = sorted({int(k) for k in np.round(np.geomspace(max(1, n / 2), n * n / 2, 16))})
        settings = dict(cue_noise=config.cue_noise, n_trials=config.n_trials, n_cues=config.n_cues)
        classical_curve = recall_quality_curve(HopfieldModel(), n, classical_grid, key=key, **settings)
        dense_curve = recall_quality_curve(DenseModel(), n, dense_grid, key=key, **settings)
        classical.append(_capacity_record(capacity_from_curve(classical_curve)))
        dense.append(_capacity_record(capacity_from_curve(dense_curve)))

    def fit(records):
        usable = [(r["n_neurons"], r["n_patterns"]) for r in records if r["n_patterns"] > 0]
        if len(usable) < 2:
            return None
        exponent, prefactor = fit_power_law(*zip(*usable, strict=True))
        return {"exponent": exponent, "prefactor": prefactor}

    return {"classical": classical, "dense": dense, "fit_classical": fit(classical), "fit_dense": fit(dense)}


def _dilution(config, key, progress) -> dict:
    settings = dict(cue_noise=config.cue_noise, n_trials=config.n_trials, n_cues=config.n_cues)
    k_classical = max(1, round(config.dilution_load * config.n_neurons))
    k_dense = max(1, round(config.dense_load * config.dense_n))
    records = []
    for kind, dilution_type in (("random", RandomDilution), ("magnitude", MagnitudePruning)):
        progress(f"fewer connections: {kind} dilution")
        for keep in config.keep:
            dilution = dilution_type(keep=float(keep))
            classical = recall_quality_curve(
                HopfieldModel(dilution=dilution), config.n_neurons, [k_classical], key=key, **settings
            )
            dense = recall_quality_curve(DenseModel(dilution=dilution), config.dense_n, [k_dense], key=key, **settings)
            records.append(
                {
                    "dilution": kind,
                    "keep": float(keep),
                    "classical_quality": float(classical.quality[0]),
                    "dense_quality": float(dense.quality[0]),
                }
            )
    return {
        "classical": {"n_neurons": config.n_neurons, "n_patterns": k_classical},
        "dense": {"n_neurons": config.dense_n, "n_patterns": k_dense},
        "records": records,
    }


def _faults(config, key, progress) -> dict:
    patterns = random_patterns(config.fault_patterns, config.fault_n, key=jax.random.fold_in(key, 1))
    model = SpikingHopfield()
    homeostasis = Homeostasis(n_passes=config.repair_passes)
    records = []
    for kind, fault_type, rates in (
        ("neuron_dead", NeuronDeath, config.neuron_rates),
        ("synapse_dead", SynapseDeath, config.synapse_rates),
    ):
        for rate in rates:
            progress(f"spiking memory under faults: {kind} at rate {rate:g}")
            result = recall_under_faults(
                model,
                patterns,
                fault_type(float(rate)),
                key=jax.random.fold_in(key, 2),
                homeostasis=homeostasis,
                n_masks=config.n_masks,
                cue_noise=config.cue_noise,
            )
            fault_free = float(result.fault_free)
            faulty = np.asarray(result.faulty)
            repaired = np.asarray(result.repaired)
            lost = fault_free - faulty
            recovered = np.where(lost > 0, 100.0 * (repaired - faulty) / np.where(lost > 0, lost, 1.0), np.nan)
            recovered = recovered[~np.isnan(recovered)]
            records.append(
                {
                    "fault": kind,
                    "rate": float(rate),
                    "quality_fault_free": fault_free,
                    "quality_no_repair": _mean_ci(faulty),
                    "quality_repair": _mean_ci(repaired),
                    "recovery_percent": _mean_ci(recovered) if recovered.size else None,
                    "mean_gain": float(np.asarray(result.gains).mean()),
                }
            )
    return {
        "n_neurons": config.fault_n,
        "n_patterns": config.fault_patterns,
        "n_astrocytes": model.n_astrocytes,
        "masks": config.n_masks,
        "repair_passes": config.repair_passes,
        "records": records,
    }


def _cost(config, capacity) -> dict:
    n = config.n_neurons
    dense_last = capacity["dense"][-1]
    footprints = [
        hopfield_footprint(n, config.bits),
        *[diluted_footprint(n, config.bits, keep) for keep in config.keep if keep < 1],
        astrocyte_footprint(dense_last["n_neurons"], max(1, dense_last["n_patterns"])),
        spiking_footprint(config.fault_n, config.bits),
    ]
    return {
        "bits_per_weight": config.bits,
        "footprints": [
            {
                "model": f.model,
                "weight_bits": f.weight_bits,
                "pattern_bits": f.pattern_bits,
                "state_bits": f.state_bits,
                "total_bits": f.total_bits,
                "description": f.description,
                "write_energy_j": {t.name: write_energy_j(f, t) for t in TECHNOLOGIES},
            }
            for f in footprints
        ],
        "technologies": [
            {
                "name": t.name,
                "capacitance_per_bit_f": t.capacitance_f,
                "energy_per_bit_j": t.energy_per_bit_j,
                "capacitance_per_weight_f": t.weight_capacitance_f(config.bits),
                "energy_per_weight_j": t.weight_energy_j(config.bits),
                "write_voltage_v": t.write_voltage_v,
                "node": t.node,
                "source": t.source,
                "estimate": t.estimate,
            }
            for t in TECHNOLOGIES
        ],
    }


def _ode_check(config, key, progress) -> dict:
    progress("neuron-astrocyte ODE against its dense reduction")
    n = 32
    counts = [8, 32, 64]
    settings = dict(cue_noise=0.1, n_trials=2, n_cues=4)
    ode = recall_quality_curve(NeuronAstrocyteModel(), n, counts, key=key, **settings)
    dense = recall_quality_curve(DenseModel(), n, counts, key=key, **settings)
    return {
        "n_neurons": n,
        "n_patterns": counts,
        "cue_noise": 0.1,
        "ode_quality": ode.quality.tolist(),
        "dense_quality": dense.quality.tolist(),
        "ode_solver_failed_fraction": ode.status_fraction[:, 4].tolist(),
    }


def count_stages(config: MemoryStudyConfig) -> int:
    """Return how many progress lines `run_study` emits for `config`."""
    fault_stages = len(config.neuron_rates) + len(config.synapse_rates)
    return 1 + len(config.sizes) + 2 + fault_stages + int(config.ode_check)


def run_study(config: MemoryStudyConfig, progress: Callable[[str], None] | None = None) -> dict:
    """Run the whole study and return its JSON-ready summary.

    The stages, in order:

    - classical recall quality against load, with its capacity;
    - capacity against network size for the classical and the neuron-astrocyte
      (dense) memories, with power-law fits;
    - recall against the fraction of connections kept (random dilution and
      magnitude pruning, both models);
    - the spiking memory under dead neurons and synapses, with and without
      astrocyte repair;
    - storage cost per technology;
    - when `config.ode_check`, the neuron-astrocyte ODE against its dense
      reduction.

    `progress` receives one line as each stage starts.
    """
    progress = progress or (lambda message: None)
    key = jax.random.key(config.seed)
    summary = {"config": {name: getattr(config, name) for name in config.__dataclass_fields__}}
    summary["quality_vs_load"] = _quality_vs_load(config, jax.random.fold_in(key, 10), progress)
    summary["capacity_vs_size"] = _capacity_vs_size(config, jax.random.fold_in(key, 11), progress)
    summary["dilution"] = _dilution(config, jax.random.fold_in(key, 12), progress)
    summary["faults"] = _faults(config, jax.random.fold_in(key, 13), progress)
    summary["cost"] = _cost(config, summary["capacity_vs_size"])
    if config.ode_check:
        summary["ode_check"] = _ode_check(config, jax.random.fold_in(key, 14), progress)
    return summary
