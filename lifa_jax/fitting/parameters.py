r"""Fittable parameters of the LIFA circuit and the transforms that keep them valid.

An optimiser moves unconstrained numbers $u$; each parameter is read through a
transform $x = T(u)$:

- `Softplus(scale)`: $x = s \log(1 + e^{u})$, for quantities that must be positive
  (time constants, resistance, gains). Initialisation uses the inverse,
  $u = \log(e^{x/s} - 1)$.
- `Linear(scale)`: $x = s\,u$, for quantities of either sign (rest, threshold and
  reset levels).

The scale $s$ is the magnitude of the starting value (1 where it is 0), so every
unconstrained number starts near 1 and one optimiser step size suits time
constants of 20 ms and of 2000 ms alike.
"""

import abc
from collections.abc import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float


class AbstractTransform(eqx.Module):
    """Map from an unconstrained number to a parameter value, with its inverse."""

    @abc.abstractmethod
    def forward(self, raw: ArrayLike) -> Array:
        """Return the parameter value for the unconstrained number `raw`."""

    @abc.abstractmethod
    def inverse(self, value: ArrayLike) -> Array:
        """Return the unconstrained number whose `forward` is `value`."""


class Softplus(AbstractTransform):
    r"""Positive parameter: $x = s \log(1 + e^{u})$, inverse $u = \log(e^{x/s} - 1)$.

    **Arguments:**

    - `scale`: the scale $s > 0$, in the parameter's unit.
    """

    scale: float = 1.0

    def __check_init__(self):
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {self.scale!r}; pass the magnitude of the parameter.")

    def forward(self, raw):
        return self.scale * jax.nn.softplus(raw)

    def inverse(self, value):
        ratio = jnp.asarray(value) / self.scale
        # log(expm1(r)) overflows for large r, where it equals r + log1p(-exp(-r)).
        return jnp.where(
            ratio > 20.0, ratio + jnp.log1p(-jnp.exp(-ratio)), jnp.log(jnp.expm1(jnp.minimum(ratio, 20.0)))
        )


class Linear(AbstractTransform):
    r"""Parameter of either sign: $x = s\,u$.

    **Arguments:**

    - `scale`: the scale $s > 0$, in the parameter's unit.
    """

    scale: float = 1.0

    def __check_init__(self):
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {self.scale!r}; pass the magnitude of the parameter.")

    def forward(self, raw):
        return self.scale * jnp.asarray(raw)

    def inverse(self, value):
        return jnp.asarray(value) / self.scale


class ParameterSpec(eqx.Module):
    """Location and constraint of a fittable parameter.

    **Fields:** `component` (`neuron`, `astrocyte`, `gliotransmitter` or
    `coupling`), `field` (the attribute of that component), `positive` (read
    through `Softplus` when true, else `Linear`), `unit` and `description`.
    """

    component: str
    field: str
    positive: bool
    unit: str
    description: str


# Parameters that gradients can reach. Refractory periods are left out: the steppers
# round them to whole steps and the event solver is not reverse-differentiable.
PARAMETERS: dict[str, ParameterSpec] = {
    "tau_n": ParameterSpec("neuron", "tau_n", True, "ms", "membrane time constant"),
    "v_rest": ParameterSpec("neuron", "v_rest", False, "1", "resting membrane potential"),
    "v_th": ParameterSpec("neuron", "v_th", False, "1", "spike threshold"),
    "v_reset": ParameterSpec("neuron", "v_reset", False, "1", "membrane reset potential"),
    "resistance": ParameterSpec("neuron", "resistance", True, "1", "membrane resistance R"),
    "tau_c": ParameterSpec("astrocyte", "tau_c", True, "ms", "calcium time constant"),
    "c_rest": ParameterSpec("astrocyte", "c_rest", False, "1", "resting calcium"),
    "c_th": ParameterSpec("astrocyte", "c_th", False, "1", "calcium release threshold C_th"),
    "c_reset": ParameterSpec("astrocyte", "c_reset", False, "1", "calcium after a release"),
    "kappa_c": ParameterSpec("astrocyte", "kappa_c", True, "ms", "calcium per domain spike, times tau_c"),
    "tau_g": ParameterSpec("gliotransmitter", "tau_g", True, "ms", "gliotransmitter time constant"),
    "delta_g": ParameterSpec("gliotransmitter", "delta_g", True, "ms", "release amplitude, times tau_g"),
    "p0": ParameterSpec("coupling", "p0", True, "1", "baseline postsynaptic activation"),
    "alpha": ParameterSpec("coupling", "alpha", True, "1", "gliotransmitter gain on activation"),
}


