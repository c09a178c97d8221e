"""Feed-forward spiking network with LIFA astrocyte domains."""

import dataclasses
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .._checks import check_key
from ..dynamics import (
    LIF,
    LIFA,
    AstrocyteState,
    Gliotransmitter,
    LIFState,
    TripartiteCoupling,
    astrocyte_init,
    astrocyte_step,
    heaviside,
    lif_init,
    lif_step,
)
from ..dynamics.base import check_positive
from .base import AbstractPropagation
from .domains import contiguous_domains, count_astrocytes
from .propagation import DenseProjection


class NetworkFaults(eqx.Module):
    """Fault state of a network, one entry per weight layer (`len(topology) - 1`) in each field.

    Neurons (arrays of shape `(topology[l + 1],)`):

    - `neuron_alive`: 0 marks a dead neuron, which never spikes.
    - `neuron_saturated`: 1 marks a neuron that spikes on every step it is not
      refractory.
    - `neuron_stuck`, `neuron_stuck_value`: 1 marks a neuron whose membrane is held
      at `neuron_stuck_value`.
    - `threshold_factor`, `tau_factor`: parametric faults multiply $V_\\mathrm{th}$
      and $\tau_n$ of each neuron (1 when healthy).

    Synapses (arrays of shape `(topology[l], topology[l + 1])`):

    - `synapse_alive`: 0 marks a dead (stuck-at-0) synapse, $W_{ij} = 0$.
    - `synapse_replaced`, `synapse_value`: 1 marks a synapse whose weight is
      replaced by `synapse_value` (saturated synapses and bit flips).

    Astrocytes (arrays of shape `(n_astrocytes[l],)`):

    - `astrocyte_alive`: 0 marks a dead astrocyte: no calcium, no release, no repair.
    - `astrocyte_stuck`: 1 marks an astrocyte that releases on every step it is not
      refractory.

    `nonfinite` (static) is set by faults that can create infinite or NaN weights;
    the simulation then propagates them by the rules of `propagate_nonfinite`.
    """

    neuron_alive: tuple[Float[Array, " post"], ...]
    synapse_alive: tuple[Float[Array, "pre post"], ...]
    astrocyte_alive: tuple[Float[Array, " astrocytes"], ...]
    neuron_saturated: tuple[Float[Array, " post"], ...] | None = None
    neuron_stuck: tuple[Float[Array, " post"], ...] | None = None
    neuron_stuck_value: tuple[Float[Array, " post"], ...] | None = None
    threshold_factor: tuple[Float[Array, " post"], ...] | None = None
    tau_factor: tuple[Float[Array, " post"], ...] | None = None
    synapse_replaced: tuple[Float[Array, "pre post"], ...] | None = None
    synapse_value: tuple[Float[Array, "pre post"], ...] | None = None
    astrocyte_stuck: tuple[Float[Array, " astrocytes"], ...] | None = None
    nonfinite: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        if (self.neuron_stuck is None) != (self.neuron_stuck_value is None):
            raise ValueError("neuron_stuck and neuron_stuck_value must be given together.")
        if (self.synapse_replaced is None) != (self.synapse_value is None):
            raise ValueError("synapse_replaced and synapse_value must be given together.")


def effective_weights(weights: tuple[Array, ...], faults: NetworkFaults) -> tuple[Array, ...]:
    """Return the weights seen by the network under `faults` (dead and replaced synapses)."""
    out = []
    for layer, w in enumerate(weights):
        w = w * faults.synapse_alive[layer]
        if faults.synapse_replaced is not None:
            w = jnp.where(faults.synapse_replaced[layer] > 0, faults.synapse_value[layer], w)
        out.append(w)
    return tuple(out)


