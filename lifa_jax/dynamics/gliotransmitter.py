"""Gliotransmitter released by an astrocyte."""

import equinox as eqx
from jaxtyping import Array, ArrayLike

from .base import check_non_negative, check_positive


class Gliotransmitter(eqx.Module):
    r"""Gliotransmitter concentration of one astrocyte.

    $$\tau_g \frac{dG_a}{dt} = -G_a + \Delta_g \sum_k \delta(t - t_k^a)$$

    where $t_k^a$ are the astrocyte's release times. Each release raises $G$ by
    $\Delta_g / \tau_g$.

    **Arguments:**

    - `tau_g`: decay time constant (ms; 100-10000 ms).
    - `delta_g`: release amplitude times `tau_g` (ms).
    """

    tau_g: float | Array = 1000.0
    delta_g: float | Array = 200.0

    def __check_init__(self):
        check_positive("tau_g", self.tau_g, "pass a decay time constant in ms")
        check_non_negative("delta_g", self.delta_g, "pass a non-negative amplitude")

    def vector_field(self, t, y: ArrayLike, args=None) -> Array:
        """Return dG/dt (1/ms) between releases."""
        del t, args
        return -y / self.tau_g

    @property
    def jump(self) -> float | Array:
        """Increase of $G$ caused by one release."""
        return self.delta_g / self.tau_g
