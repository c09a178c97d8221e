r"""Differential (concurrent) fault simulation for sparse synapse faults.

A synapse fault leaves most of a network's computation unchanged. Concurrent fault
simulation (Ulrich & Baker, "Concurrent simulation of nearly identical digital
networks", IEEE Computer 1974) simulates the fault-free ("golden") network once,
keeps what it computed, and for each fault propagates only the differences. For a
layer with golden presynaptic spikes $s$, faulty spikes $s + \delta s$ and faulty
weights $W + \delta W$, the faulty synaptic input is

$$I_f = I_\mathrm{golden} + W^\top \delta s + \delta W^\top (s + \delta s)$$

Here $\delta s$ has entries in {-1, 0, +1} and is nonzero only where a spike
changed, and $\delta W$ holds only the faulty weights, so the two corrections cost
in proportion to what the fault disturbs. The neuron and astrocyte dynamics of
every layer are then run again, elementwise, on $I_f$; they are cheap next to the
matrix products but not free, and they bound the speed-up from below.

Buffers have a fixed capacity under `jit`. When the changed spikes of a hidden
layer outnumber its capacity, the mask's result is flagged `STATUS_OVERFLOW`.
`sweep_differential` then evaluates that mask with the dense path
(`lifa_jax.faults.sweep.evaluate_mask`) and flags it `STATUS_DENSE_FALLBACK`.
A hidden layer whose capacity is `None` propagates its faulty spikes with a dense
product through the faulty weights instead, which suits layers where most spikes
change (a network that amplifies small differences).

The corrections sum in another order than the dense product, so a membrane that
lies within rounding error of threshold can fire in one path and not in the other.
The two paths agree on spikes, not bit for bit on membranes; see
`docs/differential.md` for the measured agreement.

Faults are drawn directly as a list of faulty synapses (`draw_sparse_faults`),
without a dense per-mask copy of the weights. Supported kinds: `SynapseDead`,
`SynapseSaturated`, `SynapseBitFlipFixed` and `SynapseBitFlipFloat`, without
`among`. Repair is not supported: repair gains change every downstream layer, so
repaired runs take the dense path.
"""

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray, UInt32

from .._checks import check_spike_batch
from ..dynamics import astrocyte_init, astrocyte_step, heaviside, lif_init, lif_step
from ..network import NetworkFaults, SimulationResult, SpikingNetwork, predict
from .specs import (
    AbstractFault,
    SynapseBitFlipFixed,
    SynapseBitFlipFloat,
    SynapseDead,
    SynapseSaturated,
    Transient,
)
from .sweep import (
    STATUS_DENSE_FALLBACK,
    STATUS_NONFINITE_MEMBRANE,
    STATUS_NONFINITE_WEIGHTS,
    STATUS_OK,
    STATUS_OVERFLOW,
    AbstractEngine,
    MaskResult,
    evaluate_mask,
)

SUPPORTED_FAULTS = (SynapseDead, SynapseSaturated, SynapseBitFlipFixed, SynapseBitFlipFloat)

# Rows of W added per iteration when scattering W^T ds. Small blocks keep the
# gathered rows in cache; on a 2-core CPU 128 rows ran 5 times faster than one
# block of 45,000 rows.
_SCATTER_BLOCK = 128

# Buffers for random counts are sized this many standard deviations above the
# mean, plus 8. By the normal tail (large means) and the Poisson tail (small
# means), a binomial count exceeds that with a probability below about 1e-12, an
# estimate, not a proven bound.
_CAPACITY_SIGMAS = 8.0


# ---------------------------------------------------------------------------
# Golden run


class GoldenRun(eqx.Module):
    """Spikes and synaptic inputs of the fault-free network on a batch of encoded inputs.

    Arrays are time-major, `(steps, samples, neurons)`, so the per-step loop of
    the differential path reads contiguous slices.

    - `spikes[l]`: presynaptic spikes of weight layer `l` (`spikes[0]` are the
      input spikes), floats in {0, 1}.
    - `synaptic[l]`: golden synaptic input of layer `l`,
      `propagation(weights[l], spikes[l])`, before the astrocyte and gain factors.
    - `predictions`: the fault-free predicted class of each sample.
    """

    spikes: tuple[Float[Array, "steps samples pre"], ...]
    synaptic: tuple[Float[Array, "steps samples post"], ...]
    predictions: Int[Array, " samples"]

    @property
    def steps(self) -> int:
        """Simulation steps T."""
        return int(self.spikes[0].shape[0])

    @property
    def samples(self) -> int:
        """Samples in the batch."""
        return int(self.spikes[0].shape[1])


def _check_spikes(network: SpikingNetwork, spikes) -> None:
    check_spike_batch(spikes, network.topology[0])


def golden_run(network: SpikingNetwork, spikes: Float[Array, "samples steps inputs"]) -> GoldenRun:
    """Simulate the fault-free network layer by layer and keep its spikes and synaptic inputs.

    The dynamics are those of `simulate` without faults or repair. Layer $l$'s
    synaptic input is computed for all samples and steps in one product, and the
    layer's neurons then run on it, so the golden run and `differential_run` with
    no faulty synapse produce the same spikes bit for bit.

    **Arguments:**

    - `network`: the network; its `propagation` must be linear in the spikes (every
      `AbstractPropagation` computes $\\sum_j W_{ji} s_j$).
    - `spikes`: encoded inputs, shape `(samples, steps, topology[0])`, floats in {0, 1}.

    **Returns:** a `GoldenRun`.
    """
    _check_spikes(network, spikes)

    presynaptic = jnp.swapaxes(jnp.asarray(spikes, dtype=jnp.float32), 0, 1)
    all_spikes, all_synaptic = [], []
    output_membrane = None
    for layer, weights in enumerate(network.weights):
        synaptic = _dense_synaptic(network, weights, presynaptic)
        all_spikes.append(presynaptic)
        all_synaptic.append(synaptic)
        presynaptic, output_membrane, _ = _layer_dynamics(network, layer, synaptic)

    predictions = _predictions(presynaptic, output_membrane)
    return GoldenRun(tuple(all_spikes), tuple(all_synaptic), predictions)