def propagate_nonfinite(propagation: AbstractPropagation, weights: Array, spikes: Array) -> Array:
    """Propagate spikes through weights that may hold +inf, -inf or NaN.

    A synapse acts only when its presynaptic neuron spikes, so a non-finite weight
    behind a silent neuron contributes nothing (a plain product would give
    0 * inf = NaN). When a spike crosses a non-finite synapse, the postsynaptic
    input becomes +inf (only +inf weights hit), -inf (only -inf weights hit) or NaN
    (a NaN weight, or both infinities). A membrane driven to +inf fires on every
    step it may; -inf silences the neuron; a NaN membrane never fires. Finite
    weights keep their exact contribution otherwise.
    """
    finite = jnp.isfinite(weights)
    total = propagation(jnp.where(finite, weights, 0.0), spikes)
    active = (spikes != 0).astype(weights.dtype)
    hit_pos = propagation((weights == jnp.inf).astype(weights.dtype), active) > 0
    hit_neg = propagation((weights == -jnp.inf).astype(weights.dtype), active) > 0
    hit_nan = propagation(jnp.isnan(weights).astype(weights.dtype), active) > 0
    total = jnp.where(hit_pos, jnp.inf, total)
    total = jnp.where(hit_neg, -jnp.inf, total)
    return jnp.where(hit_nan | (hit_pos & hit_neg), jnp.nan, total)


class NetworkState(eqx.Module):
    """State of every layer's neurons and astrocytes during a simulation."""

    neurons: tuple[LIFState, ...]
    astrocytes: tuple[AstrocyteState, ...]


class Trace(eqx.Module):
    """Per-step record of a simulation, for plots and analysis."""

    input_spikes: Float[Array, "steps inputs"]
    spikes: tuple[Float[Array, "steps neurons"], ...]
    calcium: tuple[Float[Array, "steps astrocytes"], ...]
    gliotransmitter: tuple[Float[Array, "steps astrocytes"], ...]
    releases: tuple[Float[Array, "steps astrocytes"], ...]


class SimulationResult(eqx.Module):
    """Result of a simulation.

    - `counts[l]`: spikes of each neuron of layer `l + 1` over the run.
    - `output_membrane`: time-averaged membrane of the output neurons (tie-breaks).
    - `trace`: per-step record, or `None` unless requested.
    - `nonfinite_membranes`: neurons whose membrane was infinite or NaN at the end.
    """

    counts: tuple[Float[Array, " neurons"], ...]
    output_membrane: Float[Array, " outputs"]
    trace: Trace | None
    nonfinite_membranes: Int[Array, ""] | None = None


