"""Input encoders: static intensities in [0, 1] to spike trains."""

import equinox as eqx
import jax
import jax.numpy as jnp

from ..dynamics.base import check_positive
from .base import AbstractEncoder


class PoissonEncoder(AbstractEncoder):
    r"""Poisson rate coding: feature $x$ spikes on each step with probability $x f_\max \Delta t$.

    **Arguments:**

    - `max_rate`: firing rate (Hz) of a feature equal to 1.
    - `dt`: step (ms). `max_rate * dt / 1000` must not exceed 1.
    """

    max_rate: float = 500.0
    dt: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        check_positive("max_rate", self.max_rate, "pass a rate in Hz")
        check_positive("dt", self.dt, "pass a step in ms")
        if self.max_rate * self.dt / 1000.0 > 1.0:
            raise ValueError(
                f"max_rate * dt / 1000 = {self.max_rate * self.dt / 1000.0:g} exceeds 1 "
                f"(max_rate={self.max_rate} Hz, dt={self.dt} ms); lower max_rate or dt."
            )

    def __call__(self, x, steps, *, key=None):
        if key is None:
            raise ValueError("PoissonEncoder needs a key; pass key=jax.random.key(...).")
        p = jnp.clip(x, 0.0, 1.0) * (self.max_rate * self.dt / 1000.0)
        return jax.random.bernoulli(key, p, shape=(steps, *jnp.shape(x))).astype(jnp.float32)


class RegularEncoder(AbstractEncoder):
    r"""Deterministic rate coding: evenly spaced spikes at rate $x f_\max$.

    Feature $x$ accumulates a phase $x f_\max \Delta t$ per step and spikes each time
    the phase passes an integer, so over $T$ steps it fires
    $\lfloor T x f_\max \Delta t \rfloor$ times. Needs no key.
    """

    max_rate: float = 500.0
    dt: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        check_positive("max_rate", self.max_rate, "pass a rate in Hz")
        check_positive("dt", self.dt, "pass a step in ms")
        if self.max_rate * self.dt / 1000.0 > 1.0:
            raise ValueError(
                f"max_rate * dt / 1000 = {self.max_rate * self.dt / 1000.0:g} exceeds 1 "
                f"(max_rate={self.max_rate} Hz, dt={self.dt} ms); lower max_rate or dt."
            )

    def __call__(self, x, steps, *, key=None):
        del key
        p = jnp.clip(x, 0.0, 1.0) * (self.max_rate * self.dt / 1000.0)
        t = jnp.arange(steps + 1, dtype=jnp.float32)[:, None]
        # A small offset keeps x = 1 at p = 1 from losing its first spike to rounding.
        phase = jnp.floor(t * p[None, :] + 1e-6)
        return (phase[1:] - phase[:-1]).astype(jnp.float32)
