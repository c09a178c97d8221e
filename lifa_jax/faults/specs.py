"""Fault specifications and the masks drawn from them."""

import abc
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from ..network import NetworkFaults, SpikingNetwork


def _check_rate(rate) -> None:
    if isinstance(rate, int | float) and not 0.0 <= rate <= 1.0:
        raise ValueError(f"fault rate must lie in [0, 1], got {rate!r}; pass a fraction such as 0.1.")


def _choose(key: PRNGKeyArray, n: int, rate, exact: bool) -> Array:
    """Return a boolean vector of `n` units with the failing ones set.

    Exact mode fails `round(rate * n)` units chosen without replacement: the units
    whose random rank is below that count. The count may be a traced value, so one
    compiled function serves every rate.
    """
    if exact:
        ranks = jnp.argsort(jax.random.uniform(key, (n,)))
        order = jnp.empty((n,), jnp.int32).at[ranks].set(jnp.arange(n, dtype=jnp.int32))
        return order < jnp.round(rate * n)
    return jax.random.bernoulli(key, rate, (n,))


class AbstractFault(eqx.Module):
    """A fault kind with its rate; `apply` turns a key into masks on a network."""

    rate: float | Array

    @abc.abstractmethod
    def apply(self, network: SpikingNetwork, faults: NetworkFaults, *, key: PRNGKeyArray) -> NetworkFaults:
        """Return `faults` with this fault's units added."""

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """Short label such as ``"neuron_dead"``."""


class NeuronDead(AbstractFault):
    """Dead neurons: a failed neuron never spikes.

    - `rate`: fraction of the targeted neurons that fail.
    - `layers`: indices of the targeted layers, counted over the layers after the
      input (0 is the first hidden layer); `None` targets all hidden layers.
    - `exact`: fail `round(rate * n)` neurons (True) or each independently (False).
    """

    rate: float | Array
    layers: tuple[int, ...] | None = eqx.field(static=True, default=None)
    exact: bool = eqx.field(static=True, default=True)

    def __check_init__(self):
        _check_rate(self.rate)

    @property
    def name(self):
        return "neuron_dead"

    def target_layers(self, network: SpikingNetwork) -> tuple[int, ...]:
        n_layers = len(network.weights)
        layers = tuple(range(max(n_layers - 1, 1))) if self.layers is None else self.layers
        _check_layers(layers, n_layers)
        return layers

    def apply(self, network, faults, *, key):
        layers = self.target_layers(network)
        sizes = [network.topology[layer + 1] for layer in layers]
        failed = _choose(key, int(sum(sizes)), self.rate, self.exact)
        pieces = jnp.split(failed, np.cumsum(sizes)[:-1])
        alive = list(faults.neuron_alive)
        for layer, piece in zip(layers, pieces):
            alive[layer] = alive[layer] * (1.0 - piece.astype(alive[layer].dtype))
        return eqx.tree_at(lambda f: f.neuron_alive, faults, tuple(alive))


class SynapseDead(AbstractFault):
    """Dead (stuck-at-0) synapses: a failed synapse has $W_{ij} = 0$.

    - `rate`: fraction of the targeted synapses that fail.
    - `layers`: indices of the targeted weight matrices (0 is input to first hidden);
      `None` targets all of them.
    - `exact`: as for `NeuronDead`.
    """

    rate: float | Array
    layers: tuple[int, ...] | None = eqx.field(static=True, default=None)
    exact: bool = eqx.field(static=True, default=True)

    def __check_init__(self):
        _check_rate(self.rate)

    @property
    def name(self):
        return "synapse_dead"

    def target_layers(self, network: SpikingNetwork) -> tuple[int, ...]:
        n_layers = len(network.weights)
        layers = tuple(range(n_layers)) if self.layers is None else self.layers
        _check_layers(layers, n_layers)
        return layers

    def apply(self, network, faults, *, key):
        layers = self.target_layers(network)
        sizes = [network.weights[layer].size for layer in layers]
        failed = _choose(key, int(sum(sizes)), self.rate, self.exact)
        pieces = jnp.split(failed, np.cumsum(sizes)[:-1])
        alive = list(faults.synapse_alive)
        for layer, piece in zip(layers, pieces):
            shape = network.weights[layer].shape
            alive[layer] = alive[layer] * (1.0 - piece.reshape(shape).astype(alive[layer].dtype))
        return eqx.tree_at(lambda f: f.synapse_alive, faults, tuple(alive))


def _check_layers(layers: Sequence[int], n_layers: int) -> None:
    bad = [layer for layer in layers if not 0 <= layer < n_layers]
    if bad:
        raise ValueError(f"fault layers {bad} do not exist; this network has weight layers 0 to {n_layers - 1}.")


FAULT_KINDS = {"neuron_dead": NeuronDead, "synapse_dead": SynapseDead}


def fault_from_name(name: str, rate: float) -> AbstractFault:
    """Return the fault kind called `name` at `rate`."""
    try:
        return FAULT_KINDS[name](rate)
    except KeyError:
        valid = ", ".join(sorted(FAULT_KINDS))
        raise ValueError(f"unknown fault kind {name!r}; use one of: {valid}.") from None


def draw_faults(network: SpikingNetwork, *faults: AbstractFault, key: PRNGKeyArray) -> NetworkFaults:
    """Draw one mask holding every fault in `faults`, from `key`.

    Vmap over keys to draw many masks.
    """
    masks = network.no_faults()
    for fault, k in zip(faults, jax.random.split(key, max(len(faults), 1))):
        masks = fault.apply(network, masks, key=k)
    return masks
