"""Shared pieces of the LIFA dynamics: reset rules and parameter checks."""

import abc
import numbers

import equinox as eqx
from jaxtyping import Array, ArrayLike


def check_positive(name: str, value, fix: str) -> None:
    """Raise `ValueError` when a concrete number is not strictly positive.

    Traced values (inside `jit`, `grad` or `vmap`) are skipped, because their value
    is unknown at trace time.
    """
    if isinstance(value, numbers.Real) and not value > 0:
        raise ValueError(f"{name} must be positive, got {value!r}; {fix}.")


def check_non_negative(name: str, value, fix: str) -> None:
    """Raise `ValueError` when a concrete number is negative."""
    if isinstance(value, numbers.Real) and not value >= 0:
        raise ValueError(f"{name} must be non-negative, got {value!r}; {fix}.")


class AbstractReset(eqx.Module):
    """How a membrane (or calcium) variable is reset after it crosses threshold."""

    @abc.abstractmethod
    def __call__(self, v: ArrayLike, threshold: ArrayLike, reset_value: ArrayLike) -> Array:
        """Return the value after a threshold crossing at `v`."""


class ZeroReset(AbstractReset):
    r"""Reset to a fixed value: $V \leftarrow V_\mathrm{reset}$."""

    def __call__(self, v, threshold, reset_value):
        del v, threshold
        return reset_value


class SubtractReset(AbstractReset):
    r"""Reset by subtraction: $V \leftarrow V - V_\mathrm{th}$.

    Keeps the charge above threshold, so the rate code stays closer to the input
    current than with `ZeroReset`.
    """

    def __call__(self, v, threshold, reset_value):
        del reset_value
        return v - threshold


RESET_RULES = {"zero": ZeroReset, "subtract": SubtractReset}


def reset_from_name(name: str) -> AbstractReset:
    """Return the reset rule called `name` (`"zero"` or `"subtract"`)."""
    try:
        return RESET_RULES[name]()
    except KeyError:
        valid = ", ".join(sorted(RESET_RULES))
        raise ValueError(f"unknown reset rule {name!r}; use one of: {valid}.") from None
