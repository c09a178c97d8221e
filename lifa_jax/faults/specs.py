"""Fault kinds and the masks drawn from them.

Every fault kind is an Equinox module holding its rate and options; `apply` adds
its failed units to a `NetworkFaults` drawn from an explicit key. Rates count
units (neurons, synapses, astrocytes) except for bit flips, whose rate is per
bit, as in ARES (Reagen et al., "Ares: A framework for quantifying the resilience
of deep neural networks", DAC 2018).

- `exact=True` fails `round(rate * n)` of the `n` targeted units, chosen without
  replacement (bit flips: `floor(rate * n_weights * n_bits)` (weight, bit)
  positions);
- `exact=False` fails each unit (bit) independently with probability `rate`.

`layers` restricts a fault to some weight layers (index 0 is the first layer
after the input) and `among` to a subset of units in them, such as one
astrocyte's cluster.
"""

import abc
import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from ..network import NetworkFaults, SpikingNetwork


def _check_rate(rate) -> None:
    if isinstance(rate, str) or rate is None:
        raise ValueError(f"fault rate must be a number in [0, 1], got {rate!r}; pass a fraction such as 0.1.")
    if isinstance(rate, int | float) and not 0.0 <= rate <= 1.0:
        raise ValueError(f"fault rate must lie in [0, 1], got {rate!r}; pass a fraction such as 0.1.")


def _check_layers(layers, n_layers: int) -> None:
    bad = [layer for layer in layers if not 0 <= layer < n_layers]
    if bad:
        raise ValueError(f"fault layers {bad} do not exist; this network has weight layers 0 to {n_layers - 1}.")


def choose_units(key: PRNGKeyArray, n: int, rate, *, exact: bool, eligible: Array | None = None) -> Array:
    """Return a boolean vector of length `n` marking the failed units.

    Exact mode fails `round(rate * m)` of the `m` eligible units: those with the
    smallest random keys. The count may be a traced value, so one compiled
    function serves every rate.
    """
    u = jax.random.uniform(key, (n,))
    if not exact:
        failed = u < rate
        return failed if eligible is None else failed & eligible
    if eligible is not None:
        u = jnp.where(eligible, u, 2.0)
    m = n if eligible is None else jnp.sum(eligible)
    return smallest(u, jnp.round(rate * m))


def _choose_bits(key: PRNGKeyArray, n: int, rate, *, exact: bool) -> Array:
    """Like `choose_units` for bit positions; exact mode flips `floor(rate * n)`."""
    u = jax.random.uniform(key, (n,))
    if not exact:
        return u < rate
    return smallest(u, jnp.floor(rate * n + 1e-6))


def smallest(u: Array, k) -> Array:
    """Return a boolean vector marking the `k` smallest entries of the non-negative vector `u`.

    Equal values count in index order, so the result is `rank < k` for the ranks
    of a stable `argsort(u)`. It is found without sorting: the bits of a
    non-negative float32 order as its value, so 31 counting passes find the
    k-th smallest value bit by bit. `k` may be traced; `k <= 0` marks nothing.
    """
    bits = jax.lax.bitcast_convert_type(u.astype(jnp.float32), jnp.int32)
    k = jnp.asarray(k).astype(jnp.int32)

    # Raise the candidate bit by bit while fewer than k entries lie below it. The loop is
    # unrolled: a loop carry would need the sharding annotations of `u` inside `shard_map`.
    kth = jnp.zeros_like(bits[:1])[0]
    for bit in range(30, -1, -1):
        trial = kth | (1 << bit)
        kth = jnp.where(jnp.sum(bits < trial) < k, trial, kth)
    below = bits < kth
    ties = bits == kth
    # Of the entries equal to the k-th value, the first ones by index fill the count.
    take = ties & (jnp.cumsum(ties) <= k - jnp.sum(below))
    return (below | take) & (k > 0)


