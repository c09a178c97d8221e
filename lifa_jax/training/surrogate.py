r"""Surrogate-gradient spike functions.

Each surrogate is a Heaviside step in the forward pass,
$s = H(V - V_\mathrm{th})$, whose derivative is replaced in the backward pass by a
smooth pseudo-derivative $\sigma'(x)$ (Neftci, Mostafa & Zenke, "Surrogate Gradient
Learning in Spiking Neural Networks", IEEE Signal Processing Magazine 2019).
"""

import abc
import functools

import equinox as eqx
import jax
import jax.numpy as jnp

from ..dynamics.base import check_positive


class AbstractSurrogate(eqx.Module):
    """A Heaviside step with a surrogate derivative. Parameters must be Python floats."""

    @abc.abstractmethod
    def derivative(self, x):
        """Return the pseudo-derivative at `x = V - V_th`."""

    def __call__(self, x):
        return _spike(self, x)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _spike(surrogate, x):
    return (x >= 0).astype(jnp.result_type(x, jnp.float32))


@_spike.defjvp
def _spike_jvp(surrogate, primals, tangents):
    (x,), (dx,) = primals, tangents
    return _spike(surrogate, x), surrogate.derivative(x) * dx


class FastSigmoid(AbstractSurrogate):
    r"""SuperSpike surrogate (Zenke & Ganguli, Neural Computation 2018): $1 / (1 + \beta |x|)^2$."""

    slope: float = 10.0

    def __check_init__(self):
        check_positive("slope", self.slope, "pass a positive steepness")

    def derivative(self, x):
        return 1.0 / (1.0 + self.slope * jnp.abs(x)) ** 2


class Arctan(AbstractSurrogate):
    r"""Arctangent surrogate (Fang et al., ICCV 2021): $\frac{\alpha/2}{1 + (\pi \alpha x / 2)^2}$."""

    alpha: float = 2.0

    def __check_init__(self):
        check_positive("alpha", self.alpha, "pass a positive steepness")

    def derivative(self, x):
        return (self.alpha / 2.0) / (1.0 + (jnp.pi * self.alpha * x / 2.0) ** 2)


class Triangle(AbstractSurrogate):
    r"""Piecewise-linear surrogate (Esser et al., PNAS 2016): $\max(0, 1 - |x| / w) / w$."""

    width: float = 0.5

    def __check_init__(self):
        check_positive("width", self.width, "pass a positive half-width")

    def derivative(self, x):
        return jnp.maximum(0.0, 1.0 - jnp.abs(x) / self.width) / self.width


class Sigmoid(AbstractSurrogate):
    r"""Derivative of a logistic sigmoid of steepness $k$: $k\,\sigma(kx)(1 - \sigma(kx))$."""

    slope: float = 5.0

    def __check_init__(self):
        check_positive("slope", self.slope, "pass a positive steepness")

    def derivative(self, x):
        s = jax.nn.sigmoid(self.slope * x)
        return self.slope * s * (1.0 - s)


SURROGATES = {"fast_sigmoid": FastSigmoid, "arctan": Arctan, "triangle": Triangle, "sigmoid": Sigmoid}


def surrogate_from_name(name: str) -> AbstractSurrogate:
    """Return the surrogate called `name` with default parameters."""
    try:
        return SURROGATES[name]()
    except KeyError:
        valid = ", ".join(sorted(SURROGATES))
        raise ValueError(f"unknown surrogate {name!r}; use one of: {valid}.") from None