def check_parameter_names(names: Sequence[str]) -> tuple[str, ...]:
    """Return `names` as a tuple, or raise `ValueError` naming an unknown or repeated one."""
    names = tuple(names)
    valid = ", ".join(PARAMETERS)
    if not names:
        raise ValueError(f"no parameters to fit; pass at least one of: {valid}.")
    for name in names:
        if name not in PARAMETERS:
            hint = " (refractory periods are whole steps, so gradients cannot reach them)" if "ref" in name else ""
            raise ValueError(f"unknown parameter {name!r}{hint}; valid names: {valid}.")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"parameters {repeated} are listed more than once; list each once.")
    return names


def read_parameter(model, name: str) -> Array:
    """Return the value of parameter `name` in `model` (any module with the circuit's components)."""
    spec = PARAMETERS[name]
    return jnp.asarray(getattr(getattr(model, spec.component), spec.field))


class FitParameters(eqx.Module):
    """Unconstrained parameters of a fit, an Equinox module whose only array leaves are those numbers.

    Optax updates this module directly. `values()` reads the constrained values
    through the transforms, and `apply(model)` writes them into a model.

    **Fields:**

    - `raw`: unconstrained number of each fitted parameter, by name (0-d arrays).
    - `transforms`: `(name, transform)` pairs (static).
    """

    raw: dict[str, Float[Array, ""]]
    transforms: tuple[tuple[str, AbstractTransform], ...] = eqx.field(static=True)

    @classmethod
    def from_values(
        cls, values: Mapping[str, float], transforms: Mapping[str, AbstractTransform] | None = None
    ) -> "FitParameters":
        """Return parameters starting at `values` (name -> value in the parameter's unit).

        Without explicit `transforms`, positive parameters use `Softplus` and the
        others `Linear`, each scaled by the magnitude of its starting value (1 if 0).
        """
        names = check_parameter_names(list(values))
        transforms = dict(transforms or {})
        pairs = []
        for name in names:
            value = float(values[name])
            if not np.isfinite(value):
                raise ValueError(f"the starting value of {name} is {value}; pass a finite number.")
            if PARAMETERS[name].positive and not value > 0:
                raise ValueError(f"{name} must be positive, got a starting value of {value}; pass a value > 0.")
            scale = abs(value) if value != 0 else 1.0
            default = Softplus(scale) if PARAMETERS[name].positive else Linear(scale)
            pairs.append((name, transforms.get(name, default)))
        dtype = jnp.result_type(float)
        raw = {name: jnp.asarray(transform.inverse(float(values[name])), dtype) for name, transform in pairs}
        return cls(raw=raw, transforms=tuple(pairs))

    @classmethod
    def from_model(cls, model, names: Sequence[str]) -> "FitParameters":
        """Return parameters `names` starting at their values in `model`."""
        names = check_parameter_names(names)
        return cls.from_values({name: float(read_parameter(model, name)) for name in names})

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the fitted parameters, in order."""
        return tuple(name for name, _ in self.transforms)

    def values(self) -> dict[str, Array]:
        """Return the constrained value of each parameter, by name."""
        return {name: transform.forward(self.raw[name]) for name, transform in self.transforms}

    def apply(self, model):
        """Return `model` with the fitted parameters replaced by their current values.

        `model` is any module with `neuron`, `astrocyte`, `gliotransmitter` and
        `coupling` fields, such as a `DrivenCircuit`, a `LIFACircuit` or a
        `SpikingNetwork`.
        """
        values = self.values()
        for name in self.names:
            spec = PARAMETERS[name]

            def where(m, spec=spec):
                return getattr(getattr(m, spec.component), spec.field)

            model = eqx.tree_at(where, model, values[name])
        return model
