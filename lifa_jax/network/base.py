"""Abstract pieces of a spiking network that can be swapped."""

import abc

import equinox as eqx
from jaxtyping import Array, Float


class AbstractPropagation(eqx.Module):
    """How presynaptic spikes become postsynaptic input through a weight matrix.

    A propagation maps spikes `s` of shape `(pre,)` and weights `W` of shape
    `(pre, post)` to the summed synaptic input $\\sum_j W_{ji} s_j$ of shape
    `(post,)`. The network stepper calls it for every layer and step, so a sparse,
    event-driven implementation can replace the dense product without touching
    the stepper.
    """

    @abc.abstractmethod
    def __call__(self, weights: Float[Array, "pre post"], spikes: Float[Array, " pre"]) -> Float[Array, " post"]:
        """Return the summed input of each postsynaptic neuron."""


class AbstractEncoder(eqx.Module):
    """Turns a static input vector in [0, 1] into a spike train of `steps` steps."""

    @abc.abstractmethod
    def __call__(
        self, x: Float[Array, " features"], steps: int, *, key: Array | None = None
    ) -> Float[Array, "steps features"]:
        """Return the spike train (floats in {0, 1})."""
