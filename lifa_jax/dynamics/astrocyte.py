"""Leaky integrate-and-fire astrocyte (LIFA)."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .base import AbstractReset, ZeroReset, check_non_negative, check_positive


class LIFA(eqx.Module):
    r"""Leaky integrate-and-fire astrocyte: calcium integrates its domain's spikes.

    $$\tau_c \frac{dC_a}{dt} = -(C_a - C_\mathrm{rest}) + \kappa_c \sum_{i \in D(a)} s_i(t)$$

    When $C_a \ge C_\mathrm{th}$ the astrocyte releases gliotransmitter once,
    `reset` sets the calcium (to `c_reset` by default) and it is refractory for
    `t_ref_c`. Below threshold nothing is released, so the subthreshold calcium
    sets the rate of release events. The name follows De Pitta & Brunel, "Multiple
    forms of working memory emerge from synapse-astrocyte interactions in a
    neuron-glia network model", PNAS 2022, where astrocytes are modelled as LIF
    cells; the form used here follows Yunusoglu et al., "Neuromorphic Circuits with
    Spiking Astrocytes for Increased Energy Efficiency, Fault Tolerance, and Memory
    Capacitance", 2025.

    **Arguments:**

    - `tau_c`: calcium time constant (ms; astrocytes are slow, 1000-5000 ms).
    - `c_rest`, `c_th`, `c_reset`: rest, release threshold and reset calcium
      (dimensionless).
    - `kappa_c`: calcium gained per domain spike, times `tau_c` (ms); one spike
      raises $C$ by `kappa_c / tau_c`.
    - `t_ref_c`: refractory period after a release (ms).
    - `reset`: reset rule applied after a release.
    """

    tau_c: float | Array = 2000.0
    c_rest: float | Array = 0.0
    c_th: float | Array = 1.0
    c_reset: float | Array = 0.0
    kappa_c: float | Array = 50.0
    t_ref_c: float | Array = 5.0
    reset: AbstractReset = ZeroReset()

    def __check_init__(self):
        check_positive("tau_c", self.tau_c, "pass a calcium time constant in ms")
        check_non_negative("kappa_c", self.kappa_c, "pass a non-negative coupling")
        check_non_negative("t_ref_c", self.t_ref_c, "pass a refractory period in ms")

    def vector_field(self, t, y: ArrayLike, args: ArrayLike) -> Array:
        """Return dC/dt (1/ms) for calcium `y` and summed domain spike rate `args` (1/ms)."""
        del t
        return (-(y - self.c_rest) + self.kappa_c * args) / self.tau_c

    def first_release_time(self, domain_rate: ArrayLike) -> Array:
        r"""Closed-form time (ms) from rest to the first release under a constant drive.

        With the domain firing at a summed rate $\nu$ (spikes per ms) the calcium
        relaxes towards $C_\mathrm{rest} + \kappa_c \nu$, so
        $t^* = \tau_c \ln\frac{\kappa_c \nu}{\kappa_c \nu - (C_\mathrm{th} - C_\mathrm{rest})}$.
        Returns `inf` when the drive never reaches threshold.
        """
        drive = self.kappa_c * jnp.asarray(domain_rate, dtype=float)
        gap = self.c_th - self.c_rest
        safe = jnp.where(drive > gap, drive, 2.0 * gap)
        t_star = self.tau_c * jnp.log(safe / (safe - gap))
        return jnp.where(drive > gap, t_star, jnp.inf)

    def release_rate(self, domain_rate: ArrayLike) -> Array:
        """Closed-form release rate (Hz) under a constant drive, reset to rest."""
        return 1000.0 / (self.t_ref_c + self.first_release_time(domain_rate))
