"""The main job: train a LIFA network, sweep faults with and without repair, summarise.

`lifa run` is a thin wrapper around `RunConfig` and `run_main_job`; notebooks can
call the same phases one by one (`prepare_data`, `build_network`,
`train_network`, `fault_sweep`, `measure_inference`).
"""

import dataclasses
import math
import numbers
import platform
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .data import Dataset, load_dataset
from .dynamics import LIF, LIFA, Gliotransmitter, TripartiteCoupling, reset_from_name
from .faults import fault_from_spec, parse_fault_spec, run_sweep
from .faults.sweep import STATUS_FLAGS
from .metrics import DIRECTIONS, fault_tolerance, mean_ci95, recovery_ci95
from .network import PoissonEncoder, RegularEncoder, SpikingNetwork, predict, simulate
from .repair import HomeostaticRepair, SetPoints
from .training import TrainConfig, encode_batch, surrogate_from_name, train

DEFAULT_RATES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Every setting of the main job, with units. `validate` checks them all."""

    dataset: str = "digits"
    data_path: str | None = None
    topology: tuple[int, ...] | None = None  # None: (features, 128, classes)
    hidden: tuple[int, ...] = (128,)
    steps: int = 20  # simulation steps per sample (T)
    dt: float = 1.0  # ms
    tau_n: float = 20.0  # ms
    t_ref: float = 2.0  # ms
    reset: str = "zero"
    tau_c: float = 2000.0  # ms
    kappa_c: float = 50.0  # ms
    tau_g: float = 1000.0  # ms
    delta_g: float = 200.0  # ms
    alpha: float = 0.05
    domain_size: int = 16  # neurons per astrocyte
    encoder: str = "regular"
    max_rate: float = 500.0  # Hz
    surrogate: str = "fast_sigmoid"
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 0.05
    faults: tuple[str, ...] = ("neuron_dead", "synapse_dead")
    rates: tuple[float, ...] = DEFAULT_RATES
    masks: int = 100
    chunk_size: int = 25
    repair_eta: float = 0.5
    repair_passes: int = 20
    repair_g_max: float = 4.0
    repair_samples: int = 128  # unlabelled training samples for calibration and adaptation
    max_train: int | None = None
    max_test: int | None = None
    seed: int = 0

    def validate(self) -> None:
        """Raise `ValueError` naming the first invalid setting and its fix."""
        positive = {
            "--steps": self.steps,
            "--dt": self.dt,
            "--tau-n": self.tau_n,
            "--tau-c": self.tau_c,
            "--tau-g": self.tau_g,
            "--epochs": self.epochs,
            "--batch-size": self.batch_size,
            "--learning-rate": self.learning_rate,
            "--masks": self.masks,
            "--chunk-size": self.chunk_size,
            "--domain-size": self.domain_size,
            "--max-rate": self.max_rate,
            "--repair-passes": self.repair_passes,
            "--repair-samples": self.repair_samples,
        }
        for flag, value in positive.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{flag} must be positive, got {value!r}; pass a value above 0.")
        for flag, value in (("--max-train", self.max_train), ("--max-test", self.max_test)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1):
                raise ValueError(f"{flag} must be at least 1, got {value!r}; omit it to use all samples.")
        if not (math.isfinite(self.t_ref) and self.t_ref >= 0):
            raise ValueError(f"--t-ref must be non-negative, got {self.t_ref!r}; pass a refractory period in ms.")
        if not (math.isfinite(self.alpha) and self.alpha >= 0):
            raise ValueError(f"--alpha must be non-negative, got {self.alpha!r}; pass 0 to switch astrocytes off.")
        if self.max_rate * self.dt / 1000.0 > 1.0:
            raise ValueError(
                f"--max-rate {self.max_rate} Hz with --dt {self.dt} ms gives more than one spike per step; "
                f"lower --max-rate to at most {1000.0 / self.dt:g} Hz."
            )
        bad_rates = [r for r in self.rates if not (math.isfinite(r) and 0.0 <= r <= 1.0)]
        if bad_rates:
            raise ValueError(f"--rates must lie in [0, 1], got {bad_rates}; pass fractions such as 0,0.1,0.3.")
        repeated = sorted({r for r in self.rates if list(self.rates).count(r) > 1})
        if repeated:
            raise ValueError(f"--rates repeats {repeated}; give each rate once.")
        for spec in self.faults:
            parse_fault_spec(spec)
        reset_from_name(self.reset)
        surrogate_from_name(self.surrogate)
        if self.encoder not in ("regular", "poisson"):
            raise ValueError(f"unknown encoder {self.encoder!r}; use regular or poisson.")
        if self.topology is not None and (len(self.topology) < 2 or min(self.topology) < 1):
            raise ValueError(
                f"--topology must list at least two positive layer sizes, got {list(self.topology)}; for example 64,128,10."
            )


def prepare_data(config: RunConfig) -> Dataset:
    """Load the data set named in `config` (digits by default, no download)."""
    kwargs = {"max_train": config.max_train, "max_test": config.max_test}
    return load_dataset(config.dataset, config.data_path, **kwargs)


def resolve_topology(config: RunConfig, data: Dataset) -> tuple[int, ...]:
    """Return the topology, checking that its ends match the data's features and classes."""
    topology = config.topology or (data.n_features, *config.hidden, data.n_classes)
    if topology[0] != data.n_features or topology[-1] != data.n_classes:
        middle = ",".join(str(n) for n in topology[1:-1]) or "128"
        raise ValueError(
            f"--topology {','.join(map(str, topology))} does not match the {data.name} data "
            f"({data.n_features} inputs, {data.n_classes} classes); use "
            f"--topology {data.n_features},{middle},{data.n_classes}."
        )
    return tuple(topology)


