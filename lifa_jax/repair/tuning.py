"""Gradient tuning of astrocyte repair parameters."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Int, PRNGKeyArray

from ..network import SpikingNetwork, simulate
from .homeostatic import HomeostaticRepair, SetPoints


class RepairParameters(eqx.Module):
    """Tunable repair parameters, stored unconstrained.

    `eta = softplus(raw_eta)`, `g_max = 1 + softplus(raw_g_max)` (so at least 1) and
    `alpha = softplus(raw_alpha)` (the tripartite coupling gain) stay in their valid
    ranges whatever the optimiser does.
    """

    raw_eta: Array
    raw_g_max: Array
    raw_alpha: Array

    @classmethod
    def from_values(cls, eta: float, g_max: float, alpha: float) -> "RepairParameters":
        """Return the parameters holding `eta > 0`, `g_max > 1` and `alpha > 0`."""

        def inverse_softplus(y):
            return jnp.log(jnp.expm1(jnp.asarray(y, jnp.float32)))

        return cls(inverse_softplus(eta), inverse_softplus(g_max - 1.0), inverse_softplus(alpha))

    @property
    def eta(self):
        return jax.nn.softplus(self.raw_eta)

    @property
    def g_max(self):
        return 1.0 + jax.nn.softplus(self.raw_g_max)

    @property
    def alpha(self):
        return jax.nn.softplus(self.raw_alpha)

    def apply(self, repair: HomeostaticRepair, network: SpikingNetwork):
        """Return `(repair, network)` with these parameter values."""
        repair = eqx.tree_at(lambda r: (r.eta, r.g_max), repair, (self.eta, self.g_max))
        network = eqx.tree_at(lambda n: n.coupling.alpha, network, self.alpha)
        return repair, network


def repaired_loss(
    params: RepairParameters,
    repair: HomeostaticRepair,
    network: SpikingNetwork,
    masks,
    set_points: SetPoints,
    stream: Array,
    spikes: Array,
    labels: Int[Array, " samples"],
    spike_fn: Callable,
    readout_scale: float = 0.5,
) -> Array:
    """Return the cross-entropy after repair, averaged over a batch of fault `masks` (leading axis)."""
    repair, network = params.apply(repair, network)

    def one(faults):
        gains = repair.adapt(network, faults, set_points, stream, spike_fn=spike_fn)
        counts = jax.vmap(lambda s: simulate(network, s, faults=faults, gains=gains, spike_fn=spike_fn).counts[-1])(
            spikes
        )
        return optax.softmax_cross_entropy_with_integer_labels(readout_scale * counts, labels).mean()

    return jnp.mean(jax.vmap(one)(masks))


def tune_repair(
    network: SpikingNetwork,
    repair: HomeostaticRepair,
    fault,
    set_points: SetPoints,
    stream: Array,
    spikes: Array,
    labels: Array,
    *,
    key: PRNGKeyArray,
    spike_fn: Callable,
    steps: int = 20,
    masks_per_step: int = 4,
    learning_rate: float = 0.05,
) -> tuple[RepairParameters, list[float]]:
    """Tune `eta`, `g_max` and the coupling `alpha` by gradient to lower the loss after repair.

    Every step draws `masks_per_step` fresh masks of `fault`, repairs each with a
    surrogate `spike_fn` (so the adaptation passes are differentiable), and takes
    an Adam step on the mean cross-entropy of the repaired networks.

    **Returns:** the tuned `RepairParameters` and the loss of every step.
    """
    from ..faults.specs import draw_faults

    params = RepairParameters.from_values(float(repair.eta), float(repair.g_max), float(network.coupling.alpha))
    optimizer = optax.adam(learning_rate)
    state = optimizer.init(params)

    @eqx.filter_jit
    def step(params, state, k):
        masks = jax.vmap(lambda kk: draw_faults(network, fault, key=kk))(jax.random.split(k, masks_per_step))
        loss, grads = eqx.filter_value_and_grad(repaired_loss)(
            params, repair, network, masks, set_points, stream, spikes, labels, spike_fn
        )
        updates, state = optimizer.update(grads, state, params)
        return eqx.apply_updates(params, updates), state, loss

    losses = []
    for k in jax.random.split(key, steps):
        params, state, loss = step(params, state, k)
        losses.append(float(loss))
    return params, losses
