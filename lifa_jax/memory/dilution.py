"""Fewer connections: random dilution and magnitude pruning of a weight matrix."""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .base import check_fraction


def kept_count(keep, n_connections: int) -> Array:
    """Return round(keep * n_connections), the number of connections kept (half to even)."""
    return jnp.round(jnp.asarray(keep) * n_connections).astype(jnp.int32)


def _keep_top(score: Float[Array, " n"], n_keep) -> Array:
    """Return a 0/1 vector marking the `n_keep` highest scores."""
    rank = jnp.argsort(jnp.argsort(-score))
    return (rank < n_keep).astype(jnp.float32)


class AbstractDilution(eqx.Module):
    """A way to choose which connections of an N x N network to keep.

    Connections are directed: entry $(i, j)$ is the synapse from neuron $j$ onto
    neuron $i$, and $W_{ij}$ and $W_{ji}$ are kept or cut independently. The
    diagonal (no self-connections) is never counted.
    """

    keep: eqx.AbstractVar[float]

    @abc.abstractmethod
    def mask(self, magnitude: Float[Array, "neurons neurons"], *, key: PRNGKeyArray) -> Float[Array, "neurons neurons"]:
        """Return a 0/1 mask keeping round(keep * N (N - 1)) off-diagonal connections."""


class RandomDilution(AbstractDilution):
    """Keep connections chosen uniformly at random, exactly round(keep * N (N - 1)) of them.

    **Arguments:**

    - `keep`: fraction of off-diagonal connections kept, in [0, 1].
    """

    keep: float

    def __check_init__(self):
        check_fraction("keep", self.keep, "pass the fraction of connections to keep, e.g. 0.5")

    def mask(self, magnitude, *, key):
        n = magnitude.shape[0]
        off_diagonal = 1.0 - jnp.eye(n)
        # Diagonal entries get score -1, below every uniform draw, so they rank last.
        score = jnp.where(off_diagonal > 0, jax.random.uniform(key, (n, n)), -1.0)
        return _keep_top(score.ravel(), kept_count(self.keep, n * (n - 1))).reshape(n, n)


class MagnitudePruning(AbstractDilution):
    r"""Keep the round(keep * N (N - 1)) connections of largest $|W_{ij}|$.

    Ties (Hebbian weights take few distinct values) are broken at random with the
    key, so the kept count is exact.

    **Arguments:**

    - `keep`: fraction of off-diagonal connections kept, in [0, 1].
    """

    keep: float

    def __check_init__(self):
        check_fraction("keep", self.keep, "pass the fraction of connections to keep, e.g. 0.5")

    def mask(self, magnitude, *, key):
        n = magnitude.shape[0]
        off_diagonal = 1.0 - jnp.eye(n)
        size = jnp.abs(magnitude).ravel()
        jitter = jax.random.uniform(key, (n * n,))
        # Sort by magnitude first, by the random jitter among equal magnitudes.
        order = jnp.lexsort((jitter, jnp.where(off_diagonal.ravel() > 0, size, -1.0)))[::-1]
        rank = jnp.argsort(order)
        mask = (rank < kept_count(self.keep, n * (n - 1))).astype(jnp.float32)
        return mask.reshape(n, n)
