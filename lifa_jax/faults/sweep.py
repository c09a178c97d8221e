"""Fault sweeps: many masks per fault kind and rate, with and without astrocyte repair."""

import abc
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .._checks import check_class_labels, check_key, check_keys, check_set_points, check_spike_batch
from ..network import NetworkFaults, SpikingNetwork, effective_weights, predict, simulate
from ..repair import HomeostaticRepair, SetPoints
from .specs import AbstractFault, Combined, Transient, draw_faults, with_rate

STATUS_OK = 0
STATUS_NONFINITE_WEIGHTS = 1
STATUS_NONFINITE_MEMBRANE = 2
STATUS_OVERFLOW = 4
STATUS_DENSE_FALLBACK = 8
STATUS_FLAGS = {
    STATUS_NONFINITE_WEIGHTS: "the mask holds infinite or NaN weights",
    STATUS_NONFINITE_MEMBRANE: "some membrane was infinite or NaN at the end of a sample",
    STATUS_OVERFLOW: "a buffer of the differential engine overflowed (faulty synapses or changed spikes)",
    STATUS_DENSE_FALLBACK: "the differential or event-driven engine evaluated the mask with the dense path",
}


def describe_status(status: int) -> list[str]:
    """Return the meaning of each flag set in a mask's `status` (empty when 0)."""
    return [text for flag, text in STATUS_FLAGS.items() if int(status) & flag]


class MaskResult(eqx.Module):
    """Accuracies under one fault mask (or a batch of masks, leading axis).

    `status` holds bit flags (`STATUS_NONFINITE_WEIGHTS`, `STATUS_NONFINITE_MEMBRANE`,
    and from the differential engine `STATUS_OVERFLOW`, `STATUS_DENSE_FALLBACK`;
    0 when nothing unusual happened; `describe_status` spells them out). Accuracies are always finite: a non-finite
    membrane only changes which spikes happen.
    """

    accuracy_no_repair: Float[Array, "..."]
    accuracy_repair: Float[Array, "..."]
    status: Int[Array, "..."]


def accuracy_under(
    network: SpikingNetwork,
    spikes: Float[Array, "samples steps inputs"],
    labels: Int[Array, " samples"],
    faults: NetworkFaults,
    gains: tuple[Array, ...],
) -> Float[Array, ""]:
    """Return the accuracy of `network` with `faults` and `gains` on encoded inputs."""
    return _accuracy_and_nonfinite(network, spikes, labels, faults, gains)[0]


def _accuracy_and_nonfinite(network, spikes, labels, faults, gains, transient=None, key=None):
    def one(s, i):
        k = None if transient is None else jax.random.fold_in(key, i)
        result = simulate(network, s, faults=faults, gains=gains, transient=transient, key=k)
        return predict(result), result.nonfinite_membranes

    preds, nonfinite = jax.vmap(one)(spikes, jnp.arange(spikes.shape[0]))
    return jnp.mean(preds == labels), jnp.sum(nonfinite)


def evaluate_mask(
    network: SpikingNetwork,
    faults: NetworkFaults,
    spikes: Array,
    labels: Array,
    repair: HomeostaticRepair | None,
    set_points: SetPoints | None,
    adapt_spikes: Array | None,
    transient=None,
    key: PRNGKeyArray | None = None,
) -> MaskResult:
    """Return the accuracy under `faults` without repair and, when `repair` is given, with it.

    A `transient` fault is redrawn on every step of every sample from `key`; the
    runs without and with repair see the same draws.
    """
    status = jnp.int32(STATUS_OK)
    if faults.nonfinite:
        weights = effective_weights(network.weights, faults)
        bad = sum(jnp.sum(~jnp.isfinite(w)) for w in weights)
        status = status | jnp.where(bad > 0, STATUS_NONFINITE_WEIGHTS, STATUS_OK)
    a_f, nonfinite = _accuracy_and_nonfinite(network, spikes, labels, faults, network.unit_gains(), transient, key)
    if repair is None:
        a_r = jnp.full_like(a_f, jnp.nan)
    else:
        adapt_key = None if key is None else jax.random.fold_in(key, 2**31 - 1)
        gains = repair.adapt(network, faults, set_points, adapt_spikes, transient=transient, key=adapt_key)
        a_r, nonfinite_r = _accuracy_and_nonfinite(network, spikes, labels, faults, gains, transient, key)
        nonfinite = nonfinite + nonfinite_r
    status = status | jnp.where(nonfinite > 0, STATUS_NONFINITE_MEMBRANE, STATUS_OK)
    return MaskResult(a_f, a_r, status)