def _dense_synaptic(network: SpikingNetwork, weights: Array, presynaptic: Array) -> Array:
    """Return `propagation(weights, s)` for every step and sample of `presynaptic` in one product."""
    steps, samples, n_pre = presynaptic.shape
    flat = presynaptic.reshape(steps * samples, n_pre)
    synaptic = jax.vmap(lambda s: network.propagation(weights, s))(flat)
    return synaptic.reshape(steps, samples, weights.shape[1])


def _layer_dynamics(
    network: SpikingNetwork,
    layer: int,
    synaptic: Float[Array, "steps samples post"],
    presynaptic: Float[Array, "steps samples pre"] | None = None,
    entries: "_LayerEntries | None" = None,
) -> tuple[Float[Array, "steps samples post"], Float[Array, "samples post"], Int[Array, ""]]:
    """Run one layer's neurons and astrocytes on its synaptic input, as `SpikingNetwork.step` does without faults.

    With `entries`, the faulty-weight correction $\\delta W^\\top s$ of each step is
    added to `synaptic` inside the loop, where the step's spikes are in cache.

    **Returns:** the layer's spikes, its time-averaged membrane (used for the
    output layer's tie-break) and the number of membranes that are infinite or NaN
    at the end of a sample, summed over samples.
    """
    steps, samples = synaptic.shape[:2]
    n_post = network.topology[layer + 1]
    n_astro = network.n_astrocytes[layer]
    # Domain sums and the gliotransmitter seen by each neuron as products with the
    # 0/1 membership matrix: exact (sums of 0/1 spikes, and G times 1 plus zeros),
    # and several times faster on CPUs than a segment sum and a gather.
    member = (network.domains[layer][:, None] == jnp.arange(n_astro)[None, :]).astype(synaptic.dtype)

    def body(carry, xs):
        neuron_state, astro_state, v_sum = carry
        synaptic_t, presynaptic_t = xs
        if entries is not None:
            synaptic_t = synaptic_t + entries.correction(presynaptic_t, n_post)
        g_post = jnp.dot(astro_state.g, member.T, precision="highest") if n_astro else 0.0
        current = synaptic_t * network.coupling.scale(g_post) / network.dt
        neuron_state, spikes = lif_step(network.neuron, neuron_state, current, network.dt, heaviside)
        domain_counts = jnp.dot(spikes, member, precision="highest")
        astro_state, _ = astrocyte_step(
            network.astrocyte, network.gliotransmitter, astro_state, domain_counts, network.dt
        )
        return (neuron_state, astro_state, v_sum + neuron_state.v), spikes

    carry0 = (
        lif_init(network.neuron, (samples, n_post)),
        astrocyte_init(network.astrocyte, (samples, n_astro)),
        jnp.zeros((samples, n_post)),
    )
    xs = (synaptic, presynaptic if entries is not None else jnp.zeros((steps, 0)))
    (neuron_state, _, v_sum), spikes = jax.lax.scan(body, carry0, xs)
    nonfinite = jnp.sum(~jnp.isfinite(neuron_state.v)).astype(jnp.int32)
    return spikes, v_sum / steps, nonfinite


def _predictions(output_spikes: Array, output_membrane: Array) -> Int[Array, " samples"]:
    """Return `predict` of each sample from the output layer's spikes `(steps, samples, outputs)`."""
    counts = output_spikes.sum(axis=0)
    return jax.vmap(lambda c, v: predict(SimulationResult(counts=(c,), output_membrane=v, trace=None)))(
        counts, output_membrane
    )


# ---------------------------------------------------------------------------
# Sparse synapse faults


class SparseSynapseFaults(eqx.Module):
    """Faulty synapses of one mask as a list of fixed capacity, sorted by layer, then `pre`, then `post`.

    Every supported fault replaces a weight by a value: 0 for a dead synapse,
    $\\pm w_\\max$ for a saturated one, the weight with some bits flipped for a bit
    flip (all flipped bits of one weight form one entry).

    - `layer`, `pre`, `post`: position of each entry; `value`: its new weight.
    - `flips`: for bit flips, the XOR word applied to the weight's stored word (the
      two's-complement word for fixed point, the IEEE-754 word for float32); 0 for
      other kinds.
    - `valid`: which entries are used; the rest is padding.
    - `count`: faulty positions drawn: (weight, bit) pairs for bit flips, synapses
      otherwise.
    - `layer_start`, `layer_count`: where each weight layer's entries begin in the
      list and how many there are.
    - `overflow`: more faulty entries than the list, or than one layer's share of
      it (`layer_capacity`), can hold. The mask is then incomplete and
      `draw_sparse_faults` with a larger `capacity` draws the same mask in full.
    - `layer_capacity` (static): per weight layer, the entries the differential
      path reads.
    - `nonfinite` (static): set for float bit flips, which can create infinite or
      NaN weights.
    """

    layer: Int[Array, " capacity"]
    pre: Int[Array, " capacity"]
    post: Int[Array, " capacity"]
    value: Float[Array, " capacity"]
    flips: UInt32[Array, " capacity"]
    valid: Bool[Array, " capacity"]
    count: Int[Array, ""]
    layer_start: Int[Array, " layers"]
    layer_count: Int[Array, " layers"]
    overflow: Bool[Array, ""]
    layer_capacity: tuple[int, ...] = eqx.field(static=True)
    nonfinite: bool = eqx.field(static=True, default=False)


def _check_supported(network: SpikingNetwork, fault: AbstractFault) -> tuple[int, ...]:
    """Return the targeted layers, or raise when the differential path cannot draw `fault`."""
    if not isinstance(fault, SUPPORTED_FAULTS):
        names = ", ".join(cls.__name__ for cls in SUPPORTED_FAULTS)
        raise NotImplementedError(
            f"the differential path supports synapse faults ({names}), not {type(fault).__name__}; "
            "use the dense engine (engine=Dense()) for neuron and astrocyte faults."
        )
    if fault.among is not None:
        raise NotImplementedError(
            "the differential path does not draw faults restricted by `among`; use the dense engine (engine=Dense())."
        )
    return fault.target_layers(network)


def _bit_positions(fault: AbstractFault) -> tuple[int, ...] | None:
    """Return the bit positions a bit-flip fault may flip, or None for a fault of whole synapses."""
    if isinstance(fault, SynapseBitFlipFixed):
        return fault.bits if fault.bits is not None else tuple(range(fault.width))
    if isinstance(fault, SynapseBitFlipFloat):
        return fault.bits if fault.bits is not None else tuple(range(32))
    return None


