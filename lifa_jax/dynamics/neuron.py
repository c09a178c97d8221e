"""Current-based leaky integrate-and-fire neuron."""

import equinox as eqx
from jaxtyping import Array, ArrayLike

from .base import AbstractReset, ZeroReset, check_non_negative, check_positive


class LIF(eqx.Module):
    r"""Current-based leaky integrate-and-fire neuron.

    $$\tau_n \frac{dV}{dt} = -(V - V_\mathrm{rest}) + R\,I(t)$$

    A spike is emitted when $V \ge V_\mathrm{th}$; `reset` then sets the membrane
    and the neuron is refractory for `t_ref` (membrane clamped, interval closed at
    the spike and open at its end).

    **Arguments:**

    - `tau_n`: membrane time constant (ms).
    - `v_rest`, `v_th`, `v_reset`: rest, threshold and reset potentials
      (dimensionless, threshold 1 by convention).
    - `resistance`: membrane resistance $R$ (dimensionless; current and voltage
      share units).
    - `t_ref`: refractory period (ms).
    - `reset`: a reset rule, `ZeroReset()` or `SubtractReset()`.

    **Example:**

    ```python
    neuron = LIF(tau_n=20.0)
    dv = neuron.vector_field(0.0, 0.0, 1.5)  # (1.5 - 0) / 20 per ms
    ```
    """

    tau_n: float | Array = 20.0
    v_rest: float | Array = 0.0
    v_th: float | Array = 1.0
    v_reset: float | Array = 0.0
    resistance: float | Array = 1.0
    t_ref: float | Array = 2.0
    reset: AbstractReset = ZeroReset()

    def __check_init__(self):
        check_positive("tau_n", self.tau_n, "pass a membrane time constant in ms")
        check_positive("resistance", self.resistance, "pass R > 0")
        check_non_negative("t_ref", self.t_ref, "pass a refractory period in ms")
        if isinstance(self.v_th, float | int) and isinstance(self.v_rest, float | int):
            if not self.v_th > self.v_rest:
                raise ValueError(
                    f"v_th must lie above v_rest, got v_th={self.v_th!r} and "
                    f"v_rest={self.v_rest!r}; raise v_th or lower v_rest."
                )

    def vector_field(self, t, y: ArrayLike, args: ArrayLike) -> Array:
        """Return dV/dt (1/ms) for membrane `y` and input current `args`."""
        del t
        return (-(y - self.v_rest) + self.resistance * args) / self.tau_n

    def first_spike_time(self, current: ArrayLike) -> Array:
        r"""Closed-form time (ms) from rest to the first spike under constant current.

        $$t^* = \tau_n \ln\frac{R I}{R I - (V_\mathrm{th} - V_\mathrm{rest})}$$

        Returns `inf` when $R I \le V_\mathrm{th} - V_\mathrm{rest}$ (no spike).
        """
        import jax.numpy as jnp

        drive = self.resistance * jnp.asarray(current, dtype=float)
        gap = self.v_th - self.v_rest
        safe = jnp.where(drive > gap, drive, 2.0 * gap)
        t_star = self.tau_n * jnp.log(safe / (safe - gap))
        return jnp.where(drive > gap, t_star, jnp.inf)

    def firing_rate(self, current: ArrayLike) -> Array:
        """Closed-form firing rate (Hz) under constant current with `ZeroReset` to rest."""
        return 1000.0 / (self.t_ref + self.first_spike_time(current))