class AbstractEngine(eqx.Module):
    """Base of the sweep engines, which draw and evaluate a fault sweep's masks (`Dense`, `Differential`).

    An engine is a configuration object, passed as `engine=` to `sweep_masks` and
    `run_sweep`. For the same keys, different engines draw different masks from
    the same distribution, so one campaign keeps one engine.

    `traceable` is True when `sweep` runs under `jit` (`sweep_masks` then compiles
    it once per fault kind and options); an engine with native kernels sets it to
    False and is called eagerly.
    """

    traceable = True

    @abc.abstractmethod
    def check(self, fault: AbstractFault, *, repair: bool = False, sharded: bool = False) -> None:
        """Raise `ValueError` naming the fault kind when this engine cannot sweep `fault`.

        `repair`: the sweep also evaluates repair; `sharded`: it splits masks
        over a device mesh.
        """

    @abc.abstractmethod
    def compiled_fault(self, fault: AbstractFault) -> AbstractFault:
        """Return `fault` as `run_sweep` passes it into the compiled sweep."""

    @abc.abstractmethod
    def sweep(
        self,
        network: SpikingNetwork,
        fault: AbstractFault,
        keys: PRNGKeyArray,
        spikes: Array,
        labels: Array,
        *,
        repair: HomeostaticRepair | None,
        set_points: SetPoints | None,
        adapt_spikes: Array | None,
        chunk_size: int,
        mesh: jax.sharding.Mesh | None,
    ) -> MaskResult:
        """Evaluate one mask per key; see `sweep_masks`."""


class Dense(AbstractEngine):
    """Sweep engine that simulates the whole network under every mask (`draw_faults`, then `evaluate_mask`).

    Supports every fault kind, transient faults, repair and sharding over a mesh.
    The rate enters the compiled sweep as a traced array, so one compilation of
    `run_sweep` serves every rate of a fault kind.
    """

    def check(self, fault: AbstractFault, *, repair: bool = False, sharded: bool = False) -> None:
        """Accept every fault (see `AbstractEngine.check`)."""

    def compiled_fault(self, fault: AbstractFault) -> AbstractFault:
        """Return `fault` with its rate as a float32 array, traced under `jit`."""
        return with_rate(fault, jnp.asarray(fault.rate, dtype=jnp.float32))

    def sweep(self, network, fault, keys, spikes, labels, *, repair, set_points, adapt_spikes, chunk_size, mesh):
        """Draw each mask with `draw_faults` and simulate it with `evaluate_mask`, in chunks."""
        transient = fault if isinstance(fault, Transient) else None

        def one(key):
            faults = draw_faults(network, fault, key=key)
            return evaluate_mask(
                network, faults, spikes, labels, repair, set_points, adapt_spikes, transient=transient, key=key
            )

        def local(local_keys):
            return jax.lax.map(one, local_keys, batch_size=chunk_size)

        if mesh is None:
            return local(keys)
        spec = jax.sharding.PartitionSpec(mesh.axis_names[0])
        # Every value a device computes belongs to its own masks. Without the check of varying
        # types, scans may start from replicated carries (zeros) and continue with per-mask values.
        return jax.shard_map(local, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)(keys)