def _space(network: SpikingNetwork, fault: AbstractFault) -> tuple[tuple[int, ...], list[int], int]:
    """Return the targeted layers, their weight counts and the positions per weight (bits, or 1)."""
    layers = _check_supported(network, fault)
    sizes = [int(network.weights[layer].size) for layer in layers]
    positions = _bit_positions(fault)
    return layers, sizes, 1 if positions is None else len(positions)


def _count_bound(mean: float, variance: float, limit: int) -> int:
    """Return a buffer size that a random count of this mean and variance exceeds with negligible probability."""
    bound = math.ceil(mean + _CAPACITY_SIGMAS * math.sqrt(max(variance, 0.0)) + 8.0)
    return int(max(1, min(bound, limit)))


def sparse_fault_capacity(network: SpikingNetwork, fault: AbstractFault) -> tuple[int, tuple[int, ...]]:
    """Return the buffer sizes for sparse masks of `fault`: the whole list and each weight layer's share.

    In exact mode the number of faulty positions is fixed, `floor(rate * n_weights
    * n_bits)` for bit flips and `round(rate * n_weights)` otherwise, so the whole
    list is sized exactly. In Bernoulli mode the count is binomial and the list is
    sized 8 standard deviations above its mean. A layer's share is random in both
    modes (how the pooled positions fall on the layers) and is sized the same way;
    a share that overflows flags the mask, whose result then comes from the dense
    path.

    **Arguments:**

    - `fault`: a supported synapse fault with a concrete `rate` (a Python float
      or a concrete array, not a traced value).

    **Returns:** `(capacity, layer_capacity)`, the second with one entry per weight
    layer of the network (0 for layers the fault does not target).
    """
    layers, sizes, n_bits = _space(network, fault)
    try:
        rate = float(fault.rate)
    except (TypeError, jax.errors.ConcretizationTypeError):
        raise ValueError(
            "fault.rate must be concrete to size the sparse buffers; call sparse_fault_capacity outside jit "
            "and pass its result as `capacity`."
        ) from None
    n_positions = sum(sizes) * n_bits

    if fault.exact:
        # Bit flips count bits (floor), other synapse faults count weights (round), as `draw_faults` does.
        bit_flip = _bit_positions(fault) is not None
        count = math.floor(rate * n_positions + 1e-6) if bit_flip else round(rate * n_positions)
        capacity = max(int(count), 1)
        variance_scale = count
    else:
        mean = rate * n_positions
        capacity = _count_bound(mean, mean * (1.0 - rate), n_positions)
        variance_scale = capacity
    if capacity > n_positions // 2 and capacity > 1:
        raise ValueError(
            f"rate {rate!r} fails {capacity} of {n_positions} positions; the sparse path is for sparse faults "
            "(at most half the positions). Use the dense engine (engine=Dense(), lifa sweep --engine dense) at this rate."
        )

    layer_capacity = [0] * len(network.weights)
    for layer, size in zip(layers, sizes):
        share = size * n_bits / n_positions
        mean = variance_scale * share
        layer_capacity[layer] = _count_bound(mean, mean * (1.0 - share), min(capacity, size))
    return capacity, tuple(layer_capacity)


def _position_stream(key: PRNGKeyArray, index: Int[Array, " n"], n_weights: int, n_bits: int):
    """Return element `index` of an endless stream of uniform (weight, bit) positions drawn from `key`.

    Each element is drawn from its own folded key, so the stream does not depend on
    how many elements a caller reads.
    """

    def one(i):
        key_weight, key_bit = jax.random.split(jax.random.fold_in(key, i))
        weight = jax.random.randint(key_weight, (), 0, n_weights, dtype=jnp.int32)
        bit = jax.random.randint(key_bit, (), 0, n_bits, dtype=jnp.int32) if n_bits > 1 else jnp.int32(0)
        return weight, bit

    return jax.vmap(one)(index)


def _first_distinct(weight: Array, bit: Array) -> tuple[Array, Array, Array]:
    """Move the distinct (weight, bit) pairs to the front in order of first appearance; return them and their number."""
    size = weight.shape[0]
    order = jnp.arange(size, dtype=jnp.int32)
    weight_s, bit_s, order_s = jax.lax.sort((weight, bit, order), num_keys=3)
    first = jnp.concatenate([jnp.ones((1,), bool), (weight_s[1:] != weight_s[:-1]) | (bit_s[1:] != bit_s[:-1])])
    rank = jnp.where(first, order_s, size + order_s)
    _, weight_d, bit_d = jax.lax.sort((rank, weight_s, bit_s), num_keys=1)
    return weight_d, bit_d, jnp.sum(first)


def _draw_positions(key: PRNGKeyArray, count: Array, capacity: int, n_weights: int, n_bits: int):
    """Return the first `count` distinct positions of the stream drawn from `key`, padded to `capacity`.

    The first `count` distinct elements of an i.i.d. uniform stream are a uniformly
    random `count`-subset, drawn without sorting all positions: each round sorts a
    buffer a little larger than `capacity`, and duplicates are replaced by the next
    elements of the stream until `count` distinct positions are found. The result
    does not depend on `capacity` as long as `count <= capacity`.
    """
    n_positions = n_weights * n_bits
    duplicates = capacity * capacity / (2.0 * n_positions)
    size = capacity + int(math.ceil(2.0 * duplicates + 10.0 * math.sqrt(duplicates))) + 64
    target = jnp.minimum(jnp.minimum(count, capacity), n_positions)

    slots = jnp.arange(size, dtype=jnp.int32)

    def more(state):
        return state[2] < target

    def refill(state):
        # Slots past the distinct positions found so far take the next stream elements.
        weight, bit, found, consumed = state
        fresh_weight, fresh_bit = _position_stream(key, consumed + slots - found, n_weights, n_bits)
        weight = jnp.where(slots < found, weight, fresh_weight)
        bit = jnp.where(slots < found, bit, fresh_bit)
        weight, bit, new_found = _first_distinct(weight, bit)
        return weight, bit, new_found, consumed + size - found

    empty = jnp.zeros((size,), jnp.int32)
    weight, bit, found, _ = jax.lax.while_loop(more, refill, (empty, empty, jnp.int32(0), jnp.int32(0)))
    valid = jnp.arange(capacity) < target
    return weight[:capacity], bit[:capacity], valid


