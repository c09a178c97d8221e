r"""Discrete-time steppers for networks, exact for the linear parts at fixed `dt`.

Each step integrates the leaky dynamics exactly under an input held constant over
the step (exponential integration):

$$V_{k+1} = V_\mathrm{rest} + (V_k - V_\mathrm{rest}) e^{-\Delta t/\tau}
          + R I_k (1 - e^{-\Delta t/\tau})$$

A spike train enters as one step-sized pulse per spike, of height $1/\Delta t$, so a
presynaptic spike through weight $W$ contributes the current $W / \Delta t$ over
that step. Refractory periods are counted in whole steps,
`round(t_ref / dt)`; during them the variable is clamped at its reset value.

All functions are pure: they take a state and return a new one. They are written
for one neuron population and broadcast over any array shape.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int

from .astrocyte import LIFA
from .gliotransmitter import Gliotransmitter
from .neuron import LIF


def heaviside(x: ArrayLike) -> Array:
    """Return 1.0 where `x >= 0`, else 0.0 (no gradient; see `lifa_jax.training` for surrogates)."""
    x = jnp.asarray(x)
    return (x >= 0).astype(x.dtype)


def refractory_steps(t_ref: ArrayLike, dt: float) -> Int[Array, ""]:
    """Return the refractory period `t_ref` (ms) as a whole number of steps of `dt` (ms)."""
    return jnp.round(jnp.asarray(t_ref) / dt).astype(jnp.int32)


class LIFState(eqx.Module):
    """State of a LIF population: membrane `v` and remaining refractory steps."""

    v: Float[Array, "*neurons"]
    refractory: Int[Array, "*neurons"]


class AstrocyteState(eqx.Module):
    """State of a LIFA population: calcium, remaining refractory steps, gliotransmitter."""

    c: Float[Array, "*astrocytes"]
    refractory: Int[Array, "*astrocytes"]
    g: Float[Array, "*astrocytes"]


def lif_init(neuron: LIF, shape: tuple[int, ...], dtype=jnp.float32) -> LIFState:
    """Return a population of `shape` at rest and not refractory."""
    return LIFState(
        v=jnp.full(shape, neuron.v_rest, dtype=dtype),
        refractory=jnp.zeros(shape, dtype=jnp.int32),
    )


def lif_step(
    neuron: LIF,
    state: LIFState,
    current: ArrayLike,
    dt: float,
    spike_fn: Callable[[Array], Array] = heaviside,
    *,
    force_spike: ArrayLike | None = None,
    hold: ArrayLike | None = None,
    hold_value: ArrayLike | None = None,
) -> tuple[LIFState, Array]:
    """Advance a LIF population by one step of `dt` (ms) under `current`.

    **Arguments:**

    - `neuron`: the `LIF` parameters (scalars or arrays broadcasting to the state).
    - `state`: the population's `LIFState`.
    - `current`: input current held over the step (same units as `v_th / R`).
    - `dt`: step (ms).
    - `spike_fn`: maps `v - v_th` to spikes; a surrogate-gradient function for
      training, `heaviside` otherwise.
    - `force_spike`: where 1, the neuron spikes on every step it is not
      refractory (a saturated neuron).
    - `hold`, `hold_value`: where `hold` is 1, the membrane is held at
      `hold_value` on every step (a stuck neuron); it spikes whenever that value
      reaches threshold and it is not refractory.

    **Returns:** `(new_state, spikes)`, spikes as floats in {0, 1}.
    """
    decay = jnp.exp(-dt / neuron.tau_n)
    free = neuron.v_rest + (state.v - neuron.v_rest) * decay + neuron.resistance * current * (1.0 - decay)
    active = state.refractory == 0
    v = jnp.where(active, free, state.v)
    if hold is not None:
        v = jnp.where(hold > 0, hold_value, v)

    spikes = spike_fn(v - neuron.v_th) * active
    if force_spike is not None:
        spikes = jnp.maximum(spikes, force_spike * active)
    # The reset path is detached, as is usual for surrogate-gradient training:
    # gradients flow through the membrane, not through the discontinuous reset.
    fired = jax.lax.stop_gradient(spikes)
    v = jnp.where(fired > 0, neuron.reset(v, neuron.v_th, neuron.v_reset), v)

    refractory = jnp.where(fired > 0, refractory_steps(neuron.t_ref, dt), jnp.maximum(state.refractory - 1, 0))
    return LIFState(v=v, refractory=refractory), spikes


def astrocyte_init(astrocyte: LIFA, shape: tuple[int, ...], dtype=jnp.float32) -> AstrocyteState:
    """Return astrocytes of `shape` at rest, not refractory, with no gliotransmitter."""
    return AstrocyteState(
        c=jnp.full(shape, astrocyte.c_rest, dtype=dtype),
        refractory=jnp.zeros(shape, dtype=jnp.int32),
        g=jnp.zeros(shape, dtype=dtype),
    )


def astrocyte_step(
    astrocyte: LIFA,
    gliotransmitter: Gliotransmitter,
    state: AstrocyteState,
    domain_spikes: ArrayLike,
    dt: float,
    *,
    force_release: ArrayLike | None = None,
) -> tuple[AstrocyteState, Array]:
    """Advance LIFA astrocytes and their gliotransmitter by one step of `dt` (ms).

    **Arguments:**

    - `domain_spikes`: number of spikes fired in each astrocyte's domain during the
      step; they enter as a pulse of height `count / dt` over the step.
    - `force_release`: where 1, the astrocyte releases on every step it is not
      refractory (a stuck astrocyte).

    **Returns:** `(new_state, releases)`, releases as floats in {0, 1}. A release
    at the end of the step raises $G$ by `delta_g / tau_g`, exactly as the Dirac
    pulse of the gliotransmitter equation does.
    """
    decay_c = jnp.exp(-dt / astrocyte.tau_c)
    drive = astrocyte.kappa_c * jnp.asarray(domain_spikes) / dt
    free = astrocyte.c_rest + (state.c - astrocyte.c_rest) * decay_c + drive * (1.0 - decay_c)
    active = state.refractory == 0
    c = jnp.where(active, free, state.c)

    releases = ((c >= astrocyte.c_th) & active).astype(c.dtype)
    if force_release is not None:
        releases = jnp.maximum(releases, force_release * active)
    c = jnp.where(releases > 0, astrocyte.reset(c, astrocyte.c_th, astrocyte.c_reset), c)
    refractory = jnp.where(releases > 0, refractory_steps(astrocyte.t_ref_c, dt), jnp.maximum(state.refractory - 1, 0))

    g = state.g * jnp.exp(-dt / gliotransmitter.tau_g) + releases * gliotransmitter.jump
    return AstrocyteState(c=c, refractory=refractory, g=g), releases
