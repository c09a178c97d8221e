"""Tripartite synapse: astrocyte gliotransmitter scales postsynaptic efficacy."""

import equinox as eqx
from jaxtyping import Array, ArrayLike

from .base import check_non_negative, check_positive


class TripartiteCoupling(eqx.Module):
    r"""Postsynaptic coupling of Yunusoglu et al. (2025), weight proportional to activation.

    $$p_i = p_0 + \alpha\, G_{a(i)} \qquad W^\mathrm{eff}_{ij} = W_{ij}\, p_i / p_0$$

    with $a(i)$ the astrocyte whose domain holds neuron $i$. With `alpha = 0` the
    network is a plain SNN, the "without astrocytes" baseline.

    **Arguments:**

    - `p0`: baseline postsynaptic activation (dimensionless, > 0).
    - `alpha`: gliotransmitter gain on activation (per unit of $G$).
    """

    p0: float | Array = 1.0
    alpha: float | Array = 0.05

    def __check_init__(self):
        check_positive("p0", self.p0, "pass a positive baseline activation")
        check_non_negative("alpha", self.alpha, "pass alpha >= 0 (0 switches astrocytes off)")

    def activation(self, g: ArrayLike) -> Array:
        """Return $p = p_0 + \\alpha G$ for the gliotransmitter `g` of each neuron's astrocyte."""
        return self.p0 + self.alpha * g

    def scale(self, g: ArrayLike) -> Array:
        """Return the weight factor $p / p_0$."""
        return self.activation(g) / self.p0

    def effective_weights(self, weights: ArrayLike, g_post: ArrayLike) -> Array:
        """Return $W^\\mathrm{eff}$ for `weights` of shape `(pre, post)` and `g_post` of shape `(post,)`."""
        return weights * self.scale(g_post)[None, :]