def check_training_data(config: RunConfig, data: Dataset) -> None:
    """Raise `ValueError` when `data` has fewer training samples than one batch of `config`."""
    if config.batch_size > data.n_train:
        raise ValueError(
            f"--batch-size must be at most the {data.n_train} training samples of the {data.name} data, got "
            f"{config.batch_size}; pass {data.n_train} or less"
            + (" or raise --max-train." if config.max_train is not None else ".")
        )


def make_encoder(config: RunConfig):
    """Return the input encoder named in `config`."""
    cls = PoissonEncoder if config.encoder == "poisson" else RegularEncoder
    return cls(max_rate=config.max_rate, dt=config.dt)


def build_network(config: RunConfig, topology: tuple[int, ...], *, key) -> SpikingNetwork:
    """Return an untrained network with the neuron, astrocyte and coupling settings of `config`."""
    return SpikingNetwork.init(
        topology,
        key=key,
        neuron=LIF(tau_n=config.tau_n, t_ref=config.t_ref, reset=reset_from_name(config.reset)),
        astrocyte=LIFA(tau_c=config.tau_c, kappa_c=config.kappa_c),
        gliotransmitter=Gliotransmitter(tau_g=config.tau_g, delta_g=config.delta_g),
        coupling=TripartiteCoupling(alpha=config.alpha),
        domain_size=config.domain_size,
        dt=config.dt,
    )


def train_config(config: RunConfig) -> TrainConfig:
    """Return the training settings of `config`."""
    return TrainConfig(
        steps=config.steps,
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        surrogate=surrogate_from_name(config.surrogate),
        encoder=make_encoder(config),
    )


def train_network(config, network, data, *, key, progress=None):
    """Train `network` on `data.x_train`; return `(network, history)`."""
    return train(network, data.x_train, data.y_train, train_config(config), key=key, progress=progress)


def repair_stream(config: RunConfig, data: Dataset, *, key):
    """Return the encoded unlabelled stream used to calibrate and then adapt repair.

    Set-points and post-fault rates are measured on the same `repair_samples`
    training samples, so rate differences come from the fault alone and without
    faults the gains stay exactly 1.
    """
    idx = np.arange(config.repair_samples) % data.n_train
    return encode_batch(make_encoder(config), jnp.asarray(data.x_train[idx]), config.steps, key)


@dataclasses.dataclass(frozen=True)
class SweepSetup:
    """Everything a fault sweep shares across masks: encoded test set, repair state, keys.

    `repair`, `set_points` and `stream` are None when the setup was built with
    `repair=False`.
    """

    spikes: jax.Array
    labels: jax.Array
    accuracy_fault_free: float
    repair: HomeostaticRepair | None
    set_points: SetPoints | None
    stream: jax.Array | None
    mask_key: jax.Array
    bootstrap_key: jax.Array


class UndefinedBaselineError(ValueError):
    """The fault-free accuracy is 0, so the fault tolerance rate, which divides by it, is undefined."""