def _check_arguments(network: SpikingNetwork, spikes, labels, set_points) -> None:
    check_spike_batch(spikes, network.topology[0])
    check_class_labels("labels", labels, int(spikes.shape[0]), network.topology[-1])
    if set_points is not None:
        check_set_points(set_points, network.topology[1:])


def _check_faults(faults) -> None:
    if isinstance(faults, AbstractFault):
        raise ValueError(
            f"faults must be a list of faults, got one {type(faults).__name__}; pass [{type(faults).__name__}(...)]."
        )
    if isinstance(faults, str) or not isinstance(faults, Sequence):
        raise ValueError(
            f"faults must be a list of faults such as [NeuronDead(0.1)], got {type(faults).__name__}; "
            "build each with its class or with fault_from_name(kind, rate)."
        )
    if not faults:
        raise ValueError("faults is empty; pass at least one fault, such as [NeuronDead(0.1)].")
    for item in faults:
        if isinstance(item, str):
            builder = "fault_from_spec" if "+" in item or "@" in item else "fault_from_name"
            raise ValueError(
                f"faults must hold fault objects, got the name {item!r}; "
                f"build one with lifa_jax.faults.{builder}({item!r}, rate) or its class, such as NeuronDead(0.1)."
            )
        if not isinstance(item, AbstractFault | Transient | Combined):
            raise ValueError(
                f"faults must hold fault objects such as NeuronDead(0.1), got {type(item).__name__}; "
                "see lifa_jax.FAULT_KINDS for the kinds."
            )


def sweep_masks(
    network: SpikingNetwork,
    fault: AbstractFault,
    keys: PRNGKeyArray,
    spikes: Array,
    labels: Array,
    *,
    repair: HomeostaticRepair | None = None,
    set_points: SetPoints | None = None,
    adapt_spikes: Array | None = None,
    chunk_size: int = 16,
    mesh: jax.sharding.Mesh | None = None,
    engine: AbstractEngine = Dense(),
) -> MaskResult:
    """Evaluate one fault kind and rate under one mask per key, vmapped in chunks.

    `jax.lax.map` with `batch_size=chunk_size` vmaps `chunk_size` masks at a time, so
    memory is bounded by one chunk whatever the number of masks. Masks are drawn
    from `keys` inside the compiled function; the same keys and engine give the
    same masks.

    With a `mesh` (see `mask_mesh`), the keys are split across its devices with
    `jax.shard_map` and each device maps over its own keys in the same chunks, so
    the results equal a one-device run whenever `len(keys)` is a multiple of
    `devices * chunk_size`. `keys` must then be placed with `shard_keys`.

    `engine` chooses how masks are drawn and evaluated: `Dense()` (the default)
    simulates the whole network per mask, `Differential(capacity=...)`
    propagates each synapse mask's differences from one fault-free run (see
    `lifa_jax.faults.Differential` for the kinds it supports), and
    `EventDriven()` simulates each synapse mask event-driven on the CPU. The
    first two run under `jit`, compiled on the first call; later calls with the
    same shapes, engine, fault kind and options reuse the compilation (`Dense()`
    for any rate; `Differential` compiles once per rate, which must be concrete).
    `EventDriven()` runs eagerly with Numba kernels.

    **Arguments:**

    - `network`: the network to evaluate.
    - `fault`: one fault kind and rate, such as `NeuronDead(0.1)`.
    - `keys`: one PRNG key per mask (`jax.random.split(key, n_masks)`).
    - `spikes`: encoded inputs, shape `(samples, steps, topology[0])`.
    - `labels`: integer classes, shape `(samples,)`.
    - `repair`, `set_points`, `adapt_spikes`: astrocyte repair, its set-points
      (`repair.calibrate`) and the unlabelled adaptation stream; all three or none.
    - `chunk_size`: masks vmapped together; memory grows with it.
    - `mesh`: a device mesh (`mask_mesh`) to shard the masks over.
    - `engine`: `Dense()`, `Differential(...)` or `EventDriven()`.

    **Returns:** a `MaskResult` whose fields have shape `(len(keys),)`.
    """
    if not isinstance(fault, AbstractFault | Transient | Combined):
        raise ValueError(
            f"fault must be one fault such as NeuronDead(0.1), got {type(fault).__name__}; "
            "use run_sweep for a list of faults."
        )
    check_keys("keys", keys)
    engine.check(fault, repair=repair is not None, sharded=mesh is not None)
    _check_arguments(network, spikes, labels, set_points)
    labels = jnp.asarray(labels)
    run = _sweep_masks_jit if engine.traceable else _sweep_traced
    return run(
        network,
        engine.compiled_fault(fault),
        keys,
        spikes,
        labels,
        repair=repair,
        set_points=set_points,
        adapt_spikes=adapt_spikes,
        chunk_size=chunk_size,
        mesh=mesh,
        engine=engine,
    )