def _fill(faults: NetworkFaults, field: str, network: SpikingNetwork, value: float, kind: str) -> NetworkFaults:
    """Return `faults` with optional `field` present, filled with `value` where missing."""
    if getattr(faults, field) is not None:
        return faults
    if kind == "neuron":
        arrays = tuple(jnp.full((n,), value) for n in network.topology[1:])
    elif kind == "synapse":
        arrays = tuple(jnp.full(w.shape, value) for w in network.weights)
    else:
        arrays = tuple(jnp.full((a,), value) for a in network.n_astrocytes)
    return eqx.tree_at(lambda f: getattr(f, field), faults, arrays, is_leaf=lambda x: x is None)


class AbstractFault(eqx.Module):
    """A fault kind with its rate and targets."""

    rate: eqx.AbstractVar[float | Array]
    layers: eqx.AbstractVar[tuple[int, ...] | None]
    exact: eqx.AbstractVar[bool]
    among: eqx.AbstractVar[tuple[Array, ...] | None]

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """Short label such as ``"neuron_dead"``."""

    @abc.abstractmethod
    def apply(self, network: SpikingNetwork, faults: NetworkFaults, *, key: PRNGKeyArray) -> NetworkFaults:
        """Return `faults` with this fault's failed units added."""

    def default_layers(self, network: SpikingNetwork) -> tuple[int, ...]:
        """Layers targeted when `layers` is None."""
        return tuple(range(len(network.weights)))

    def target_layers(self, network: SpikingNetwork) -> tuple[int, ...]:
        """Return the targeted weight layers, checked against the network."""
        layers = self.default_layers(network) if self.layers is None else tuple(self.layers)
        _check_layers(layers, len(network.weights))
        if self.among is not None and len(self.among) != len(layers):
            raise ValueError(
                f"among must give one eligibility mask per targeted layer ({len(layers)}), got {len(self.among)}."
            )
        return layers

    def _failed(self, network, key, shapes):
        """Draw failed units over the targeted layers pooled; return one boolean array per layer."""
        sizes = [int(np.prod(s)) for s in shapes]
        eligible = None
        if self.among is not None:
            eligible = jnp.concatenate([jnp.asarray(m, dtype=bool).reshape(-1) for m in self.among])
        failed = choose_units(key, int(sum(sizes)), self.rate, exact=self.exact, eligible=eligible)
        pieces = jnp.split(failed, np.cumsum(sizes)[:-1])
        return [p.reshape(s) for p, s in zip(pieces, shapes)]


class _RateFault(AbstractFault):
    # The rate and target fields that every fault kind shares, with the rate check.
    rate: float | Array
    layers: tuple[int, ...] | None = eqx.field(static=True, default=None, kw_only=True)
    exact: bool = eqx.field(static=True, default=True, kw_only=True)
    among: tuple[Array, ...] | None = eqx.field(default=None, kw_only=True)

    def __check_init__(self):
        _check_rate(self.rate)


def _remove_failed(faults: NetworkFaults, field: str, layers, failed) -> NetworkFaults:
    """Return `faults` with the failed units of `field` (an alive mask) set to 0."""
    alive = list(getattr(faults, field))
    for layer, f in zip(layers, failed):
        alive[layer] = alive[layer] * (1.0 - f)
    return eqx.tree_at(lambda x: getattr(x, field), faults, tuple(alive))


def _flag_failed(faults: NetworkFaults, field: str, network, unit: str, layers, failed) -> NetworkFaults:
    """Return `faults` with the failed units of the optional flag `field` set to 1."""
    faults = _fill(faults, field, network, 0.0, unit)
    flags = list(getattr(faults, field))
    for layer, f in zip(layers, failed):
        flags[layer] = jnp.maximum(flags[layer], f.astype(flags[layer].dtype))
    return eqx.tree_at(lambda x: getattr(x, field), faults, tuple(flags))


class _NeuronFault(_RateFault):
    def default_layers(self, network):
        # Neuron faults target the hidden layers (all layers for a network without one).
        n_layers = len(network.weights)
        return tuple(range(max(n_layers - 1, 1)))

    def _neuron_failures(self, network, key):
        layers = self.target_layers(network)
        failed = self._failed(network, key, [(network.topology[layer + 1],) for layer in layers])
        return layers, failed