def check_baseline(setup: SweepSetup, n_test: int) -> None:
    """Raise `UndefinedBaselineError` when the fault-free accuracy of `setup` is 0, which leaves FT undefined."""
    if setup.accuracy_fault_free == 0.0:
        raise UndefinedBaselineError(
            f"the fault-free accuracy is 0 on the {n_test} test samples, so the fault tolerance rate, which "
            "divides by it, is undefined; evaluate more test samples (--max-test) or a better trained model."
        )


def sweep_setup(config: RunConfig, network: SpikingNetwork, data: Dataset, *, key, repair: bool = True) -> SweepSetup:
    """Encode the test set, measure fault-free accuracy and, with `repair`, calibrate repair.

    `repair=False` skips encoding the repair stream and calibrating the
    set-points. The keys of the test set, the masks and the bootstrap do not
    depend on it, so the accuracies without repair are the same either way.
    """
    k_test, k_streams, k_masks, k_boot = jax.random.split(key, 4)
    spikes = encode_batch(make_encoder(config), jnp.asarray(data.x_test), config.steps, k_test)
    labels = jnp.asarray(data.y_test)
    preds = jax.jit(jax.vmap(lambda s: predict(simulate(network, s))))(spikes)
    a_ff = float(jnp.mean(preds == labels))
    if not repair:
        return SweepSetup(spikes, labels, a_ff, None, None, None, k_masks, k_boot)

    homeostatic = HomeostaticRepair(eta=config.repair_eta, passes=config.repair_passes, g_max=config.repair_g_max)
    stream = repair_stream(config, data, key=k_streams)
    set_points = homeostatic.calibrate(network, stream)
    return SweepSetup(spikes, labels, a_ff, homeostatic, set_points, stream, k_masks, k_boot)


def add_metrics(records: list[dict], a_ff: float, *, key, n_test: int) -> list[dict]:
    """Add FT (without and with repair), D, R and their 95 % intervals to sweep records, in place."""
    one_sample = 1.0 / n_test
    for i, record in enumerate(records):
        a_f, a_r = np.asarray(record["accuracy_no_repair"]), np.asarray(record["accuracy_repair"])
        ft_f = np.asarray(fault_tolerance(a_ff, a_f))
        ft_r = np.asarray(fault_tolerance(a_ff, a_r))
        record.update(
            {
                "accuracy_no_repair": mean_ci95(a_f),
                "accuracy_repair": mean_ci95(a_r),
                "ft_no_repair": mean_ci95(ft_f),
                "ft_repair": mean_ci95(ft_r),
                "deviation": mean_ci95(100.0 - ft_r),
                "deviation_no_repair": mean_ci95(100.0 - ft_f),
                "recovery": recovery_ci95(a_ff, a_f, a_r, key=jax.random.fold_in(key, i), min_loss=one_sample),
                "status": _status_counts(record["status"]),
                "per_mask": {
                    "accuracy_no_repair": a_f.tolist(),
                    "accuracy_repair": a_r.tolist(),
                    "status": np.asarray(record["status"]).tolist(),
                },
            }
        )
    return records


def fault_sweep(config, network, data, *, key, progress=None):
    """Run the fault sweep of `config`; return `(accuracy_fault_free, records, repair)`.

    Every record gains the metrics FT (without and with repair), D and R, each with
    its 95 % confidence interval. Raises `UndefinedBaselineError` before any mask
    when the fault-free accuracy is 0.
    """
    setup = sweep_setup(config, network, data, key=key)
    check_baseline(setup, data.n_test)
    faults = [fault_from_spec(spec, rate) for spec in config.faults for rate in config.rates]
    records = run_sweep(
        network,
        faults,
        setup.spikes,
        setup.labels,
        n_masks=config.masks,
        key=setup.mask_key,
        repair=setup.repair,
        set_points=setup.set_points,
        adapt_spikes=setup.stream,
        chunk_size=config.chunk_size,
        progress=progress,
    )
    add_metrics(records, setup.accuracy_fault_free, key=setup.bootstrap_key, n_test=data.n_test)
    return setup.accuracy_fault_free, records, setup.repair


def _status_counts(status) -> dict:
    """Return how many masks had each status flag, with the flags' meanings."""
    status = np.asarray(status)
    counts = {"ok": int(np.sum(status == 0))}
    for flag, text in STATUS_FLAGS.items():
        n = int(np.sum((status & flag) != 0))
        if n:
            counts[text] = n
    return counts


