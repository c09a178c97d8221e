"""Dense associative memory: the reduced, neuron-only form of the astrocyte memory."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .base import AbstractAssociativeMemory, check_patterns, is_concrete


def check_dense_load(n_patterns: int, n_neurons: int, degree: int) -> None:
    """Raise `ValueError` when more than $N^{n-1}$ patterns are stored."""
    limit = n_neurons ** (degree - 1)
    if n_patterns > limit:
        raise ValueError(
            f"a degree-{degree} dense associative memory accepts at most N^{degree - 1} = "
            f"{limit} patterns for N={n_neurons} neurons, got n_patterns={n_patterns}; "
            "store fewer patterns or use more neurons."
        )


class DenseAssociativeMemory(AbstractAssociativeMemory):
    r"""Dense associative memory with a polynomial energy of degree $n$ (default 4).

    $$E(s) = -\frac{N^{1-n}}{n} \sum_\mu (\xi^\mu \cdot s)^n, \qquad
      h_i(s) = -\frac{\partial E}{\partial s_i}
             = N^{1-n} \sum_\mu \xi_i^\mu (\xi^\mu \cdot s)^{n-1}$$

    With $n = 4$ this is the neuron-only form of the neuron-astrocyte memory
    (`NeuronAstrocyteMemory`): when the synapses sit at
    $g(S_{ij}) = \sum_{kl} T_{ijkl}\, h_k h_l = N^{-3} \sum_\mu \xi_i^\mu \xi_j^\mu
    (\xi^\mu \cdot h)^2$, the input to neuron $i$, $\sum_j g(S_{ij}) h_j$, is the
    field above. Energies of degree $n$ store a number of patterns growing faster
    than linearly in $N$ (Krotov & Hopfield, "Dense associative memory for pattern
    recognition", NeurIPS 2016), against about $0.138 N$ for the classical network.

    NOTE: the field keeps the self-coupling terms that come with the reduction.
    For degree 4 they add about $3 (K / N^2) s_i$ to $h_i$, which keeps every
    neuron in its current state once $K \gtrsim N^2 / 3$, so flipped cue bits
    stay flipped. Measured capacities (quality >= 0.95, 5 % flipped cue bits)
    therefore grow about as $N^2$ (K = 4290 at N = 128, 15644 at N = 256), not as
    the $N^3$ of the Krotov-Hopfield update, which leaves out $s_i$'s own term.

    **Arguments:**

    - `patterns`: stored patterns, shape `(patterns, neurons)`, entries in {-1, +1}.
    - `pattern_mask`: 0/1 per pattern (default all 1); rows marked 0 are not stored.
    - `synapse_mask`: optional 0/1 matrix, shape `(neurons, neurons)`; entry
      $(i, j)$ keeps or cuts the synapse from neuron $j$ onto neuron $i$:
      $h_i = N^{1-n} \sum_\mu \xi_i^\mu (\xi^\mu \cdot s)^{n-2} \sum_j M_{ij} \xi_j^\mu s_j$.
    - `degree`: the energy's degree $n \ge 2$ (static).

    Storage: the $K N$ pattern bits; no weight matrix is kept.
    """

    patterns: Float[Array, "patterns neurons"]
    pattern_mask: Float[Array, " patterns"]
    synapse_mask: Float[Array, "neurons neurons"] | None
    degree: int = eqx.field(static=True)

    def __init__(
        self,
        patterns: Float[ArrayLike, "patterns neurons"],
        pattern_mask: Float[ArrayLike, " patterns"] | None = None,
        synapse_mask: Float[ArrayLike, "neurons neurons"] | None = None,
        degree: int = 4,
    ):
        check_patterns(patterns)
        if isinstance(degree, bool) or not isinstance(degree, int) or degree < 2:
            raise ValueError(f"degree must be an integer >= 2, got {degree!r}; use 4 for the quartic energy.")
        n_patterns, n_neurons = np.shape(patterns)
        if pattern_mask is None:
            pattern_mask = jnp.ones(n_patterns, dtype=jnp.float32)
            check_dense_load(n_patterns, n_neurons, degree)
        else:
            if np.shape(pattern_mask) != (n_patterns,):
                raise ValueError(
                    f"pattern_mask must have shape ({n_patterns},), one entry per pattern, "
                    f"got shape {np.shape(pattern_mask)}; pass a 0/1 vector."
                )
            if is_concrete(pattern_mask):
                check_dense_load(int(np.sum(np.asarray(pattern_mask) != 0)), n_neurons, degree)
        if synapse_mask is not None and np.shape(synapse_mask) != (n_neurons, n_neurons):
            raise ValueError(
                f"synapse_mask must have shape ({n_neurons}, {n_neurons}), got "
                f"{np.shape(synapse_mask)}; pass one 0/1 entry per synapse."
            )
        self.patterns = jnp.asarray(patterns, dtype=jnp.float32)
        self.pattern_mask = jnp.asarray(pattern_mask, dtype=jnp.float32)
        self.synapse_mask = None if synapse_mask is None else jnp.asarray(synapse_mask, dtype=jnp.float32)
        self.degree = degree

    @property
    def n_neurons(self) -> int:
        return self.patterns.shape[1]

    def _scaled_overlaps(self, state):
        # Overlaps are divided by N before taking powers, so the field stays O(1)
        # and float32 does not overflow for large N and degree.
        return self.pattern_mask * (self.patterns @ state / self.n_neurons) ** (self.degree - 2)

    def field(self, state):
        n = self.n_neurons
        weight = self._scaled_overlaps(state)
        if self.synapse_mask is None:
            overlap = self.patterns @ state / n
            return self.patterns.T @ (weight * overlap)
        # (M (xi^mu * s))_i for every memory mu: the masked pairwise sums.
        masked = (self.patterns * state) @ self.synapse_mask.T / n
        return jnp.sum(self.patterns * weight[:, None] * masked, axis=0)

    def local_field(self, state, i):
        n = self.n_neurons
        weight = self._scaled_overlaps(state)
        if self.synapse_mask is None:
            overlap = self.patterns @ state / n
            return self.patterns[:, i] @ (weight * overlap)
        masked = (self.patterns * state) @ self.synapse_mask[i] / n
        return self.patterns[:, i] @ (weight * masked)

    def energy(self, state: Float[ArrayLike, " neurons"]) -> Float[Array, ""]:
        r"""Return $E(s) = -\frac{N}{n} \sum_\mu m_\mu (\xi^\mu \cdot s / N)^n$ (without synapse mask)."""
        overlap = self.patterns @ jnp.asarray(state, dtype=jnp.float32) / self.n_neurons
        return -self.n_neurons / self.degree * jnp.sum(self.pattern_mask * overlap**self.degree)