class NeuronDead(_NeuronFault):
    """Dead neurons: a failed neuron never spikes. Targets hidden layers by default."""

    @property
    def name(self):
        return "neuron_dead"

    def apply(self, network, faults, *, key):
        return _remove_failed(faults, "neuron_alive", *self._neuron_failures(network, key))


class NeuronSaturated(_NeuronFault):
    """Saturated neurons: a failed neuron spikes on every step it is not refractory."""

    @property
    def name(self):
        return "neuron_saturated"

    def apply(self, network, faults, *, key):
        return _flag_failed(faults, "neuron_saturated", network, "neuron", *self._neuron_failures(network, key))


class NeuronStuck(_NeuronFault):
    """Stuck neurons: a failed neuron's membrane is held at `value`.

    With `value >= v_th` the neuron spikes on every step it is not refractory;
    below threshold it never spikes.
    """

    value: float | Array = eqx.field(default=0.0, kw_only=True)

    @property
    def name(self):
        return "neuron_stuck"

    def apply(self, network, faults, *, key):
        layers, failed = self._neuron_failures(network, key)
        faults = _fill(faults, "neuron_stuck", network, 0.0, "neuron")
        faults = _fill(faults, "neuron_stuck_value", network, 0.0, "neuron")
        stuck, value = list(faults.neuron_stuck), list(faults.neuron_stuck_value)
        for layer, f in zip(layers, failed):
            stuck[layer] = jnp.maximum(stuck[layer], f.astype(stuck[layer].dtype))
            value[layer] = jnp.where(f, self.value, value[layer])
        return eqx.tree_at(lambda x: (x.neuron_stuck, x.neuron_stuck_value), faults, (tuple(stuck), tuple(value)))


class NeuronParametric(_NeuronFault):
    """Parametric neuron faults: a failed neuron's $V_\\mathrm{th}$ and $\\tau_n$ are multiplied by factors.

    The default raises the threshold by half (`threshold_factor=1.5`) and keeps
    $\\tau_n$, so the kind changes the network even when built from its name
    alone, as `lifa sweep --faults neuron_parametric` does.
    """

    threshold_factor: float | Array = eqx.field(default=1.5, kw_only=True)
    tau_factor: float | Array = eqx.field(default=1.0, kw_only=True)

    def __check_init__(self):
        _check_rate(self.rate)
        for name in ("threshold_factor", "tau_factor"):
            value = getattr(self, name)
            if isinstance(value, int | float) and not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}; pass a multiplicative factor such as 1.5.")

    @property
    def name(self):
        return "neuron_parametric"

    def apply(self, network, faults, *, key):
        layers, failed = self._neuron_failures(network, key)
        faults = _fill(faults, "threshold_factor", network, 1.0, "neuron")
        faults = _fill(faults, "tau_factor", network, 1.0, "neuron")
        th, tau = list(faults.threshold_factor), list(faults.tau_factor)
        for layer, f in zip(layers, failed):
            th[layer] = jnp.where(f, th[layer] * self.threshold_factor, th[layer])
            tau[layer] = jnp.where(f, tau[layer] * self.tau_factor, tau[layer])
        return eqx.tree_at(lambda x: (x.threshold_factor, x.tau_factor), faults, (tuple(th), tuple(tau)))


class _SynapseFault(_RateFault):
    def _replace(self, network, faults, layers, failed, values):
        faults = _fill(faults, "synapse_replaced", network, 0.0, "synapse")
        faults = _fill(faults, "synapse_value", network, 0.0, "synapse")
        replaced, value = list(faults.synapse_replaced), list(faults.synapse_value)
        for layer, f, v in zip(layers, failed, values):
            replaced[layer] = jnp.maximum(replaced[layer], f.astype(replaced[layer].dtype))
            value[layer] = jnp.where(f, v, value[layer])
        return eqx.tree_at(lambda x: (x.synapse_replaced, x.synapse_value), faults, (tuple(replaced), tuple(value)))