def measure_inference(config, network, data, *, key, repeats: int = 3) -> dict:
    """Measure spike frequency, operations and wall-clock latency of batched inference.

    Latency is the best of `repeats` timed runs over the test set (after a
    compilation run) divided by the number of samples, on this machine's default
    JAX device. Spike frequency averages hidden and output neurons over the test
    set: spikes / (steps * dt).
    """
    spikes = encode_batch(make_encoder(config), jnp.asarray(data.x_test), config.steps, key)
    run = jax.jit(jax.vmap(lambda s: simulate(network, s).counts))
    counts = jax.block_until_ready(run(spikes))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(run(spikes))
        times.append(time.perf_counter() - start)
    latency = min(times) / data.n_test

    window_s = config.steps * config.dt / 1000.0
    total_spikes = sum(float(c.sum()) for c in counts)
    non_input = sum(network.topology[1:])
    rate_hz = total_spikes / (data.n_test * non_input * window_s)
    fan_out = network.topology[2:] + (0,)
    synaptic_events = sum(float((c * f).sum()) for c, f in zip(counts, fan_out))
    input_events = float(spikes.sum()) * network.topology[1]
    return {
        "avg_spike_frequency_hz": rate_hz,
        "macs_per_step": network.n_synapses,
        "synaptic_events_per_step": (synaptic_events + input_events) / (data.n_test * config.steps),
        "latency_s_per_sample": latency,
        "throughput_neurons_per_s": network.n_neurons / latency,
        "device": str(jax.devices()[0]),
    }


def versions() -> dict:
    """Return the versions of Python and the numerical libraries."""
    import diffrax
    import equinox
    import optax

    import lifa_jax

    return {
        "lifa_jax": lifa_jax.__version__,
        "python": platform.python_version(),
        "jax": jax.__version__,
        "equinox": equinox.__version__,
        "diffrax": diffrax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


def build_summary(config, data, network, a_ff, records, inference, history, timings) -> dict:
    """Return the `summary.json` content of a run."""
    sweep = []
    for r in records:
        entry = {k: v for k, v in r.items() if k != "per_mask"}
        sweep.append(entry)
    return {
        "dataset": data.name,
        "samples": {"train": data.n_train, "test": data.n_test},
        "topology": list(network.topology),
        "neurons": network.n_neurons,
        "synapses": network.n_synapses,
        "synapses_paper_convention": 2 * network.n_synapses,
        "astrocytes": int(sum(network.n_astrocytes)),
        "neurons_per_astrocyte": config.domain_size,
        "steps": config.steps,
        "dt_ms": config.dt,
        "accuracy_fault_free": a_ff,
        "training": {
            "epochs": config.epochs,
            "final_loss": history["loss"][-1] if history else None,
            "final_train_accuracy": history["accuracy"][-1] if history else None,
        },
        "sweep": sweep,
        **inference,
        "metric_directions": DIRECTIONS,
        "seed": config.seed,
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()},
        "timings_s": timings,
        "versions": versions(),
    }


def run_main_job(
    config: RunConfig,
    *,
    network: SpikingNetwork | None = None,
    data: Dataset | None = None,
    on_epoch: Callable | None = None,
    on_sweep: Callable | None = None,
) -> dict:
    """Run every phase and return a dict with the summary and the objects for plots.

    Pass `network` to skip training (a loaded checkpoint).
    """
    config.validate()
    key = jax.random.key(config.seed)
    k_init, k_train, k_sweep, k_infer = jax.random.split(key, 4)
    timings = {}

    data = prepare_data(config) if data is None else data
    topology = resolve_topology(config, data)

    history = None
    start = time.perf_counter()
    if network is None:
        network = build_network(config, topology, key=k_init)
        network, history = train_network(config, network, data, key=k_train, progress=on_epoch)
    timings["training"] = time.perf_counter() - start

    start = time.perf_counter()
    a_ff, records, repair = fault_sweep(config, network, data, key=k_sweep, progress=on_sweep)
    timings["sweep"] = time.perf_counter() - start

    inference = measure_inference(config, network, data, key=k_infer)
    summary = build_summary(config, data, network, a_ff, records, inference, history, timings)
    return {"summary": summary, "network": network, "data": data, "records": records, "history": history}
