r"""Alternative reduce regime (ARR): skip neuron updates that cannot change the outcome, or accept a loss.

Level 1, `NeuronGating` (lossless). A neuron that receives no presynaptic spike
on a step is not updated. Its state is kept together with the step of its last
update, and the skipped steps are applied exactly when it is next updated:
of $k$ skipped steps the first $\min(r, k)$ are refractory (membrane clamped,
$r$ the refractory steps left) and the remaining $m = k - \min(r, k)$ relax the
membrane, which for the exact exponential stepper gives

$$V \leftarrow V_\mathrm{rest} + (V - V_\mathrm{rest})\, e^{-m \Delta t / \tau_n},
\qquad r \leftarrow \max(r - k, 0).$$

Why a skipped step can never hide a spike: without input the update is the
convex combination $V_\mathrm{rest} + (V - V_\mathrm{rest}) e^{-\Delta t/\tau_n}$
(or the clamp while refractory), so the membrane stays between its last value
and $V_\mathrm{rest}$. If both lie below $V_\mathrm{th}$ no later input-free
step reaches threshold. A neuron is therefore updated on every step on which
any of these holds: it receives a spike, its membrane is at or above threshold
(possible after a `subtract` reset), its $V_\mathrm{rest}$ is not below its
threshold (a parametric fault), or it is saturated or stuck (faults that act
without input). The spike trains then equal those of `simulate` up to float
rounding of $e^{-m\Delta t/\tau_n}$ against $m$ products of $e^{-\Delta t/\tau_n}$.

Level 2, `DomainGating` (lossy). An astrocyte switches its whole domain off
while its calcium stays below `c_gate`: the domain's neurons are neither
updated nor spike, and spikes sent to them are lost. The details are our
choices, because no source fixes them. Every domain is on during the first
`probe_steps` steps: calcium starts at rest, so without a probe window every
domain would start off and never turn on. From then on domain $a$ is on at
step $t$ when $C_a \ge c_\mathrm{gate}$ or $G_a > 0$ at the end of step $t - 1$. The second
condition keeps a domain on once its astrocyte has released gliotransmitter,
because a release resets the calcium of the most active domains. Neurons
without an astrocyte, and by default the output layer, are never switched off.
Level 2 includes level 1. Astrocytes are updated on every step in every regime,
because they decide the gating.

The LIFA definition follows Yunusoglu, Le, Isik, Dikmen & Karadag, "Neuromorphic
Circuits with Spiking Astrocytes for Increased Energy Efficiency, Fault
Tolerance, and Memory Capacitance" (2025), whose alternative reduce regime
switches single neuron components off to save energy.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from ..dynamics import LIF, LIFState, astrocyte_step, heaviside, lif_step
from ..network import NetworkFaults, SimulationResult, SpikingNetwork, Trace, effective_weights, propagate_nonfinite
from ..network.snn import NetworkState
from .events import EventCounts


class AbstractGating(eqx.Module):
    """Which neuron updates a simulation skips; `NoGating`, `NeuronGating` or `DomainGating`."""

    def parameters(self) -> "GatingParameters":
        """Return the regime as arrays, so every regime shares one compiled simulation."""
        raise NotImplementedError


class GatingParameters(AbstractGating):
    """A gating regime as arrays (see `AbstractGating.parameters`).

    It is itself a regime: pass it as `gating` inside `jax.jit` so that one
    compiled function serves every regime.
    """

    skip_without_input: Bool[Array, ""]
    c_gate: Float[Array, ""]
    probe_steps: Int[Array, ""]
    gate_output: Bool[Array, ""]

    def parameters(self) -> "GatingParameters":
        return self


def _parameters(skip: bool, c_gate: float, probe_steps: int, gate_output: bool) -> GatingParameters:
    return GatingParameters(
        skip_without_input=jnp.asarray(skip),
        c_gate=jnp.asarray(c_gate, dtype=jnp.float32),
        probe_steps=jnp.asarray(probe_steps, dtype=jnp.int32),
        gate_output=jnp.asarray(gate_output),
    )


class NoGating(AbstractGating):
    """ARR off: every neuron is updated on every step."""

    def parameters(self) -> GatingParameters:
        return _parameters(False, -math.inf, 0, False)


class NeuronGating(AbstractGating):
    """ARR level 1: skip neurons without input and apply their leak exactly later (lossless)."""

    def parameters(self) -> GatingParameters:
        return _parameters(True, -math.inf, 0, False)


class DomainGating(AbstractGating):
    """ARR level 2: level 1, and astrocytes switch their domain off while calcium is below `c_gate` (lossy).

    **Arguments:**

    - `c_gate`: calcium threshold (dimensionless, the units of `LIFA.c_th`). A
      value at or below the resting and reset calcium switches nothing off.
    - `probe_steps`: steps at the start of each sample during which every domain
      is on, so astrocytes can measure their domain's activity.
    - `gate_output`: also gate the output layer's domains (off by default: a
      read-out that cannot spike cannot classify).
    """

    c_gate: float | Float[Array, ""] = 0.1
    probe_steps: int = 5
    gate_output: bool = False

    def __check_init__(self):
        if isinstance(self.c_gate, int | float) and not math.isfinite(self.c_gate):
            raise ValueError(f"c_gate must be finite, got {self.c_gate!r}; pass a calcium level such as 0.1.")
        if isinstance(self.probe_steps, bool) or not isinstance(self.probe_steps, int) or self.probe_steps < 0:
            raise ValueError(f"probe_steps must be a non-negative integer, got {self.probe_steps!r}.")

    def parameters(self) -> GatingParameters:
        return _parameters(True, self.c_gate, self.probe_steps, self.gate_output)


class GatedSimulation(eqx.Module):
    """What `simulate_gated` returns.

    - `result`: the `SimulationResult`, as `simulate` returns it. The output
      membrane averages, for neurons not updated on a step, the value their
      deferred leak gives; computing it is bookkeeping, not a counted update.
    - `events`: the `EventCounts` of this sample.
    - `updated`: per layer, 1 where a neuron was updated on a step, shape
      `(steps, neurons)`; `None` unless `record=True`.
    """

    result: SimulationResult
    events: EventCounts
    updated: tuple[Float[Array, "steps neurons"], ...] | None


def _deferred(neuron: LIF, state: LIFState, skipped: Array, dt: float) -> LIFState:
    """Return the state after `skipped` input-free steps: refractory steps first, then exact leak."""
    clamped = jnp.minimum(state.refractory, skipped)
    leaking = skipped - clamped
    decayed = neuron.v_rest + (state.v - neuron.v_rest) * jnp.exp(-leaking * dt / neuron.tau_n)
    # Where nothing leaked the membrane is kept as is, bit for bit.
    v = jnp.where(leaking > 0, decayed, state.v)
    return LIFState(v=v, refractory=jnp.maximum(state.refractory - skipped, 0))


class _Carry(eqx.Module):
    state: NetworkState
    last_update: tuple[Int[Array, " neurons"], ...]
    counts: tuple[Float[Array, " neurons"], ...]
    v_sum: Float[Array, " outputs"]
    events: EventCounts
    step: Int[Array, ""]


def _domain_on(network: SpikingNetwork, state: NetworkState, layer: int, params: GatingParameters, step) -> Array:
    """Return 1 for neurons of `layer` whose domain is switched on at `step`, else 0."""
    domain = network.domains[layer]
    n_astro = network.n_astrocytes[layer]
    if n_astro == 0:
        return jnp.ones(domain.shape, dtype=bool)
    astro = state.astrocytes[layer]
    on = (step < params.probe_steps) | (astro.c >= params.c_gate) | (astro.g > 0)
    on_neuron = jnp.where(domain >= 0, on[jnp.clip(domain, 0, n_astro - 1)], True)
    if layer == len(network.weights) - 1:
        on_neuron = on_neuron | ~params.gate_output
    return on_neuron


def _step(network, weights, synapse_exists, faults, gains, params, carry: _Carry, input_spikes, record: bool):
    """Advance every layer by one step, updating only the neurons the regime selects."""
    state, step = carry.state, carry.step
    spikes = input_spikes
    neurons, astrocytes, last_updates, all_spikes, all_releases, all_updated = [], [], [], [], [], []
    synaptic_ops, neuron_updates, n_spikes, astro_updates = [], [], [], []
    for layer in range(len(weights)):
        neuron = network._layer_neuron(faults, layer)
        domain = network.domains[layer]
        n_astro = network.n_astrocytes[layer]
        has_astro = domain >= 0

        # Which neurons are on, which receive spikes, which must be updated anyway.
        on = _domain_on(network, state, layer, params, step)
        deliveries = network.propagation(synapse_exists[layer], (spikes != 0).astype(spikes.dtype))
        caught_up = _deferred(neuron, state.neurons[layer], step - carry.last_update[layer] - 1, network.dt)
        pending = ~(caught_up.v < neuron.v_th) | ~(neuron.v_rest < neuron.v_th)
        if faults.neuron_saturated is not None:
            pending = pending | (faults.neuron_saturated[layer] > 0)
        if faults.neuron_stuck is not None:
            pending = pending | (faults.neuron_stuck[layer] > 0)
        needs_update = jnp.where(params.skip_without_input, (deliveries > 0) | pending, True)
        update = needs_update & on

        # The update itself, as in SpikingNetwork.step.
        glio = state.astrocytes[layer].g
        g_post = jnp.where(has_astro, glio[jnp.clip(domain, 0, max(n_astro - 1, 0))], 0.0) if n_astro else 0.0
        if faults.nonfinite:
            synaptic = propagate_nonfinite(network.propagation, weights[layer], spikes)
        else:
            synaptic = network.propagation(weights[layer], spikes)
        current = synaptic * network.coupling.scale(g_post) * gains[layer] / network.dt
        stepped, new_spikes = lif_step(
            neuron,
            caught_up,
            current,
            network.dt,
            heaviside,
            force_spike=None if faults.neuron_saturated is None else faults.neuron_saturated[layer],
            hold=None if faults.neuron_stuck is None else faults.neuron_stuck[layer],
            hold_value=None if faults.neuron_stuck_value is None else faults.neuron_stuck_value[layer],
        )
        previous = state.neurons[layer]
        neuron_state = LIFState(
            v=jnp.where(update, stepped.v, previous.v),
            refractory=jnp.where(update, stepped.refractory, previous.refractory),
        )
        last_updates.append(jnp.where(update, step, carry.last_update[layer]))
        new_spikes = new_spikes * faults.neuron_alive[layer] * update

        segment = jnp.where(has_astro, domain, n_astro)
        domain_counts = jax.ops.segment_sum(new_spikes, segment, num_segments=n_astro + 1)[:n_astro]
        alive = faults.astrocyte_alive[layer]
        stuck = None if faults.astrocyte_stuck is None else faults.astrocyte_stuck[layer] * alive
        astro_state, releases = astrocyte_step(
            network.astrocyte,
            network.gliotransmitter,
            state.astrocytes[layer],
            domain_counts * alive,
            network.dt,
            force_release=stuck,
        )

        synaptic_ops.append(jnp.sum(deliveries * on))
        neuron_updates.append(jnp.sum(update))
        n_spikes.append(jnp.sum(new_spikes))
        astro_updates.append(jnp.sum(alive))
        neurons.append(neuron_state)
        astrocytes.append(astro_state)
        all_spikes.append(new_spikes)
        all_releases.append(releases)
        all_updated.append(update.astype(new_spikes.dtype))
        spikes = new_spikes

    # The output membrane as simulate reports it: the deferred value where no update ran.
    output = len(weights) - 1
    v_out = _deferred(network._layer_neuron(faults, output), neurons[output], step - last_updates[output], network.dt).v
    events = carry.events
    events = EventCounts(
        synaptic_ops=events.synaptic_ops + jnp.stack(synaptic_ops),
        neuron_updates=events.neuron_updates + jnp.stack(neuron_updates),
        neuron_steps=events.neuron_steps + jnp.asarray(network.topology[1:], dtype=jnp.float32),
        spikes=events.spikes + jnp.stack(n_spikes),
        astrocyte_updates=events.astrocyte_updates + jnp.stack(astro_updates),
        input_spikes=events.input_spikes + jnp.sum(input_spikes != 0),
        samples=events.samples,
    )
    new_carry = _Carry(
        state=NetworkState(tuple(neurons), tuple(astrocytes)),
        last_update=tuple(last_updates),
        counts=tuple(c + s for c, s in zip(carry.counts, all_spikes)),
        v_sum=carry.v_sum + v_out,
        events=events,
        step=step + 1,
    )
    record_t = None
    if record:
        record_t = (
            tuple(all_spikes),
            tuple(a.c for a in astrocytes),
            tuple(a.g for a in astrocytes),
            tuple(all_releases),
            tuple(all_updated),
        )
    return new_carry, record_t


@eqx.filter_jit
def _simulate(network, input_spikes, faults, gains, params, record):
    weights = effective_weights(network.weights, faults)
    synapse_exists = tuple((w != 0).astype(jnp.float32) for w in weights)
    n_layers = len(weights)
    zeros = jnp.zeros((n_layers,))
    carry0 = _Carry(
        state=network.init_state(),
        # The initial state belongs to step -1, so step 0 skips nothing.
        last_update=tuple(jnp.full((n,), -1, dtype=jnp.int32) for n in network.topology[1:]),
        counts=tuple(jnp.zeros((n,)) for n in network.topology[1:]),
        v_sum=jnp.zeros((network.topology[-1],)),
        events=EventCounts(zeros, zeros, zeros, zeros, zeros, jnp.zeros(()), jnp.ones(())),
        step=jnp.asarray(0, dtype=jnp.int32),
    )

    def body(carry, x_t):
        return _step(network, weights, synapse_exists, faults, gains, params, carry, x_t, record)

    final, records = jax.lax.scan(body, carry0, input_spikes)
    nonfinite = sum(jnp.sum(~jnp.isfinite(n.v)) for n in final.state.neurons)
    trace, updated = None, None
    if record:
        spikes, calcium, glio, releases, updated = records
        trace = Trace(input_spikes, spikes, calcium, glio, releases)
    result = SimulationResult(
        counts=final.counts,
        output_membrane=final.v_sum / input_spikes.shape[0],
        trace=trace,
        nonfinite_membranes=nonfinite,
    )
    return GatedSimulation(result=result, events=final.events, updated=updated)


def simulate_gated(
    network: SpikingNetwork,
    input_spikes: Float[Array, "steps inputs"],
    gating: AbstractGating = NeuronGating(),
    *,
    faults: NetworkFaults | None = None,
    gains: tuple[Array, ...] | None = None,
    record: bool = False,
) -> GatedSimulation:
    """Simulate one sample under an ARR gating regime and count its events.

    With `NoGating()` the spikes, calcium and membranes equal those of
    `lifa_jax.network.simulate` bit for bit; with `NeuronGating()` they agree to
    float rounding (see the module docstring for why); with `DomainGating(...)`
    they differ where a domain was switched off. All regimes share one compiled
    function per network shape.

    **Arguments:**

    - `network`: the `SpikingNetwork`.
    - `input_spikes`: shape `(steps, topology[0])`, floats in {0, 1}.
    - `gating`: `NoGating()`, `NeuronGating()` or `DomainGating(c_gate, probe_steps)`.
    - `faults`: fault masks (`network.no_faults()` by default).
    - `gains`: homeostatic repair gains per layer (1 by default).
    - `record`: also return the per-step `Trace` and which neurons were updated.

    **Returns:** a `GatedSimulation`.

    **Example:**

    ```python
    run = simulate_gated(network, spikes, NeuronGating())
    run.events.saved_updates  # neuron updates skipped, per layer
    ```
    """
    if input_spikes.ndim != 2 or input_spikes.shape[1] != network.topology[0]:
        raise ValueError(
            f"input_spikes must have shape (steps, {network.topology[0]}), got {input_spikes.shape}; "
            "encode one sample at a time and vmap over the batch."
        )
    if not isinstance(gating, AbstractGating):
        raise ValueError(
            f"gating must be NoGating(), NeuronGating() or DomainGating(...), got {type(gating).__name__}."
        )
    faults = network.no_faults() if faults is None else faults
    gains = network.unit_gains() if gains is None else gains
    return _simulate(network, input_spikes, faults, gains, gating.parameters(), record)