def _fault_count(fault: AbstractFault, key: PRNGKeyArray, n_weights: int, n_bits: int) -> Int[Array, ""]:
    """Return the number of faulty positions of one mask (fixed in exact mode, binomial otherwise).

    Exact counts use the formulas of `draw_faults`; a Python-float rate is
    evaluated in Python, as there, and a traced rate in float32.
    """
    n_positions = n_weights * n_bits
    # Bit flips, even with one bit position, count bits with floor; other faults count weights with round.
    bit_flip = _bit_positions(fault) is not None
    if fault.exact and isinstance(fault.rate, int | float):
        if bit_flip:
            return jnp.int32(math.floor(fault.rate * n_positions + 1e-6))
        return jnp.int32(round(fault.rate * n_positions))
    rate = jnp.asarray(fault.rate, dtype=jnp.float32)
    if fault.exact:
        if bit_flip:
            return jnp.floor(rate * n_positions + 1e-6).astype(jnp.int32)
        return jnp.round(rate * n_positions).astype(jnp.int32)
    return jax.random.binomial(key, jnp.float32(n_positions), rate).astype(jnp.int32)


def draw_sparse_faults(
    network: SpikingNetwork,
    fault: AbstractFault,
    *,
    key: PRNGKeyArray,
    capacity: tuple[int, tuple[int, ...]] | None = None,
) -> SparseSynapseFaults:
    """Draw one mask of `fault` as a list of faulty synapses, without a dense copy of the weights.

    Positions (a synapse, or a (synapse, bit) pair for bit flips) are drawn
    uniformly without replacement from the targeted layers pooled, as
    `draw_faults` does: exact mode draws the same number of positions, Bernoulli
    mode a binomial number. For the same key the positions differ from
    `draw_faults`, whose draw sorts one random number per position; the
    distribution is the same. Use `to_network_faults` to evaluate the same mask on
    the dense path.

    **Arguments:**

    - `fault`: a `SynapseDead`, `SynapseSaturated`, `SynapseBitFlipFixed` or
      `SynapseBitFlipFloat` without `among`.
    - `key`: a JAX PRNG key.
    - `capacity`: `(capacity, layer_capacity)` from `sparse_fault_capacity`; computed
      from `fault` when omitted (needs a concrete rate).

    **Returns:** a `SparseSynapseFaults`.
    """
    layers, sizes, n_bits = _space(network, fault)
    capacity, layer_capacity = sparse_fault_capacity(network, fault) if capacity is None else capacity
    n_weights = sum(sizes)
    key_count, key_positions = jax.random.split(key)

    # Draw the positions, then merge the flipped bits of each weight into one entry.
    count = _fault_count(fault, key_count, n_weights, n_bits)
    weight, bit, valid = _draw_positions(key_positions, count, capacity, n_weights, n_bits)
    weight = jnp.where(valid, weight, n_weights)
    weight, bit, valid = jax.lax.sort((weight, bit, valid.astype(jnp.int32)), num_keys=2)
    valid = valid > 0
    positions = _bit_positions(fault) or (0,)
    bit_value = jnp.asarray([1 << p for p in positions], dtype=jnp.uint32)[bit]
    starts = valid & jnp.concatenate([jnp.ones((1,), bool), weight[1:] != weight[:-1]])
    group = jnp.cumsum(starts) - 1
    group = jnp.where(valid, group, capacity - 1)
    flips = jax.ops.segment_sum(jnp.where(valid, bit_value, jnp.uint32(0)), group, num_segments=capacity)
    weight = jax.ops.segment_min(jnp.where(valid, weight, n_weights), group, num_segments=capacity)
    n_entries = jnp.sum(starts)
    valid = jnp.arange(capacity) < n_entries
    weight = jnp.where(valid, weight, n_weights)

    # Locate each entry in its layer and compute its new value.
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    slot = jnp.clip(jnp.searchsorted(jnp.asarray(offsets[1:]), weight, side="right"), 0, len(layers) - 1)
    layer = jnp.asarray(layers, dtype=jnp.int32)[slot]
    n_post = jnp.asarray([network.weights[lay].shape[1] for lay in layers], dtype=jnp.int32)[slot]
    local = jnp.clip(weight - jnp.asarray(offsets[:-1], dtype=jnp.int32)[slot], 0, None)
    pre, post = local // n_post, local % n_post
    value = jnp.zeros((capacity,), jnp.float32)
    for i, lay in enumerate(layers):
        w = network.weights[lay]
        old = w[jnp.clip(pre, 0, w.shape[0] - 1), jnp.clip(post, 0, w.shape[1] - 1)]
        value = jnp.where(slot == i, _replacement(fault, w, old, flips), value)

    layer_count = jnp.stack([jnp.sum(valid & (layer == lay)) for lay in range(len(network.weights))]).astype(jnp.int32)
    layer_start = jnp.stack(
        [
            jnp.sum(valid & (slot < layers.index(lay))) if lay in layers else jnp.int32(0)
            for lay in range(len(network.weights))
        ]
    ).astype(jnp.int32)
    overflow = (count > capacity) | jnp.any(layer_count > jnp.asarray(layer_capacity))
    return SparseSynapseFaults(
        layer=jnp.where(valid, layer, 0),
        pre=jnp.where(valid, pre, 0),
        post=jnp.where(valid, post, 0),
        value=jnp.where(valid, value, 0.0),
        flips=jnp.where(valid, flips, jnp.uint32(0)),
        valid=valid,
        count=count,
        layer_start=layer_start,
        layer_count=layer_count,
        overflow=overflow,
        layer_capacity=tuple(layer_capacity),
        nonfinite=isinstance(fault, SynapseBitFlipFloat),
    )