class SynapseDead(_SynapseFault):
    """Dead (stuck-at-0) synapses: a failed synapse has $W_{ij} = 0$. Targets all layers by default."""

    @property
    def name(self):
        return "synapse_dead"

    def apply(self, network, faults, *, key):
        layers = self.target_layers(network)
        failed = self._failed(network, key, [network.weights[layer].shape for layer in layers])
        return _remove_failed(faults, "synapse_alive", layers, failed)


class SynapseSaturated(_SynapseFault):
    """Saturated synapses: a failed synapse's weight becomes $\\pm w_\\max$.

    - `w_max`: the saturation magnitude; `None` takes each layer's largest
      $|W_{ij}|$.
    - `sign`: +1 or -1 for a fixed polarity, 0 to keep each weight's own sign.
    """

    w_max: float | None = eqx.field(static=True, default=None, kw_only=True)
    sign: int = eqx.field(static=True, default=1, kw_only=True)

    def __check_init__(self):
        _check_rate(self.rate)
        if self.sign not in (-1, 0, 1):
            raise ValueError(f"sign must be -1, 0 or +1, got {self.sign!r}; 0 keeps each weight's own sign.")
        if self.w_max is not None and not self.w_max > 0:
            raise ValueError(f"w_max must be positive, got {self.w_max!r}; pass a magnitude or None.")

    @property
    def name(self):
        return "synapse_saturated"

    def apply(self, network, faults, *, key):
        layers = self.target_layers(network)
        failed = self._failed(network, key, [network.weights[layer].shape for layer in layers])
        values = []
        for layer in layers:
            w = network.weights[layer]
            magnitude = jnp.max(jnp.abs(w)) if self.w_max is None else self.w_max
            sign = jnp.where(w >= 0, 1.0, -1.0) if self.sign == 0 else float(self.sign)
            values.append(sign * magnitude * jnp.ones_like(w))
        return self._replace(network, faults, layers, failed, values)


def _check_distinct_bits(bits: tuple[int, ...]) -> None:
    """Raise `ValueError` when a bit position appears twice (its flip would be counted twice)."""
    repeated = sorted({b for b in bits if bits.count(b) > 1})
    if repeated:
        raise ValueError(f"bit positions {repeated} appear more than once in bits={bits}; list each position once.")


