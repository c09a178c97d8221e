"""Classical Hopfield network: learning rules and the weight-matrix memory."""

import abc

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from .base import AbstractAssociativeMemory, check_patterns, is_concrete


class AbstractLearningRule(eqx.Module):
    """A rule that turns stored patterns into a symmetric weight matrix."""

    @abc.abstractmethod
    def weights(
        self, patterns: Float[Array, "patterns neurons"], pattern_mask: Float[Array, " patterns"]
    ) -> Float[Array, "neurons neurons"]:
        """Return the weights storing the patterns whose `pattern_mask` entry is 1."""

    @abc.abstractmethod
    def max_patterns(self, n_neurons: int) -> int:
        """Return the largest number of patterns the rule accepts for `n_neurons`."""


class Hebbian(AbstractLearningRule):
    r"""Hebbian (outer-product) rule of Hopfield (1982).

    $$W_{ij} = \frac{1}{N} \sum_{\mu=1}^K \xi_i^\mu \xi_j^\mu \quad (i \ne j), \qquad W_{ii} = 0$$

    Random patterns are recalled up to a load $K/N \approx 0.138$ (Amit, Gutfreund &
    Sompolinsky, "Storing infinite numbers of patterns in a spin-glass model of
    neural networks", Phys. Rev. Lett. 55, 1530, 1985). Source of the rule:
    Hopfield, "Neural networks and physical systems with emergent collective
    computational abilities", PNAS 79, 2554, 1982. The rule accepts at most $K = N$
    patterns: far beyond 0.138 N nothing is recalled.
    """

    def weights(self, patterns, pattern_mask):
        n = patterns.shape[1]
        w = (patterns * pattern_mask[:, None]).T @ patterns / n
        return w * (1.0 - jnp.eye(n, dtype=w.dtype))

    def max_patterns(self, n_neurons: int) -> int:
        return n_neurons


class PseudoInverse(AbstractLearningRule):
    r"""Pseudo-inverse (projection) rule.

    $$W = \frac{1}{N} \Xi^\top C^{+} \Xi, \qquad C = \frac{1}{N} \Xi \Xi^\top$$

    with $\Xi$ the $K \times N$ pattern matrix and $C^+$ the Moore-Penrose
    pseudo-inverse, so $W$ projects onto the span of the patterns and every stored
    pattern is a fixed point even when patterns are correlated. The diagonal is set
    to zero (our choice, as for `Hebbian`), which widens the basins of attraction.
    At most $K = N - 1$ patterns are accepted: at $K = N$ the projection is the
    identity and the zero-diagonal weights vanish.
    """

    def weights(self, patterns, pattern_mask):
        n = patterns.shape[1]
        # Masked-out rows become zero; the pseudo-inverse then ignores them, so a
        # fixed-size pattern array can hold any number of stored patterns.
        active = patterns * pattern_mask[:, None]
        overlap = active @ active.T / n
        w = active.T @ jnp.linalg.pinv(overlap, hermitian=True) @ active / n
        return w * (1.0 - jnp.eye(n, dtype=w.dtype))

    def max_patterns(self, n_neurons: int) -> int:
        return n_neurons - 1


def check_load(rule_name: str, n_patterns: int, max_patterns: int, n_neurons: int) -> None:
    """Raise `ValueError` when `n_patterns` exceeds what a rule accepts for `n_neurons`."""
    if n_patterns > max_patterns:
        raise ValueError(
            f"{rule_name} accepts at most {max_patterns} patterns for {n_neurons} "
            f"neurons, got n_patterns={n_patterns} (load {n_patterns / n_neurons:.3g}); "
            f"store fewer patterns or use more neurons."
        )