def _replacement(fault: AbstractFault, weights: Array, old: Array, flips: Array) -> Array:
    """Return the new value of faulty weights `old` of the layer `weights`, as `fault.apply` computes it."""
    if isinstance(fault, SynapseDead):
        return jnp.zeros_like(old)
    if isinstance(fault, SynapseSaturated):
        magnitude = jnp.max(jnp.abs(weights)) if fault.w_max is None else fault.w_max
        sign = jnp.where(old >= 0, 1.0, -1.0) if fault.sign == 0 else float(fault.sign)
        return sign * magnitude * jnp.ones_like(old)
    if isinstance(fault, SynapseBitFlipFixed):
        scale = fault.layer_scale(weights)
        return fault.dequantize(fault.quantize(old, scale) ^ flips.astype(jnp.int32), scale)
    words = jax.lax.bitcast_convert_type(old.astype(jnp.float32), jnp.uint32)
    return jax.lax.bitcast_convert_type(words ^ flips, jnp.float32)


def to_network_faults(network: SpikingNetwork, sparse: SparseSynapseFaults) -> NetworkFaults:
    """Return the dense `NetworkFaults` of a sparse mask, for `simulate` and `evaluate_mask`.

    Every entry becomes a replaced synapse (`synapse_replaced`, `synapse_value`),
    which gives the same effective weights as the masks of `draw_faults`.
    """
    faults = network.no_faults()
    replaced, values = [], []
    for layer, w in enumerate(network.weights):
        mine = sparse.valid & (sparse.layer == layer)
        # Entries of other layers are sent out of range and dropped.
        pre = jnp.where(mine, sparse.pre, w.shape[0])
        replaced.append(jnp.zeros_like(w).at[pre, sparse.post].set(1.0, mode="drop"))
        values.append(jnp.zeros_like(w).at[pre, sparse.post].set(sparse.value, mode="drop"))
    return NetworkFaults(
        neuron_alive=faults.neuron_alive,
        synapse_alive=faults.synapse_alive,
        astrocyte_alive=faults.astrocyte_alive,
        synapse_replaced=tuple(replaced),
        synapse_value=tuple(values),
        nonfinite=sparse.nonfinite,
    )


# ---------------------------------------------------------------------------
# Differential propagation


class _LayerEntries(eqx.Module):
    """One layer's faulty weights as `(pre, post, delta)` lists; `delta` is 0 on padding."""

    pre: Int[Array, " capacity"]
    post: Int[Array, " capacity"]
    value: Float[Array, " capacity"]
    delta: Float[Array, " capacity"]
    valid: Bool[Array, " capacity"]

    def correction(self, presynaptic: Float[Array, "samples pre"], n_post: int) -> Float[Array, "samples post"]:
        """Return $\\delta W^\\top s$ for one step's spikes of every sample."""
        # Neuron-major rows are contiguous, so the gather and the segment sum move whole rows.
        rows = presynaptic.T[self.pre] * self.delta[:, None]
        return jax.ops.segment_sum(rows, self.post, num_segments=n_post).T

    def patch(self, weights: Array) -> Array:
        """Return `weights` with the faulty entries replaced (a dense copy)."""
        pre = jnp.where(self.valid, self.pre, weights.shape[0])
        return weights.at[pre, self.post].set(self.value, mode="drop")


def _layer_entries(network: SpikingNetwork, sparse: SparseSynapseFaults, layer: int) -> _LayerEntries | None:
    """Return the entries of weight layer `layer`, or None when the fault cannot reach it."""
    size = sparse.layer_capacity[layer]
    if size == 0:
        return None
    weights = network.weights[layer]
    index = sparse.layer_start[layer] + jnp.arange(size)
    valid = index < sparse.layer_start[layer] + sparse.layer_count[layer]
    index = jnp.clip(index, 0, sparse.pre.shape[0] - 1)
    # Slots past this layer's entries hold other layers' positions: clip them into range.
    pre = jnp.clip(sparse.pre[index], 0, weights.shape[0] - 1)
    post = jnp.clip(sparse.post[index], 0, weights.shape[1] - 1)
    value = sparse.value[index]
    delta = jnp.where(valid, value - weights[pre, post], 0.0)
    return _LayerEntries(pre=pre, post=post, value=value, delta=delta, valid=valid)


