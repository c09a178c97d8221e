"""Homeostatic astrocyte repair with per-neuron rate set-points."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..dynamics.base import check_positive
from ..network import NetworkFaults, SpikingNetwork, simulate


class SetPoints(eqx.Module):
    """Fault-free firing rate of every neuron (spikes per step), one array per layer."""

    rates: tuple[Float[Array, " neurons"], ...]


class HomeostaticRepair(eqx.Module):
    r"""Astrocyte-mediated synaptic scaling towards each neuron's own set-point.

    Each astrocyte holds, for every neuron $i$ of its domain, the fault-free rate
    $r^*_i$ measured on a calibration stream. After a fault, the network runs on an
    unlabelled adaptation stream and each pass updates the gain on neuron $i$'s
    incoming synapses:

    $$g_i \leftarrow \mathrm{clip}\Big(g_i \big(1 + \eta \frac{r^*_i - r_i}{r^*_i}\big),
      g_\min, g_\max\Big)$$

    the discrete form of $\tau_h \dot h_i = (r^*_i - r_i)/r^*_i$, $g_i = e^{h_i}$. Neurons
    of every layer with astrocyte domains take part, so neurons downstream of a
    fault make up for the input they lost. The gains are then frozen for
    evaluation. Dead neurons are not revived, neurons silent before the fault
    ($r^*_i = 0$) and neurons without an astrocyte keep gain 1, and a dead
    astrocyte leaves its whole domain at gain 1. The biology is glia-mediated
    synaptic scaling (Stellwagen & Malenka, "Synaptic scaling mediated by glial
    TNF-alpha", Nature 2006).

    A controller on a cluster's mean rate does not work: random faults barely move
    a cluster's mean, because the damage lies in which neurons lost their drive.

    **Arguments:**

    - `eta`: step size of one pass (dimensionless).
    - `passes`: adaptation passes over the adaptation stream.
    - `g_min`, `g_max`: gain limits.
    - `per_neuron`: compare each neuron with its own set-point (True, the default)
      or each domain's mean rate with its mean set-point, one gain per domain
      (False; kept for comparison, it barely repairs random faults).
    """

    eta: float = 0.5
    passes: int = eqx.field(static=True, default=20)
    g_min: float = 0.25
    g_max: float = 4.0
    per_neuron: bool = eqx.field(static=True, default=True)

    def __check_init__(self):
        check_positive("eta", self.eta, "pass a positive step size")
        check_positive("passes", self.passes, "pass at least one adaptation pass")
        check_positive("g_min", self.g_min, "pass a positive lower gain limit")
        if isinstance(self.g_min, float | int) and isinstance(self.g_max, float | int) and self.g_max < self.g_min:
            raise ValueError(f"g_max={self.g_max} is below g_min={self.g_min}; pass g_min <= 1 <= g_max.")

    def calibrate(self, network: SpikingNetwork, spikes: Float[Array, "samples steps inputs"]) -> SetPoints:
        """Measure the fault-free rate of every neuron on a calibration stream."""
        return SetPoints(_mean_rates(network, spikes, network.no_faults(), network.unit_gains()))

    def adapt(
        self,
        network: SpikingNetwork,
        faults: NetworkFaults,
        set_points: SetPoints,
        spikes: Float[Array, "samples steps inputs"],
        *,
        transient=None,
        key=None,
        spike_fn=None,
    ) -> tuple[Float[Array, " neurons"], ...]:
        """Return the repair gains after `passes` passes over the adaptation stream `spikes`.

        A `transient` fault is redrawn on every step from `key`, as in `simulate`.
        Pass a surrogate `spike_fn` to differentiate the gains with respect to the
        repair parameters (see `lifa_jax.repair.tune_repair`).
        """
        eligible = []
        for layer, target in enumerate(set_points.rates):
            domain = network.domains[layer]
            alive_astro = faults.astrocyte_alive[layer]
            n_astro = network.n_astrocytes[layer]
            astro_ok = (
                jnp.where(domain >= 0, alive_astro[jnp.clip(domain, 0, max(n_astro - 1, 0))], 0.0) if n_astro else 0.0
            )
            eligible.append((target > 0) * astro_ok * faults.neuron_alive[layer])

        def one_pass(gains, pass_index):
            pass_key = None if key is None else jax.random.fold_in(key, pass_index)
            rates = _mean_rates(network, spikes, faults, gains, transient, pass_key, spike_fn)
            targets = set_points.rates
            if not self.per_neuron:
                rates = _domain_means(network, rates)
                targets = _domain_means(network, targets)
            new = []
            for gain, target, rate, ok in zip(gains, targets, rates, eligible):
                error = jnp.where(target > 0, (target - rate) / jnp.where(target > 0, target, 1.0), 0.0)
                updated = jnp.clip(gain * (1.0 + self.eta * error), self.g_min, self.g_max)
                new.append(jnp.where(ok > 0, updated, 1.0))
            return tuple(new), None

        gains, _ = jax.lax.scan(one_pass, network.unit_gains(), jnp.arange(self.passes))
        return gains


def _mean_rates(network, spikes, faults, gains, transient=None, key=None, spike_fn=None):
    kwargs = {} if spike_fn is None else {"spike_fn": spike_fn}

    def one(s, i):
        k = None if transient is None else jax.random.fold_in(key, i)
        return simulate(network, s, faults=faults, gains=gains, transient=transient, key=k, **kwargs)

    results = jax.vmap(one)(spikes, jnp.arange(spikes.shape[0]))
    steps = spikes.shape[1]
    return tuple(c.mean(axis=0) / steps for c in results.counts)


def _domain_means(network, values):
    """Replace each neuron's value by the mean over its astrocyte's domain."""
    out = []
    for layer, value in enumerate(values):
        domain = network.domains[layer]
        n_astro = network.n_astrocytes[layer]
        segment = jnp.where(domain >= 0, domain, n_astro)
        sums = jax.ops.segment_sum(value, segment, num_segments=n_astro + 1)
        counts = jax.ops.segment_sum(jnp.ones_like(value), segment, num_segments=n_astro + 1)
        means = sums / jnp.maximum(counts, 1.0)
        out.append(jnp.where(domain >= 0, means[segment], value))
    return tuple(out)