def _sweep_traced(network, fault, keys, spikes, labels, *, repair, set_points, adapt_spikes, chunk_size, mesh, engine):
    """Run `engine.sweep`; compiled by `_sweep_masks_jit`, so repeated calls reuse one compilation."""
    return engine.sweep(
        network,
        fault,
        keys,
        spikes,
        labels,
        repair=repair,
        set_points=set_points,
        adapt_spikes=adapt_spikes,
        chunk_size=chunk_size,
        mesh=mesh,
    )


_sweep_masks_jit = eqx.filter_jit(_sweep_traced)


def mask_mesh(devices=None) -> jax.sharding.Mesh:
    """Return a one-axis mesh named ``"masks"`` over `devices` (all devices by default)."""
    devices = jax.devices() if devices is None else list(devices)
    return jax.sharding.Mesh(np.asarray(devices), ("masks",), axis_types=(jax.sharding.AxisType.Auto,))


def shard_keys(keys: PRNGKeyArray, mesh: jax.sharding.Mesh) -> PRNGKeyArray:
    """Place `keys` split along the mesh's mask axis."""
    n = mesh.devices.size
    if keys.shape[0] % n:
        raise ValueError(f"{keys.shape[0]} masks do not split evenly over {n} devices; use a multiple of {n}.")
    return jax.device_put(keys, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(mesh.axis_names[0])))