class SynapseBitFlipFixed(_SynapseFault):
    """Bit flips in weights stored in signed fixed point Q(`int_bits`, `frac_bits`), two's complement.

    A weight is stored as $s \\cdot q$ with $q$ in Q(`int_bits`, `frac_bits`) (ARES
    default Q2.6: 8 bits, range $[-2, 2 - 2^{-6}]$) and $s$ a per-layer scale,
    `max |W| / (2^(int_bits - 1) - 2^-frac_bits)` unless `scale` is given, so the
    largest weight uses the full range. Flipped weights take the dequantised value
    of the flipped word; other weights keep their float value. `rate` is per bit;
    `bits` restricts the flipped positions (0 is the least significant bit).
    """

    int_bits: int = eqx.field(static=True, default=2, kw_only=True)
    frac_bits: int = eqx.field(static=True, default=6, kw_only=True)
    bits: tuple[int, ...] | None = eqx.field(static=True, default=None, kw_only=True)
    scale: float | None = eqx.field(static=True, default=None, kw_only=True)

    def __check_init__(self):
        _check_rate(self.rate)
        width = self.int_bits + self.frac_bits
        if self.int_bits < 1 or self.frac_bits < 0 or width > 31:
            raise ValueError(
                f"Q({self.int_bits}, {self.frac_bits}) is not a supported fixed-point format; "
                "use int_bits >= 1 (it holds the sign), frac_bits >= 0 and at most 31 bits in all."
            )
        if width < 2 and self.scale is None:
            raise ValueError(
                f"Q({self.int_bits}, {self.frac_bits}) has no positive value for the largest weight, so no scale fits; "
                "use at least two bits in all, such as Q(1, 1), or pass scale."
            )
        if self.bits is not None:
            bad = [b for b in self.bits if not 0 <= b < width]
            if bad:
                raise ValueError(
                    f"bit positions {bad} lie outside the {width}-bit Q({self.int_bits}, {self.frac_bits}) word; "
                    f"use positions 0 to {width - 1}."
                )
            _check_distinct_bits(self.bits)
        if self.scale is not None and not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"scale must be a positive finite number, got {self.scale}; or pass None for max |W|.")

    @property
    def name(self):
        return "synapse_bitflip_fixed"

    @property
    def width(self) -> int:
        return self.int_bits + self.frac_bits

    def layer_scale(self, weights: Array) -> Array:
        """Return the scale $s$ of one layer."""
        if self.scale is not None:
            return jnp.asarray(self.scale)
        largest = 2.0 ** (self.int_bits - 1) - 2.0**-self.frac_bits
        return jnp.maximum(jnp.max(jnp.abs(weights)), 1e-30) / largest

    def quantize(self, weights: Array, scale) -> Array:
        """Return the two's-complement words (as unsigned integers) of `weights / scale`."""
        low, high = -(2 ** (self.width - 1)), 2 ** (self.width - 1) - 1
        q = jnp.clip(jnp.round(weights / scale * 2.0**self.frac_bits), low, high).astype(jnp.int32)
        return q & (2**self.width - 1)

    def dequantize(self, words: Array, scale) -> Array:
        """Return the values of two's-complement `words`."""
        signed = jnp.where(words >= 2 ** (self.width - 1), words - 2**self.width, words)
        return signed.astype(jnp.float32) / 2.0**self.frac_bits * scale

    def flip_masks(self, key, shapes):
        positions = self.bits if self.bits is not None else tuple(range(self.width))
        return _flip_masks(self, key, shapes, positions)

    def apply(self, network, faults, *, key):
        layers = self.target_layers(network)
        shapes = [network.weights[layer].shape for layer in layers]
        masks = self.flip_masks(key, shapes)
        failed, values = [], []
        for layer, mask in zip(layers, masks):
            w = network.weights[layer]
            scale = self.layer_scale(w)
            values.append(self.dequantize(self.quantize(w, scale) ^ mask, scale))
            failed.append(mask != 0)
        return self._replace(network, faults, layers, failed, values)


class SynapseBitFlipFloat(_SynapseFault):
    """Bit flips in the IEEE-754 float32 words of the weights.

    `rate` is per bit; `bits` restricts the flipped positions (0 is the least
    significant mantissa bit, 23-30 the exponent, 31 the sign). Flips can create
    infinities and NaN (bit 30 turns 1.0 into +inf); the network then propagates
    them by the rules of `lifa_jax.network.propagate_nonfinite`.
    """

    bits: tuple[int, ...] | None = eqx.field(static=True, default=None, kw_only=True)

    def __check_init__(self):
        _check_rate(self.rate)
        if self.bits is not None:
            bad = [b for b in self.bits if not 0 <= b < 32]
            if bad:
                raise ValueError(f"bit positions {bad} lie outside the 32-bit float word; use positions 0 to 31.")
            _check_distinct_bits(self.bits)

    @property
    def name(self):
        return "synapse_bitflip_float"

    def apply(self, network, faults, *, key):
        layers = self.target_layers(network)
        shapes = [network.weights[layer].shape for layer in layers]
        positions = self.bits if self.bits is not None else tuple(range(32))
        masks = _flip_masks(self, key, shapes, positions)
        failed, values = [], []
        for layer, mask in zip(layers, masks):
            words = jax.lax.bitcast_convert_type(network.weights[layer].astype(jnp.float32), jnp.uint32)
            flipped = jax.lax.bitcast_convert_type(words ^ mask.astype(jnp.uint32), jnp.float32)
            values.append(flipped)
            failed.append(mask != 0)
        faults = self._replace(network, faults, layers, failed, values)
        return dataclasses.replace(faults, nonfinite=True)