class HopfieldNetwork(AbstractAssociativeMemory):
    r"""Hopfield network: binary neurons coupled by a weight matrix.

    $$h_i(s) = \sum_j W_{ij} s_j, \qquad s_i \leftarrow \operatorname{sign}(h_i)$$

    Build one from patterns with `HopfieldNetwork.store`, recall with
    `lifa_jax.memory.recall`.

    **Arguments:**

    - `weights`: weight matrix $W$, shape `(neurons, neurons)`; row $i$ contains the
      weights onto neuron $i$.

    **Example:**

    ```python
    patterns = random_patterns(10, 200, key=jax.random.key(0))
    net = HopfieldNetwork.store(patterns, rule=Hebbian())
    result = recall(net, patterns[0])  # a stored pattern is a fixed point
    ```

    Source: Hopfield, "Neural networks and physical systems with emergent
    collective computational abilities", PNAS 1982.
    """

    weights: Float[Array, "neurons neurons"]

    def __check_init__(self):
        shape = np.shape(self.weights)
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(
                f"weights must be a square matrix (neurons, neurons), got shape {shape}; pass one N x N weight matrix."
            )

    @classmethod
    def store(
        cls,
        patterns: Float[ArrayLike, "patterns neurons"],
        rule: AbstractLearningRule = Hebbian(),
        pattern_mask: Float[ArrayLike, " patterns"] | None = None,
    ) -> "HopfieldNetwork":
        """Store `patterns` (rows, entries in {-1, +1}) with a learning `rule`.

        `pattern_mask` (shape `(patterns,)`, 0 or 1) stores only the rows marked 1,
        which lets sweeps over the number of patterns keep one array shape.
        """
        check_patterns(patterns)
        patterns = jnp.asarray(patterns, dtype=jnp.float32)
        n_patterns, n_neurons = patterns.shape
        if pattern_mask is None:
            pattern_mask = jnp.ones(n_patterns, dtype=patterns.dtype)
            check_load(type(rule).__name__, n_patterns, rule.max_patterns(n_neurons), n_neurons)
        else:
            if np.shape(pattern_mask) != (n_patterns,):
                raise ValueError(
                    f"pattern_mask must have shape ({n_patterns},), one entry per pattern, "
                    f"got shape {np.shape(pattern_mask)}; pass a 0/1 vector."
                )
            if is_concrete(pattern_mask):
                stored = int(np.sum(np.asarray(pattern_mask) != 0))
                check_load(type(rule).__name__, stored, rule.max_patterns(n_neurons), n_neurons)
            pattern_mask = jnp.asarray(pattern_mask, dtype=patterns.dtype)
        return cls(rule.weights(patterns, pattern_mask))

    @property
    def n_neurons(self) -> int:
        return self.weights.shape[0]

    def field(self, state):
        return self.weights @ state

    def local_field(self, state, i: Int[ArrayLike, ""]):
        return self.weights[i] @ state


class FactoredHebbianNetwork(AbstractAssociativeMemory):
    r"""Hebbian Hopfield network that computes its field from the patterns, not from $W$.

    $$h(s) = W s = \frac{1}{N}\left(\Xi^\top (m \odot \Xi s) - K s\right),
      \qquad K = \textstyle\sum_\mu m_\mu$$

    equals `HopfieldNetwork.store(patterns, Hebbian(), pattern_mask).field(s)`
    (the $-K s$ term removes the diagonal) at $O(K N)$ per synchronous sweep
    instead of $O(N^2)$, and without the $O(K N^2)$ cost of building $W$. With
    $\pm 1$ patterns and states every sum before the division is an integer, so
    the field is exact in float32 up to $K N < 2^{24}$. A single neuron's field
    also costs $O(K N)$, so asynchronous recall is faster with the explicit $W$.

    **Arguments:**

    - `patterns`: shape `(patterns, neurons)`, entries in {-1, +1}.
    - `pattern_mask`: 0/1 per pattern.
    """

    patterns: Float[Array, "patterns neurons"]
    pattern_mask: Float[Array, " patterns"]

    @property
    def n_neurons(self) -> int:
        return self.patterns.shape[1]

    def field(self, state):
        overlaps = self.pattern_mask * (self.patterns @ state)
        # `overlaps @ patterns`, not `patterns.T @ overlaps`: with jaxlib 0.10.2 on
        # CPU the transposed form made a sequential sweep about three times slower.
        return (overlaps @ self.patterns - jnp.sum(self.pattern_mask) * state) / self.n_neurons
