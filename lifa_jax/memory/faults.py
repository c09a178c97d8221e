"""Fault masks for the memory studies: exact-count neuron and synapse deaths."""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .base import check_fraction


def exact_count_mask(uniform: Float[Array, " units"], n_failed) -> Float[Array, " units"]:
    """Return a 0/1 mask marking the `n_failed` smallest entries of i.i.d. `uniform` draws."""
    rank = jnp.argsort(jnp.argsort(uniform))
    return (rank < n_failed).astype(jnp.float32)


def exact_fault_mask(n_units: int, rate, *, key: PRNGKeyArray) -> Float[Array, " units"]:
    """Return a 0/1 float mask with exactly round(rate * n_units) ones, drawn without replacement.

    `round` rounds half to even. `rate` may be traced, so sweeping it does not
    compile again; a concrete rate outside [0, 1] raises `ValueError`.
    """
    check_fraction("rate", rate, "pass the fraction of units that fail")
    n_failed = jnp.round(jnp.asarray(rate) * n_units)
    return exact_count_mask(jax.random.uniform(key, (n_units,)), n_failed)


def sample_death_masks(n_neurons: int, neuron_rate, synapse_rate, *, key: PRNGKeyArray) -> tuple[Array, Array]:
    """Draw dead neurons and dead synapses at the given rates (exact counts).

    **Returns:** `(alive, synapse_keep)`: a 0/1 vector over neurons (0 = dead, never
    spikes) and a 0/1 matrix over synapses (0 = stuck at zero), entry $(i, j)$ being
    the synapse from neuron $j$ onto neuron $i$. Exactly round(neuron_rate * N)
    neurons and round(synapse_rate * N (N - 1)) off-diagonal synapses fail. The
    diagonal has no synapse and is never drawn.
    """
    check_fraction("neuron_rate", neuron_rate, "pass the fraction of neurons that die")
    check_fraction("synapse_rate", synapse_rate, "pass the fraction of synapses that die")
    n_synapses = n_neurons * (n_neurons - 1)
    # One draw for both masks keeps a single random-number call in compiled code.
    uniform = jax.random.uniform(key, (n_neurons + n_synapses,))
    dead_neurons = exact_count_mask(uniform[:n_neurons], jnp.round(jnp.asarray(neuron_rate) * n_neurons))
    dead_synapses = exact_count_mask(uniform[n_neurons:], jnp.round(jnp.asarray(synapse_rate) * n_synapses))
    rows, cols = np.nonzero(~np.eye(n_neurons, dtype=bool))
    synapse_keep = jnp.ones((n_neurons, n_neurons)).at[rows, cols].set(1.0 - dead_synapses)
    return 1.0 - dead_neurons, synapse_keep


class AbstractFault(eqx.Module):
    """A permanent fault kind with a rate: the fraction of its units that fail."""

    rate: eqx.AbstractVar[float]

    @property
    @abc.abstractmethod
    def rates(self) -> tuple[float, float]:
        """`(neuron_rate, synapse_rate)` of `sample_death_masks` for this fault."""

    def sample(self, n_neurons: int, *, key: PRNGKeyArray) -> tuple[Array, Array]:
        """Draw one `(alive, synapse_keep)` mask pair for a network of `n_neurons`."""
        neuron_rate, synapse_rate = self.rates
        return sample_death_masks(n_neurons, neuron_rate, synapse_rate, key=key)


class NeuronDeath(AbstractFault):
    """Dead neurons: exactly round(rate * N) neurons never spike.

    **Arguments:**

    - `rate`: fraction of neurons that die, in [0, 1].
    """

    rate: float

    def __check_init__(self):
        check_fraction("rate", self.rate, "pass the fraction of neurons that die, e.g. 0.1")

    @property
    def rates(self):
        return self.rate, 0.0


class SynapseDeath(AbstractFault):
    """Dead synapses (stuck at 0): exactly round(rate * N (N - 1)) recurrent synapses.

    **Arguments:**

    - `rate`: fraction of the N (N - 1) synapses that die, in [0, 1].
    """

    rate: float

    def __check_init__(self):
        check_fraction("rate", self.rate, "pass the fraction of synapses that die, e.g. 0.1")

    @property
    def rates(self):
        return 0.0, self.rate