def _flip_masks(fault, key, shapes, positions):
    """Return per layer an integer array whose set bits are the flipped positions."""
    sizes = [int(np.prod(s)) for s in shapes]
    n_bits = len(positions)
    chosen = _choose_bits(key, int(sum(sizes)) * n_bits, fault.rate, exact=fault.exact)
    chosen = chosen.reshape(-1, n_bits)
    if fault.among is not None:
        eligible = jnp.concatenate([jnp.asarray(m, dtype=bool).reshape(-1) for m in fault.among])
        chosen = chosen & eligible[:, None]
    weights = jnp.asarray([1 << p for p in positions], dtype=jnp.uint32)
    words = jnp.sum(jnp.where(chosen, weights[None, :], jnp.uint32(0)), axis=1, dtype=jnp.uint32)
    pieces = jnp.split(words, np.cumsum(sizes)[:-1])
    return [
        p.reshape(s).astype(jnp.int32) if isinstance(fault, SynapseBitFlipFixed) else p.reshape(s)
        for p, s in zip(pieces, shapes)
    ]


class _AstrocyteFault(_RateFault):
    def _astro_failures(self, network, key):
        layers = self.target_layers(network)
        return layers, self._failed(network, key, [(network.n_astrocytes[layer],) for layer in layers])


class AstrocyteDead(_AstrocyteFault):
    """Dead astrocytes: no calcium, no release, and no repair of their domain (gains stay 1)."""

    @property
    def name(self):
        return "astrocyte_dead"

    def apply(self, network, faults, *, key):
        return _remove_failed(faults, "astrocyte_alive", *self._astro_failures(network, key))


class AstrocyteStuck(_AstrocyteFault):
    """Stuck astrocytes: a failed astrocyte releases on every step it is not refractory.

    Its gliotransmitter climbs towards `delta_g / (tau_g (1 - exp(-dt (n_ref + 1) / tau_g)))`
    and over-drives its domain's synapses through the tripartite coupling.
    """

    @property
    def name(self):
        return "astrocyte_stuck"

    def apply(self, network, faults, *, key):
        return _flag_failed(faults, "astrocyte_stuck", network, "astrocyte", *self._astro_failures(network, key))


class Transient(eqx.Module):
    """A fault redrawn on every time step instead of once per run.

    `draw_faults` adds nothing permanent for it; the simulation calls
    `apply_step` with `jax.random.fold_in(key, step)` on every step, so each step
    sees a fresh mask at the same rate. Evaluate it with a per-sample key (the
    sweep does this).
    """

    fault: AbstractFault

    @property
    def name(self) -> str:
        return f"{self.fault.name}_transient"

    @property
    def rate(self):
        return self.fault.rate

    def apply(self, network, faults, *, key):
        del network, key
        return faults

    def apply_step(self, network, faults, *, key):
        """Return `faults` with this step's failures added."""
        return self.fault.apply(network, faults, key=key)