def run_sweep(
    network: SpikingNetwork,
    faults: Sequence[AbstractFault],
    spikes: Array,
    labels: Array,
    *,
    n_masks: int,
    key: PRNGKeyArray,
    repair: HomeostaticRepair | None = None,
    set_points: SetPoints | None = None,
    adapt_spikes: Array | None = None,
    chunk_size: int = 16,
    mesh: jax.sharding.Mesh | None = None,
    engine: AbstractEngine = Dense(),
    progress: Callable[[int, int], None] | None = None,
) -> list[dict]:
    """Run `n_masks` masks of every fault in `faults` and return one record per fault.

    All faults draw their masks from `key` split the same way, so faults of one
    kind at different rates are compared on related draws, and the runs with and
    without repair share each mask and the inputs exactly. Every fault is checked
    against `engine` before any mask is evaluated.

    **Arguments:**

    - `network`: the network to evaluate.
    - `faults`: a list of faults, such as `[NeuronDead(0.1), NeuronDead(0.3)]`
      (`fault_from_name(kind, rate)` builds one from its name).
    - `spikes`: encoded inputs, shape `(samples, steps, topology[0])`
      (`lifa_jax.training.encode_batch`).
    - `labels`: integer classes, shape `(samples,)`.
    - `n_masks`: masks per fault; `key`: one PRNG key, split into the masks' keys.
    - `repair`, `set_points`, `adapt_spikes`, `chunk_size`, `mesh`, `engine`: as
      in `sweep_masks`.
    - `progress`: called with (faults done, faults in all) after each fault.

    **Returns:** one dict per fault with `fault`, `rate`, `masks`,
    `accuracy_no_repair`, `accuracy_repair` and `status` (numpy arrays of shape
    `(n_masks,)`; see `describe_status`). Without repair, `accuracy_repair` is
    NaN. `lifa_jax.campaign.sweep_dataset` turns the records into an
    `xarray.Dataset` over (fault, rate, mask).
    """
    _check_faults(faults)
    check_key("key", key)
    if not isinstance(n_masks, int | np.integer) or isinstance(n_masks, bool) or n_masks < 1:
        raise ValueError(
            f"n_masks must be an integer of at least 1, got {n_masks!r}; pass the number of masks per rate."
        )
    if repair is not None and (set_points is None or adapt_spikes is None):
        raise ValueError("repair needs set_points (HomeostaticRepair.calibrate) and adapt_spikes.")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}; pass the masks evaluated together.")
    for fault in faults:
        engine.check(fault, repair=repair is not None, sharded=mesh is not None)
    _check_arguments(network, spikes, labels, set_points)
    labels = jnp.asarray(labels)

    keys = jax.random.split(key, n_masks)
    if mesh is not None:
        keys = shard_keys(keys, mesh)
    records = []
    for i, fault in enumerate(faults):
        result = sweep_masks(
            network,
            fault,
            keys,
            spikes,
            labels,
            repair=repair,
            set_points=set_points,
            adapt_spikes=adapt_spikes,
            chunk_size=chunk_size,
            mesh=mesh,
            engine=engine,
        )
        records.append(
            {
                "fault": fault.name,
                "rate": float(fault.rate),
                "masks": int(n_masks),
                "accuracy_no_repair": np.asarray(result.accuracy_no_repair),
                "accuracy_repair": np.asarray(result.accuracy_repair),
                "status": np.asarray(result.status),
            }
        )
        if progress is not None:
            progress(i + 1, len(faults))
    return records


def sensitivity_map(
    network: SpikingNetwork,
    spikes: Array,
    labels: Array,
    *,
    layers: Sequence[int] | None = None,
    chunk_size: int = 32,
) -> tuple[Float[Array, ""], tuple[Float[Array, " neurons"], ...]]:
    """Return the fault-free accuracy and, per layer, the accuracy drop when each neuron alone is dead.

    One mask per neuron, evaluated with `jax.lax.map` in chunks. `layers` counts
    the neuron layers after the input: 0 is the first hidden layer and
    `len(topology) - 2` the output layer; they default to the hidden layers.
    Larger drops mark more critical neurons; rank them with `jnp.argsort(-drop)`.

    **Returns:** the fault-free accuracy and one array of drops per entry of
    `layers`, of shape `(topology[layer + 1],)`.
    """
    n_layers = len(network.weights)
    layers = tuple(range(max(n_layers - 1, 1))) if layers is None else tuple(layers)
    bad = [layer for layer in layers if not (isinstance(layer, int | np.integer) and 0 <= layer < n_layers)]
    if bad:
        raise ValueError(
            f"layers {bad} do not exist; use 0 (first hidden layer) to {n_layers - 1} (output layer) "
            f"for topology {list(network.topology)}."
        )
    _check_arguments(network, spikes, labels, None)
    base = network.no_faults()
    a_ff = accuracy_under(network, spikes, labels, base, network.unit_gains())

    drops = []
    for layer in layers:
        n = network.topology[layer + 1]

        def one(i, layer=layer, n=n):
            alive = list(base.neuron_alive)
            alive[layer] = jnp.where(jnp.arange(n) == i, 0.0, 1.0)
            faults = eqx.tree_at(lambda f: f.neuron_alive, base, tuple(alive))
            return accuracy_under(network, spikes, labels, faults, network.unit_gains())

        accuracies = jax.lax.map(one, jnp.arange(n), batch_size=chunk_size)
        drops.append(a_ff - accuracies)
    return a_ff, tuple(drops)