class SpikingNetwork(eqx.Module):
    r"""Feed-forward LIF network whose hidden and output neurons belong to LIFA astrocytes.

    Layer $l$ receives $I_i = g_i \frac{p_i}{p_0} \sum_j W_{ji} s_j / \Delta t$, with
    $p_i = p_0 + \alpha G_{a(i)}$ the tripartite coupling, $g_i$ the homeostatic
    repair gain (1 without repair), and spikes entering as step-sized pulses. Each
    neuron of a hidden or output layer belongs to one astrocyte's domain, whose
    calcium integrates the domain's spikes (`LIFA`).

    Build one with `SpikingNetwork.init`. Models take one sample; `jax.vmap` over
    the batch.

    **Fields:**

    - `weights`: one `(pre, post)` matrix per layer.
    - `domains`: per layer, the astrocyte index of each postsynaptic neuron
      (-1: no astrocyte). Integer arrays, so filtered out of gradients.
    - `neuron`, `astrocyte`, `gliotransmitter`, `coupling`: model parameters shared
      by all layers.
    - `propagation`: how spikes cross a layer (`DenseProjection` by default).
    - `topology`, `n_astrocytes`, `dt`: static sizes and the step (ms).
    """

    weights: tuple[Float[Array, "pre post"], ...]
    domains: tuple[Int[Array, " post"], ...]
    neuron: LIF
    astrocyte: LIFA
    gliotransmitter: Gliotransmitter
    coupling: TripartiteCoupling
    propagation: AbstractPropagation
    topology: tuple[int, ...] = eqx.field(static=True)
    n_astrocytes: tuple[int, ...] = eqx.field(static=True)
    dt: float = eqx.field(static=True)

    @classmethod
    def init(
        cls,
        topology: Sequence[int],
        *,
        key: PRNGKeyArray,
        neuron: LIF = LIF(),
        astrocyte: LIFA = LIFA(),
        gliotransmitter: Gliotransmitter = Gliotransmitter(),
        coupling: TripartiteCoupling = TripartiteCoupling(),
        propagation: AbstractPropagation = DenseProjection(),
        domain_size: int = 16,
        domains: Sequence[np.ndarray] | None = None,
        dt: float = 1.0,
        weight_scale: float = 2.0,
    ) -> "SpikingNetwork":
        r"""Return a network with Gaussian weights.

        Weights are drawn as $W \sim \mathcal{N}(0, \sigma^2)$ with
        $\sigma = \mathrm{weight\_scale}\cdot\tau_n / (R\sqrt{n_\mathrm{pre}})$, so a
        layer's drive is of order threshold whatever its fan-in.

        **Arguments:**

        - `topology`: neurons per layer, input first, e.g. `[64, 128, 10]`.
        - `key`: a JAX PRNG key.
        - `domain_size`: neurons per astrocyte for contiguous domains.
        - `domains`: explicit neuron-to-astrocyte maps per layer (overrides
          `domain_size`), e.g. from astrocyte placement.
        - `dt`: step (ms).
        """
        if isinstance(topology, str) or not all(
            isinstance(n, int | np.integer) and not isinstance(n, bool) for n in topology
        ):
            raise ValueError(
                f"topology must be a list of integer layer sizes, got {topology!r}; for example [64, 128, 10]."
            )
        topology = tuple(int(n) for n in topology)
        if len(topology) < 2 or any(n < 1 for n in topology):
            raise ValueError(
                f"topology must list at least two positive layer sizes, got {list(topology)}; "
                "for example [64, 128, 10]."
            )
        check_key("key", key)
        check_positive("dt", dt, "pass a step in ms")
        if domains is None:
            domains = [contiguous_domains(n, domain_size) for n in topology[1:]]
        domains = tuple(np.asarray(d, dtype=np.int32) for d in domains)
        if len(domains) != len(topology) - 1 or any(d.shape != (n,) for d, n in zip(domains, topology[1:])):
            raise ValueError(
                f"domains must give one index per neuron of each layer after the input "
                f"(sizes {list(topology[1:])}); got shapes {[d.shape for d in domains]}."
            )

        n_astrocytes = tuple(count_astrocytes(d) for d in domains)
        _check_shared_parameters("neuron", neuron, topology[1:])
        _check_shared_parameters("astrocyte", astrocyte, n_astrocytes)
        _check_shared_parameters("gliotransmitter", gliotransmitter, n_astrocytes)

        keys = jax.random.split(key, len(topology) - 1)
        weights = tuple(
            jax.random.normal(k, (n_pre, n_post)) * (weight_scale * neuron.tau_n / (neuron.resistance * np.sqrt(n_pre)))
            for k, n_pre, n_post in zip(keys, topology[:-1], topology[1:])
        )
        return cls(
            weights=weights,
            domains=tuple(jnp.asarray(d) for d in domains),
            neuron=neuron,
            astrocyte=astrocyte,
            gliotransmitter=gliotransmitter,
            coupling=coupling,
            propagation=propagation,
            topology=topology,
            n_astrocytes=n_astrocytes,
            dt=float(dt),
        )

    @property
    def n_neurons(self) -> int:
        """Neurons in all layers, input layer included (the LIFA paper's count)."""
        return int(sum(self.topology))

    @property
    def n_synapses(self) -> int:
        """Weights in all layers (no biases)."""
        return int(sum(a * b for a, b in zip(self.topology[:-1], self.topology[1:])))

    def no_faults(self) -> NetworkFaults:
        """Return the fault-free masks (everything alive)."""
        return NetworkFaults(
            neuron_alive=tuple(jnp.ones((n,)) for n in self.topology[1:]),
            synapse_alive=tuple(jnp.ones_like(w) for w in self.weights),
            astrocyte_alive=tuple(jnp.ones((a,)) for a in self.n_astrocytes),
        )

    def unit_gains(self) -> tuple[Float[Array, " post"], ...]:
        """Return repair gains of 1 for every neuron (no repair)."""
        return tuple(jnp.ones((n,)) for n in self.topology[1:])

    def init_state(self) -> NetworkState:
        """Return every neuron and astrocyte at rest."""
        return NetworkState(
            neurons=tuple(lif_init(self.neuron, (n,)) for n in self.topology[1:]),
            astrocytes=tuple(astrocyte_init(self.astrocyte, (a,)) for a in self.n_astrocytes),
        )

    def step(
        self,
        state: NetworkState,
        input_spikes: Float[Array, " inputs"],
        faults: NetworkFaults,
        gains: tuple[Float[Array, " post"], ...],
        spike_fn: Callable[[Array], Array] = heaviside,
        weights: tuple[Array, ...] | None = None,
    ) -> tuple[NetworkState, tuple[tuple[Array, ...], tuple[Array, ...]]]:
        """Advance the network by one step.

        `weights` are the effective weights (`effective_weights(network.weights,
        faults)`); pass them when stepping repeatedly so they are computed once.

        **Returns:** `(new_state, (spikes, releases))` with one array per layer.
        """
        weights = effective_weights(self.weights, faults) if weights is None else weights
        spikes = input_spikes
        neurons, astrocytes, all_spikes, all_releases = [], [], [], []
        for layer in range(len(self.weights)):
            domain = self.domains[layer]
            n_astro = self.n_astrocytes[layer]
            has_astro = domain >= 0
            glio = state.astrocytes[layer].g
            g_post = jnp.where(has_astro, glio[jnp.clip(domain, 0, max(n_astro - 1, 0))], 0.0) if n_astro else 0.0

            if faults.nonfinite:
                synaptic = propagate_nonfinite(self.propagation, weights[layer], spikes)
            else:
                synaptic = self.propagation(weights[layer], spikes)
            # Repair gains act through the astrocyte: a domain whose astrocyte is dead at this step keeps gain 1.
            gain = gains[layer]
            if n_astro:
                astro_alive = faults.astrocyte_alive[layer][jnp.clip(domain, 0, n_astro - 1)] > 0
                gain = jnp.where(has_astro & ~astro_alive, 1.0, gain)
            current = synaptic * self.coupling.scale(g_post) * gain / self.dt
            neuron_state, spikes = lif_step(
                self._layer_neuron(faults, layer),
                state.neurons[layer],
                current,
                self.dt,
                spike_fn,
                force_spike=None if faults.neuron_saturated is None else faults.neuron_saturated[layer],
                hold=None if faults.neuron_stuck is None else faults.neuron_stuck[layer],
                hold_value=None if faults.neuron_stuck_value is None else faults.neuron_stuck_value[layer],
            )
            spikes = spikes * faults.neuron_alive[layer]

            # Spikes of neurons without an astrocyte go to an extra segment that is dropped.
            segment = jnp.where(has_astro, domain, n_astro)
            domain_counts = jax.ops.segment_sum(spikes, segment, num_segments=n_astro + 1)[:n_astro]
            alive = faults.astrocyte_alive[layer]
            domain_counts = jax.lax.stop_gradient(domain_counts) * alive
            stuck = None if faults.astrocyte_stuck is None else faults.astrocyte_stuck[layer] * alive
            astro_state, releases = astrocyte_step(
                self.astrocyte,
                self.gliotransmitter,
                state.astrocytes[layer],
                domain_counts,
                self.dt,
                force_release=stuck,
            )

            neurons.append(neuron_state)
            astrocytes.append(astro_state)
            all_spikes.append(spikes)
            all_releases.append(releases)
        return NetworkState(tuple(neurons), tuple(astrocytes)), (tuple(all_spikes), tuple(all_releases))

    def _layer_neuron(self, faults: NetworkFaults, layer: int) -> LIF:
        """Return the layer's neuron parameters with parametric faults applied."""
        neuron = self.neuron
        if faults.threshold_factor is not None:
            neuron = eqx.tree_at(lambda n: n.v_th, neuron, neuron.v_th * faults.threshold_factor[layer])
        if faults.tau_factor is not None:
            neuron = eqx.tree_at(lambda n: n.tau_n, neuron, neuron.tau_n * faults.tau_factor[layer])
        return neuron