class Combined(eqx.Module):
    """Several fault kinds drawn into one mask, as `draw_faults(network, *faults)` draws them.

    A sweep of a `Combined` fault sets the rate of the components listed in
    `swept` (all of them by default) and keeps the others at their own rate.
    `Combined(NeuronDead(0.1), AstrocyteDead(0.5), swept=(0,))` swept over rates
    r evaluates masks with a fraction r of dead neurons and half of the
    astrocytes dead: how much repair is left when the astrocytes themselves
    fail. Its `name` joins the kinds with "+" and marks a fixed component's rate
    with "@", here ``"neuron_dead+astrocyte_dead@0.5"``, the form that
    `fault_from_spec` and `lifa sweep --faults` read. When two components
    replace the same synapse, the later one wins. The first component fails
    the same units as it would alone under the same key, so a sweep of
    `NeuronDead` and of this combination compares the same dead neurons with
    and without the dead astrocytes.
    """

    faults: tuple[AbstractFault, ...]
    swept: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, *faults: AbstractFault, swept: tuple[int, ...] | None = None):
        if len(faults) < 2:
            raise ValueError(
                f"Combined needs at least two faults, got {len(faults)}; pass the single fault itself instead."
            )
        for fault in faults:
            if not isinstance(fault, AbstractFault):
                raise ValueError(
                    f"Combined takes fault kinds such as NeuronDead(0.1), got {type(fault).__name__}; "
                    "a transient combination is Transient(Combined(...)), and combinations do not nest."
                )
        names = [fault.name for fault in faults]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"Combined repeats {repeated}; give each fault kind once.")
        if swept is None:
            swept = tuple(range(len(faults)))
        elif not isinstance(swept, tuple | list) or not all(
            isinstance(i, int | np.integer) and not isinstance(i, bool) for i in swept
        ):
            raise ValueError(
                f"swept must be a tuple of component indices, got {swept!r}; for example swept=(0,) to sweep the "
                "first fault's rate."
            )
        swept = tuple(int(i) for i in swept)
        bad = [i for i in swept if not 0 <= i < len(faults)]
        if not swept or bad or len(set(swept)) != len(swept):
            raise ValueError(
                f"swept must list distinct component indices in [0, {len(faults)}), at least one, got {swept}; "
                "for example swept=(0,) to sweep the first fault's rate."
            )
        self.faults = tuple(faults)
        self.swept = swept

    @property
    def name(self) -> str:
        parts = []
        for i, fault in enumerate(self.faults):
            parts.append(fault.name if i in self.swept else f"{fault.name}@{float(fault.rate):.12g}")
        return "+".join(parts)

    @property
    def rate(self):
        """The swept rate: that of the first component in `swept`."""
        return self.faults[self.swept[0]].rate

    def apply(self, network: SpikingNetwork, faults: NetworkFaults, *, key: PRNGKeyArray) -> NetworkFaults:
        """Return `faults` with every component's failed units added.

        The first component draws from `key` itself, so it fails the same units
        as it would alone; component `i` draws from `jax.random.fold_in(key, i)`.
        """
        for i, fault in enumerate(self.faults):
            faults = fault.apply(network, faults, key=key if i == 0 else jax.random.fold_in(key, i))
        return faults


def with_rate(fault, rate):
    """Return `fault` with its rate replaced: inside a `Transient`, and for the swept components of a `Combined`."""
    if isinstance(fault, Transient):
        return Transient(with_rate(fault.fault, rate))
    if isinstance(fault, Combined):
        parts = tuple(
            eqx.tree_at(lambda f: f.rate, part, rate) if i in fault.swept else part
            for i, part in enumerate(fault.faults)
        )
        return Combined(*parts, swept=fault.swept)
    return eqx.tree_at(lambda f: f.rate, fault, rate)


FAULT_KINDS = {
    "neuron_dead": NeuronDead,
    "neuron_saturated": NeuronSaturated,
    "neuron_stuck": NeuronStuck,
    "neuron_parametric": NeuronParametric,
    "synapse_dead": SynapseDead,
    "synapse_saturated": SynapseSaturated,
    "synapse_bitflip_fixed": SynapseBitFlipFixed,
    "synapse_bitflip_float": SynapseBitFlipFloat,
    "astrocyte_dead": AstrocyteDead,
    "astrocyte_stuck": AstrocyteStuck,
}


def fault_from_name(name: str, rate: float, **options) -> AbstractFault:
    """Return the fault kind called `name` at `rate`, with keyword `options` of that kind."""
    try:
        cls = FAULT_KINDS[name]
    except KeyError:
        valid = ", ".join(sorted(FAULT_KINDS))
        raise ValueError(f"unknown fault kind {name!r}; use one of: {valid}.") from None
    fields = sorted(f.name for f in dataclasses.fields(cls) if f.init and f.name != "rate")
    unknown = sorted(set(options) - set(fields))
    if unknown:
        raise ValueError(
            f"{name} has no option {', '.join(map(repr, unknown))}; "
            f"its options are: {', '.join(fields) if fields else 'none besides the rate'}."
        )
    return cls(rate, **options)


