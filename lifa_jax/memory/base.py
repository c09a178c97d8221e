"""Shared pieces of the associative memories: interface, recall result, checks."""

import abc
import enum
import numbers

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int


class RecallStatus(enum.IntEnum):
    """Outcome code of a recall, stored per recall so that a vmapped batch is never aborted.

    - `FIXED_POINT`: a sweep left the state unchanged.
    - `TWO_CYCLE`: a synchronous sweep returned the state of two sweeps back
      (a period-2 oscillation, possible only with synchronous updates).
    - `MAX_SWEEPS`: `max_sweeps` sweeps ran without reaching either.
    - `END_TIME`: a continuous-time recall reached its end time; its state is read
      there (`NeuronAstrocyteMemory`).
    - `SOLVER_FAILED`: a continuous-time recall stopped early (step limit or a
      failed step).
    """

    FIXED_POINT = 0
    TWO_CYCLE = 1
    MAX_SWEEPS = 2
    END_TIME = 3
    SOLVER_FAILED = 4


class RecallResult(eqx.Module):
    """Outcome of one recall.

    **Fields:**

    - `state`: final state, shape `(neurons,)`, entries in {-1, +1}.
    - `status`: a `RecallStatus` value as an int32 scalar.
    - `sweeps`: number of sweeps run (one sweep updates every neuron once).
    """

    state: Float[Array, " neurons"]
    status: Int[Array, ""]
    sweeps: Int[Array, ""]


class AbstractAssociativeMemory(eqx.Module):
    """A memory whose recall dynamics are sign updates of a local field.

    A neuron in state $s_i \\in \\{-1, +1\\}$ is updated to
    $\\operatorname{sign}(h_i(s))$; on a tie ($h_i = 0$) it keeps its state.
    Subclasses define the field $h(s)$.
    """

    @property
    @abc.abstractmethod
    def n_neurons(self) -> int:
        """Number of neurons $N$."""

    @abc.abstractmethod
    def field(self, state: Float[Array, " neurons"]) -> Float[Array, " neurons"]:
        """Return the local field $h(s)$ of every neuron."""

    def local_field(self, state: Float[Array, " neurons"], i: Int[ArrayLike, ""]) -> Float[Array, ""]:
        """Return the local field of neuron `i` (override when one row is cheaper)."""
        return self.field(state)[i]


def sign_update(field: ArrayLike, state: ArrayLike) -> Array:
    """Return $\\operatorname{sign}(h)$, keeping `state` where $h = 0$."""
    return jnp.where(field > 0, 1.0, jnp.where(field < 0, -1.0, state)).astype(jnp.result_type(state))


def is_concrete(x) -> bool:
    """Return True when `x` has known values (not a tracer inside jit or vmap)."""
    return not isinstance(x, jax.core.Tracer)


def check_patterns(patterns, name: str = "patterns") -> None:
    """Raise `ValueError` unless `patterns` is a 2-D array with entries in {-1, +1}."""
    shape = np.shape(patterns)
    if len(shape) != 2 or shape[0] < 1 or shape[1] < 2:
        raise ValueError(
            f"{name} must have shape (n_patterns, n_neurons) with at least one pattern "
            f"and two neurons, got shape {shape}; stack the patterns as rows."
        )
    check_spins(patterns, name)


def check_spins(x, name: str) -> None:
    """Raise `ValueError` when a concrete array has entries outside {-1, +1}."""
    if not is_concrete(x):
        return
    values = np.asarray(x)
    bad = ~np.isin(values, (-1.0, 1.0))
    if bad.any():
        first = float(values[bad].flat[0])
        raise ValueError(
            f"{name} must contain only -1 and +1, found {first!r}; map binary 0/1 data to spins with 2 * x - 1."
        )


def check_state_shape(state, n_neurons: int, name: str) -> None:
    """Raise `ValueError` unless `state` has shape `(n_neurons,)`."""
    if np.shape(state) != (n_neurons,):
        raise ValueError(
            f"{name} must have shape ({n_neurons},) to match the memory's {n_neurons} "
            f"neurons, got shape {np.shape(state)}; pass one state vector (vmap for batches)."
        )


def check_fraction(name: str, value, fix: str = "pass a fraction between 0 and 1") -> None:
    """Raise `ValueError` when a concrete number lies outside [0, 1]."""
    if isinstance(value, numbers.Real) and not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}; {fix}.")


def check_positive_int(name: str, value, fix: str) -> None:
    """Raise `ValueError` unless `value` is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}; {fix}.")