def _check_shared_parameters(name: str, module: eqx.Module, sizes: Sequence[int]) -> None:
    """Raise `ValueError` when an array parameter of `module`, shared by every layer, does not fit every layer's size."""
    for field in dataclasses.fields(module):
        value = getattr(module, field.name)
        shape = np.shape(value) if isinstance(value, jax.Array | np.ndarray) else ()
        for size in sizes:
            try:
                np.broadcast_shapes(shape, (size,))
            except ValueError:
                raise ValueError(
                    f"{name}.{field.name} has shape {shape}, which does not fit a layer of {size} units; one "
                    f"{name} is shared by every layer, so pass a scalar or an array that broadcasts to every "
                    f"layer's size ({list(sizes)})."
                ) from None


def simulate(
    network: SpikingNetwork,
    input_spikes: Float[Array, "steps inputs"],
    *,
    faults: NetworkFaults | None = None,
    gains: tuple[Array, ...] | None = None,
    spike_fn: Callable[[Array], Array] = heaviside,
    record: bool = False,
    transient=None,
    key: PRNGKeyArray | None = None,
) -> SimulationResult:
    """Simulate `network` on one sample's spike train with `jax.lax.scan`.

    **Arguments:**

    - `input_spikes`: shape `(steps, topology[0])`, floats in {0, 1}.
    - `faults`: fault masks (`network.no_faults()` by default).
    - `gains`: homeostatic repair gains per layer (`network.unit_gains()` by default).
    - `spike_fn`: threshold function; a surrogate from `lifa_jax.training` when
      differentiating.
    - `record`: also return the per-step `Trace` (costs memory proportional to steps).
    - `transient`, `key`: a transient fault (any object with
      `apply_step(network, faults, *, key)`, such as `lifa_jax.faults.Transient`)
      redrawn on every step from `jax.random.fold_in(key, step)`, on top of
      `faults`.

    **Returns:** a `SimulationResult`.
    """
    if input_spikes.ndim != 2 or input_spikes.shape[1] != network.topology[0]:
        raise ValueError(
            f"input_spikes must have shape (steps, {network.topology[0]}), got {input_spikes.shape}; "
            "encode one sample at a time and vmap over the batch."
        )
    faults = network.no_faults() if faults is None else faults
    gains = network.unit_gains() if gains is None else gains

    if transient is not None and key is None:
        raise ValueError("a transient fault needs a key; pass key=jax.random.key(...).")
    weights = effective_weights(network.weights, faults)
    steps = jnp.arange(input_spikes.shape[0])

    def body(carry, xs):
        x_t, t = xs
        state, counts, v_sum = carry
        if transient is None:
            step_faults, step_weights = faults, weights
        else:
            step_faults = transient.apply_step(network, faults, key=jax.random.fold_in(key, t))
            step_weights = effective_weights(network.weights, step_faults)
        state, (spikes, releases) = network.step(state, x_t, step_faults, gains, spike_fn, step_weights)
        counts = tuple(c + s for c, s in zip(counts, spikes))
        # A dead output neuron's membrane still integrates but must not inform the
        # readout's tie-break, so it contributes -inf (no tie-break) instead.
        v_sum = v_sum + jnp.where(step_faults.neuron_alive[-1] > 0, state.neurons[-1].v, -jnp.inf)
        record_t = None
        if record:
            record_t = (
                spikes,
                tuple(a.c for a in state.astrocytes),
                tuple(a.g for a in state.astrocytes),
                releases,
            )
        return (state, counts, v_sum), record_t

    counts0 = tuple(jnp.zeros((n,)) for n in network.topology[1:])
    carry0 = (network.init_state(), counts0, jnp.zeros((network.topology[-1],)))
    (final, counts, v_sum), records = jax.lax.scan(body, carry0, (input_spikes, steps))
    nonfinite = sum(jnp.sum(~jnp.isfinite(n.v)) for n in final.neurons)

    trace = None
    if record:
        spikes, calcium, glio, releases = records
        trace = Trace(input_spikes, spikes, calcium, glio, releases)
    return SimulationResult(
        counts=counts, output_membrane=v_sum / input_spikes.shape[0], trace=trace, nonfinite_membranes=nonfinite
    )


def predict(result: SimulationResult) -> Int[Array, ""]:
    """Return the predicted class: the output neuron with most spikes.

    Ties are broken by the time-averaged membrane potential, which enters through
    half a sigmoid, in (0, 0.5], and so never outweighs a difference of one spike.
    A non-finite membrane (after a float bit flip) counts as no tie-break.
    """
    v = result.output_membrane
    tie_break = jnp.where(jnp.isfinite(v) | (v == jnp.inf), 0.5 * jax.nn.sigmoid(jnp.nan_to_num(v)), 0.0)
    return jnp.argmax(result.counts[-1] + tie_break)