def parse_fault_spec(spec: str) -> list[tuple[str, float | None]]:
    """Split a fault specification such as ``"neuron_dead+astrocyte_dead@0.5"`` into (kind, fixed rate) pairs.

    Kinds are joined with "+"; a kind followed by "@RATE" keeps that rate, the
    others take the swept rate (None here). At least one must be swept.
    """
    if not isinstance(spec, str):
        raise ValueError(
            f"a fault specification must be a string such as 'neuron_dead+astrocyte_dead@0.5', got {spec!r}."
        )
    valid = ", ".join(sorted(FAULT_KINDS))
    parts = []
    for text in spec.split("+"):
        kind, at, fixed = text.strip().partition("@")
        kind = kind.strip()
        if not kind:
            raise ValueError(
                f"{spec!r} has an empty fault kind; join kinds with single '+' signs, as in "
                "neuron_dead+astrocyte_dead@0.5."
            )
        if kind not in FAULT_KINDS:
            where = f" in {spec!r}" if "+" in spec or at else ""
            raise ValueError(f"unknown fault kind {kind!r}{where}; use one of: {valid}.")
        rate = None
        if at:
            try:
                rate = float(fixed)
            except ValueError:
                rate = math.nan
            if not (math.isfinite(rate) and 0.0 <= rate <= 1.0):
                raise ValueError(
                    f"fixed rate {fixed.strip()!r} of {kind} in {spec!r} must be a number in [0, 1]; "
                    f"write {kind}@0.5, for example."
                )
        parts.append((kind, rate))
    kinds = [kind for kind, _ in parts]
    repeated = sorted({kind for kind in kinds if kinds.count(kind) > 1})
    if repeated:
        raise ValueError(f"{spec!r} repeats {repeated}; give each fault kind once.")
    if all(rate is not None for _, rate in parts):
        raise ValueError(
            f"every kind in {spec!r} has a fixed rate, so the sweep's rates would change nothing; "
            "leave at least one kind without @RATE."
        )
    return parts


def canonical_fault_spec(spec: str) -> str:
    """Return `spec` as `Combined.name` writes it: no spaces, fixed rates in shortest form."""
    return "+".join(kind if fixed is None else f"{kind}@{fixed:.12g}" for kind, fixed in parse_fault_spec(spec))


def fault_from_spec(spec: str, rate: float, options: dict | None = None) -> "AbstractFault | Combined":
    """Return the fault that specification `spec` names, at the swept `rate`.

    `spec` is a kind name (``"neuron_dead"``) or a combination such as
    ``"neuron_dead+astrocyte_dead@0.5"`` (see `Combined` and `parse_fault_spec`).
    `options` maps a kind to its keyword options, as in `fault_from_name`.
    """
    options = options or {}
    parts = parse_fault_spec(spec)
    faults = [fault_from_name(kind, rate if fixed is None else fixed, **options.get(kind, {})) for kind, fixed in parts]
    if len(faults) == 1:
        return faults[0]
    return Combined(*faults, swept=tuple(i for i, (_, fixed) in enumerate(parts) if fixed is None))


def draw_faults(network: SpikingNetwork, *faults: AbstractFault, key: PRNGKeyArray) -> NetworkFaults:
    """Draw one mask holding every fault in `faults` (combined), from `key`.

    When several faults replace the same synapse, the last one wins; a replaced
    synapse takes its replacement value even when another fault killed it. Vmap
    over keys to draw many masks.
    """
    masks = network.no_faults()
    if any(isinstance(f, Transient) for f in faults) and not all(isinstance(f, Transient) for f in faults):
        raise NotImplementedError("combine transient faults only with other transient faults; wrap each in Transient.")
    for fault, k in zip(faults, jax.random.split(key, max(len(faults), 1))):
        masks = fault.apply(network, masks, key=k)
    return masks
