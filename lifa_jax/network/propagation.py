"""Spike propagation between layers."""

import jax.numpy as jnp

from .base import AbstractPropagation


class DenseProjection(AbstractPropagation):
    """Dense product `spikes @ weights`.

    Costs `pre * post` multiply-accumulates per step whatever the activity, and is
    the fastest choice on CPUs and GPUs at the activity levels of rate-coded
    networks (a few percent of neurons firing per step or more).
    """

    def __call__(self, weights, spikes):
        return jnp.dot(spikes, weights, precision="highest")