def _nonzero_indices(values: Float[Array, " n"], size: int) -> tuple[Int[Array, " size"], Int[Array, ""]]:
    """Return the ascending indices of the first `size` nonzero entries of `values` and the number of nonzeros.

    Gives the same indices as `jnp.nonzero(values, size=size)` (padding repeats
    the last index) at a fraction of the cost on CPUs, where `jnp.nonzero` scans
    and scatters every entry. Here entries are packed 32 to a word, and only the
    nonzero words are gathered (a `jnp.nonzero` over `n / 32` words). Each output
    slot then finds its word by a binary search over the words' running bit
    counts, and its bit by a binary search inside the word.
    """
    n = values.shape[0]
    padded = -(-n // 32) * 32
    bits = jnp.pad(values != 0, (0, padded - n)).reshape(-1, 32).astype(jnp.uint32)
    words = jnp.sum(bits << jnp.arange(32, dtype=jnp.uint32), axis=1, dtype=jnp.uint32)
    count = jnp.sum(jax.lax.population_count(words).astype(jnp.int32))

    (word_index,) = jnp.nonzero(words, size=size, fill_value=0)
    word = words[word_index]
    word = jnp.where(jnp.arange(size) < jnp.sum(words != 0), word, jnp.uint32(0))
    ones = jax.lax.population_count(word).astype(jnp.int32)
    ends = jnp.cumsum(ones)
    slot = jnp.arange(size, dtype=jnp.int32)
    word_slot = jnp.clip(jnp.searchsorted(ends, slot, side="right"), 0, size - 1)
    rank = slot - (ends[word_slot] - ones[word_slot])
    word = word[word_slot]

    # Largest position p whose lower bits [0, p) hold at most `rank` set bits: the rank-th set bit.
    position = jnp.zeros((size,), jnp.uint32)
    for step in (16, 8, 4, 2, 1):
        trial = position + step
        below = jax.lax.population_count(word & ((jnp.uint32(1) << trial) - 1)).astype(jnp.int32)
        position = jnp.where(below <= rank, trial, position)
    index = word_index[word_slot] * 32 + position.astype(jnp.int32)

    last = jnp.max(jnp.where(slot < count, index, 0))
    return jnp.where(slot < count, index, last), count


def _add_changed_spikes(
    weights: Float[Array, "pre post"],
    changed: Float[Array, "steps samples pre"],
    synaptic: Float[Array, "steps samples post"],
    capacity: int,
) -> tuple[Float[Array, "steps samples post"], Bool[Array, ""]]:
    """Return `synaptic + W^T changed` from the nonzero entries of `changed` alone, and an overflow flag.

    The nonzero entries are gathered by `_nonzero_indices` into a buffer of
    `capacity` entries, rounded up to a multiple of `_SCATTER_BLOCK` when larger.
    The rows of `weights` they select are scattered onto the synaptic input one
    block at a time. The cost grows with the capacity, not with the number of
    changed spikes.
    """
    steps, samples, n_pre = changed.shape
    n_post = weights.shape[1]
    flat = changed.reshape(-1)
    block = min(_SCATTER_BLOCK, capacity)
    size = -(-capacity // block) * block

    # Padding repeats the last index with a sign of 0, so the row indices stay sorted.
    index, nnz = _nonzero_indices(flat, size)
    sign = jnp.where(jnp.arange(size) < nnz, flat[index], 0.0)
    row = (index // n_pre).reshape(-1, block)
    pre = (index % n_pre).reshape(-1, block)
    sign = sign.reshape(-1, block)

    def add_block(i, total):
        rows = weights[pre[i]] * sign[i][:, None]
        return total.at[row[i]].add(rows, indices_are_sorted=True)

    # A fixed trip count: under vmap, a loop whose length depends on the mask would
    # select between old and new copies of the whole synaptic input on every block.
    total = jax.lax.fori_loop(0, size // block, add_block, synaptic.reshape(steps * samples, n_post))
    return total.reshape(steps, samples, n_post), nnz > size


class DifferentialRun(eqx.Module):
    """Spikes and predictions of the differential path under one mask.

    - `spikes[l]`: faulty spikes of weight layer `l`'s neurons, shape
      `(samples, steps, topology[l + 1])` (as `Trace.spikes`, batched).
    - `predictions`: predicted class of each sample.
    - `changed_spikes[h]`: spikes of hidden layer `h` that differ from the golden
      run, over all samples and steps (what `capacity[h]` must hold).
    - `fault_count`: faulty positions of the mask (`SparseSynapseFaults.count`).
    - `status`: `STATUS_OVERFLOW` when a buffer overflowed, so the results are
      not valid. `STATUS_NONFINITE_WEIGHTS` when a faulty weight is infinite or
      NaN, which only the dense path propagates. `STATUS_NONFINITE_MEMBRANE` when
      a membrane is infinite or NaN at the end of a sample. The corrections may
      then round or cancel otherwise than the dense product.
    """

    spikes: tuple[Float[Array, "samples steps neurons"], ...]
    predictions: Int[Array, " samples"]
    changed_spikes: Int[Array, " hidden"]
    fault_count: Int[Array, ""]
    status: Int[Array, ""]


def _normalise_capacity(network: SpikingNetwork, capacity) -> tuple[int | None, ...]:
    """Return one capacity (or None) per hidden layer, checked."""
    n_hidden = len(network.topology) - 2
    if capacity is None or isinstance(capacity, int | np.integer):
        capacity = (capacity,) * n_hidden
    capacity = tuple(None if c is None else int(c) for c in capacity)
    if len(capacity) != n_hidden or any(c is not None and c < 1 for c in capacity):
        raise ValueError(
            f"capacity must be a positive int, None, or one of those per hidden layer ({n_hidden} here), "
            f"got {capacity!r}; for example {(4096,) * n_hidden}."
        )
    return capacity


def _propagate(network: SpikingNetwork, golden: GoldenRun, sparse: SparseSynapseFaults, capacity):
    """Return the faulty spikes of every layer, the output membrane, changed-spike counts and the status."""
    overflow = sparse.overflow
    nonfinite_membranes = jnp.int32(0)
    presynaptic, changed = golden.spikes[0], None
    all_spikes, changed_counts = [], []
    output_membrane = None
    for layer, weights in enumerate(network.weights):
        entries = _layer_entries(network, sparse, layer)
        dense = layer > 0 and capacity[layer - 1] is None

        if dense:
            # Most spikes changed: one dense product through the faulty weights.
            faulty = weights if entries is None else entries.patch(weights)
            synaptic = _dense_synaptic(network, faulty, presynaptic)
            entries = None
        else:
            synaptic = golden.synaptic[layer]
            if layer > 0:
                synaptic, layer_overflow = _add_changed_spikes(weights, changed, synaptic, capacity[layer - 1])
                overflow = overflow | layer_overflow

        spikes, output_membrane, layer_nonfinite = _layer_dynamics(network, layer, synaptic, presynaptic, entries)
        nonfinite_membranes = nonfinite_membranes + layer_nonfinite
        all_spikes.append(spikes)
        if layer + 1 < len(network.weights):
            changed = spikes - golden.spikes[layer + 1]
            changed_counts.append(jnp.sum(changed != 0).astype(jnp.int32))
            presynaptic = spikes

    nonfinite = jnp.any(sparse.valid & ~jnp.isfinite(sparse.value)) if sparse.nonfinite else jnp.bool_(False)
    status = (
        jnp.where(overflow, STATUS_OVERFLOW, STATUS_OK)
        | jnp.where(nonfinite, STATUS_NONFINITE_WEIGHTS, STATUS_OK)
        | jnp.where(nonfinite_membranes > 0, STATUS_NONFINITE_MEMBRANE, STATUS_OK)
    )
    counts = jnp.stack(changed_counts) if changed_counts else jnp.zeros((0,), jnp.int32)
    return tuple(all_spikes), output_membrane, counts, status.astype(jnp.int32)


def differential_run(
    network: SpikingNetwork,
    golden: GoldenRun,
    sparse: SparseSynapseFaults,
    *,
    capacity: int | None | Sequence[int | None],
) -> DifferentialRun:
    r"""Simulate the network under a sparse synapse mask by propagating differences from the golden run.

    Layer by layer, the faulty synaptic input is
    $I_f = I_\mathrm{golden} + W^\top \delta s + \delta W^\top (s + \delta s)$;
    the layer's neurons and astrocytes then run on $I_f$ and their spikes give the
    next layer's $\delta s$. The input layer's spikes never change.

    **Arguments:**

    - `golden`: `golden_run(network, spikes)` of the same network.
    - `sparse`: a mask from `draw_sparse_faults`.
    - `capacity`: changed spikes each hidden layer may hold, over all samples and
      steps: an int for every hidden layer, or one entry per hidden layer. Values
      above 128 are rounded up to a multiple of 128. `None` propagates that
      layer's spikes with a dense product through the faulty weights (no buffer,
      no overflow).

    **Returns:** a `DifferentialRun`.
    """
    capacity = _normalise_capacity(network, capacity)
    spikes, output_membrane, changed, status = _propagate(network, golden, sparse, capacity)
    predictions = _predictions(spikes[-1], output_membrane)
    return DifferentialRun(
        spikes=tuple(jnp.swapaxes(s, 0, 1) for s in spikes),
        predictions=predictions,
        changed_spikes=changed,
        fault_count=sparse.count,
        status=status,
    )


class DifferentialResult(eqx.Module):
    """Accuracy under one mask (or a batch of masks, leading axis) from the differential path.

    `accuracy` is NaN wherever `status` is not 0 (`STATUS_OVERFLOW`,
    `STATUS_NONFINITE_WEIGHTS`, `STATUS_NONFINITE_MEMBRANE`); evaluate those masks
    with the dense path, as `sweep_differential` does.
    """

    accuracy: Float[Array, "..."]
    status: Int[Array, "..."]
    changed_spikes: Int[Array, "... hidden"]
    fault_count: Int[Array, "..."]


def differential_accuracy(
    network: SpikingNetwork,
    golden: GoldenRun,
    sparse: SparseSynapseFaults,
    labels: Int[Array, " samples"],
    *,
    capacity: int | None | Sequence[int | None],
) -> DifferentialResult:
    """Return the accuracy under a sparse synapse mask from the differential path, with its status.

    Accuracy is the fraction of samples whose prediction (`predict`) equals
    `labels`, as in `lifa_jax.faults.accuracy_under`. See `differential_run` for
    the arguments.
    """
    capacity = _normalise_capacity(network, capacity)
    spikes, output_membrane, changed, status = _propagate(network, golden, sparse, capacity)
    predictions = _predictions(spikes[-1], output_membrane)
    accuracy = jnp.mean(predictions == labels)
    accuracy = jnp.where(status == STATUS_OK, accuracy, jnp.nan)
    return DifferentialResult(accuracy=accuracy, status=status, changed_spikes=changed, fault_count=sparse.count)


# ---------------------------------------------------------------------------
# Sweeps


def differential_masks(
    network: SpikingNetwork,
    fault: AbstractFault,
    keys: PRNGKeyArray,
    golden: GoldenRun,
    labels: Int[Array, " samples"],
    *,
    capacity: int | None | Sequence[int | None],
    fault_capacity: tuple[int, tuple[int, ...]],
    chunk_size: int = 4,
) -> DifferentialResult:
    """Return the differential-path result of one mask per key, vmapped in chunks (jit-compatible).

    `jax.lax.map` with `batch_size=chunk_size` vmaps `chunk_size` masks at a time,
    so memory is bounded by one chunk. Masks flagged in `status` are not
    re-evaluated; `sweep_differential` does that.
    """

    def one(key):
        sparse = draw_sparse_faults(network, fault, key=key, capacity=fault_capacity)
        return differential_accuracy(network, golden, sparse, labels, capacity=capacity)

    return jax.lax.map(one, keys, batch_size=chunk_size)


_FALLBACK_FLAGS = STATUS_OVERFLOW | STATUS_NONFINITE_WEIGHTS | STATUS_NONFINITE_MEMBRANE


@eqx.filter_jit
def sweep_differential(
    network: SpikingNetwork,
    fault: AbstractFault,
    keys: PRNGKeyArray,
    spikes: Float[Array, "samples steps inputs"],
    labels: Int[Array, " samples"],
    *,
    capacity: int | None | Sequence[int | None],
    chunk_size: int = 4,
    golden: GoldenRun | None = None,
) -> MaskResult:
    """Evaluate one synapse fault kind and rate under one sparse mask per key, by differential simulation.

    Runs the golden network once (unless `golden` is given) and evaluates every
    mask with the differential path in chunks of `chunk_size`. Then, one mask at a
    time, it evaluates with the dense path (`evaluate_mask` on `to_network_faults`
    of the same mask) every mask whose status is not 0: a changed-spike buffer or
    a layer's share of the fault list overflowed, or a weight or membrane is
    infinite or NaN. Those masks keep `STATUS_OVERFLOW` if it was set, take the
    dense path's non-finite flags and gain `STATUS_DENSE_FALLBACK`. The fallback
    runs under `jax.lax.cond`, so masks that need none cost nothing there.

    A Bernoulli-mode mask with more faulty positions than the whole list contains
    (sized 8 standard deviations above the mean, see `sparse_fault_capacity`)
    cannot be redrawn under `jit`; it keeps `STATUS_OVERFLOW` and a NaN accuracy.

    Jitted with `eqx.filter_jit`: it compiles once per fault, rate, capacity and
    number of keys. The engine `Differential` runs it inside `sweep_masks`.

    **Arguments:**

    - `fault`: a supported synapse fault (see `draw_sparse_faults`) with a
      concrete `rate` (a Python float).
    - `keys`: one PRNG key per mask; the same keys give the same masks.
    - `spikes`: encoded inputs `(samples, steps, topology[0])`; `labels`: their classes.
    - `capacity`: see `differential_run`.
    - `chunk_size`: masks vmapped together; memory grows with it.
    - `golden`: a `golden_run` of `network` on `spikes`, to reuse across faults.

    **Returns:** a `MaskResult` with fields of shape `(len(keys),)`;
    `accuracy_repair` is NaN (repair is not supported on this path).
    """
    _check_spikes(network, spikes)
    capacity = _normalise_capacity(network, capacity)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}; pass the masks evaluated together.")
    sizes = sparse_fault_capacity(network, fault)
    golden = golden_run(network, spikes) if golden is None else golden

    first = differential_masks(
        network, fault, keys, golden, labels, capacity=capacity, fault_capacity=sizes, chunk_size=chunk_size
    )
    complete = first.fault_count <= sizes[0]
    redo = complete & ((first.status & _FALLBACK_FLAGS) != 0)

    def fallback(inputs):
        key, again, accuracy, status = inputs

        def dense():
            sparse = draw_sparse_faults(network, fault, key=key, capacity=sizes)
            result = evaluate_mask(network, to_network_faults(network, sparse), spikes, labels, None, None, None)
            flags = (status & STATUS_OVERFLOW) | result.status | STATUS_DENSE_FALLBACK
            return result.accuracy_no_repair.astype(accuracy.dtype), flags.astype(status.dtype)

        return jax.lax.cond(again, dense, lambda: (accuracy, status))

    # No batch_size: a sequential map keeps the cond a real branch (under vmap both branches run).
    accuracy, status = jax.lax.map(fallback, (keys, redo, first.accuracy, first.status))
    return MaskResult(
        accuracy_no_repair=accuracy,
        accuracy_repair=jnp.full(accuracy.shape, jnp.nan),
        status=status,
    )


def _capacity_field(capacity):
    """Return `capacity` with a list turned into a tuple (static fields must be hashable)."""
    if isinstance(capacity, list | tuple):
        return tuple(capacity)
    return capacity


def check_sparse_engine(
    engine: str, fault: AbstractFault, *, repair: bool, sharded: bool, concrete_rate: bool = False
) -> None:
    """Raise `ValueError` when a sparse synapse engine (`engine` names it in messages) cannot sweep `fault`.

    Both sparse engines need a synapse kind of `SUPPORTED_FAULTS` without `among`,
    no transient wrapper, no repair and no mesh. With `concrete_rate`, the rate
    must also be a Python float.
    """
    if isinstance(fault, Transient):
        raise ValueError(f"the {engine} engine does not support transient faults ({fault.name!r}); use engine=Dense().")
    if not isinstance(fault, SUPPORTED_FAULTS):
        names = ", ".join(cls.__name__ for cls in SUPPORTED_FAULTS)
        raise ValueError(
            f"the {engine} engine does not support fault kind {fault.name!r} ({type(fault).__name__}); "
            f"it supports {names}. Use engine=Dense() for this kind."
        )
    if fault.among is not None:
        raise ValueError(
            f"the {engine} engine does not support {fault.name!r} restricted by `among`; use engine=Dense()."
        )
    if concrete_rate and (
        not isinstance(fault.rate, int | float) or isinstance(fault.rate, bool) or not math.isfinite(fault.rate)
    ):
        raise ValueError(
            f"the {engine} engine needs a concrete rate (a Python float), got {fault.rate!r} for {fault.name!r}."
        )
    if repair:
        raise ValueError(f"the {engine} engine does not evaluate repair; pass repair=None or use engine=Dense().")
    if sharded:
        raise ValueError(f"the {engine} engine does not split masks over a mesh; pass mesh=None.")


class Differential(AbstractEngine):
    """Sweep engine that propagates each mask's differences from one fault-free run.

    Masks are drawn with `draw_sparse_faults` and evaluated with
    `sweep_differential`; masks whose status is not 0 are evaluated again with the
    dense path. For the same keys the masks differ from those of `Dense()`, which
    draws with `draw_faults`, but they follow the same distribution. On the same
    masks both engines give the same accuracies and statuses, up to the rounding
    caveat in `lifa_jax.faults.differential`.

    Supports `SynapseDead`, `SynapseSaturated`, `SynapseBitFlipFixed` and
    `SynapseBitFlipFloat` without `among`, with a concrete rate. It does not
    support transient faults, repair or sharding over a mesh; use `Dense()` for
    those.

    - `capacity`: changed spikes each hidden layer may hold per mask, over all
      samples and steps (see `differential_run`). An int for every hidden layer,
      or one int or `None` per hidden layer. `None` (the default) propagates a
      hidden layer with a dense product through the faulty weights, which never
      overflows. `suggest_capacity` picks values from a few trial masks.
    """

    capacity: int | None | tuple[int | None, ...] = eqx.field(static=True, default=None, converter=_capacity_field)

    def __check_init__(self):
        entries = self.capacity if isinstance(self.capacity, tuple) else (self.capacity,)
        if any(c is not None and (not isinstance(c, int | np.integer) or c < 1) for c in entries):
            raise ValueError(
                f"capacity must be None, a positive int, or one of those per hidden layer, got {self.capacity!r}; "
                "for example Differential(capacity=4096) or Differential(capacity=(4096, None))."
            )

    def check(self, fault: AbstractFault, *, repair: bool = False, sharded: bool = False) -> None:
        """Raise `ValueError` naming the fault kind when the differential engine cannot sweep `fault`."""
        check_sparse_engine("differential", fault, repair=repair, sharded=sharded)

    def compiled_fault(self, fault: AbstractFault) -> AbstractFault:
        """Return `fault` unchanged: its rate must stay concrete, because it sets the buffer sizes."""
        return fault

    def sweep(self, network, fault, keys, spikes, labels, *, repair, set_points, adapt_spikes, chunk_size, mesh):
        """Evaluate one sparse mask per key with `sweep_differential` (see `AbstractEngine.sweep`)."""
        return sweep_differential(network, fault, keys, spikes, labels, capacity=self.capacity, chunk_size=chunk_size)


def suggest_capacity(
    changed_spikes: Int[Array, "masks hidden"],
    network: SpikingNetwork,
    golden: GoldenRun,
    *,
    margin: float = 2.0,
    dense_above: float = 0.05,
) -> tuple[int | None, ...]:
    """Suggest `capacity` from the changed spikes seen on a few masks (run them with `capacity=None`).

    Each hidden layer gets `margin` times the largest count seen, rounded up to a
    multiple of the scatter block (128), or `None` (dense product) when that
    exceeds `dense_above` of the layer's `samples * steps * neurons` spike slots.
    The default 5 % is an estimate. On a 2-core CPU, scattering one changed spike
    (a row of weights) cost about as much as 20 to 50 rows of the dense product.
    So the dense product wins once a few percent of the slots change. Measure on
    your own machine.

    **Returns:** one capacity (int or None) per hidden layer.
    """
    changed = np.atleast_2d(np.asarray(changed_spikes))
    suggestion = []
    for hidden, n in enumerate(network.topology[1:-1]):
        slots = golden.steps * golden.samples * n
        need = margin * float(changed[:, hidden].max()) + 1.0
        size = math.ceil(need / _SCATTER_BLOCK) * _SCATTER_BLOCK
        suggestion.append(None if size > dense_above * slots else int(size))
    return tuple(suggestion)
