"""Checks of the arguments that many public functions share: PRNG keys and class labels."""

import jax
import numpy as np


def _describe(value) -> str:
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(value).__name__} of dtype {dtype} and shape {tuple(shape)}"
    return f"{type(value).__name__} {value!r}"


def _key_batch_shape(value) -> tuple[int, ...] | None:
    """Return the batch shape of an array of JAX PRNG keys (typed, or legacy uint32 pairs), or None for other values."""
    dtype = getattr(value, "dtype", None)
    shape = getattr(value, "shape", None)
    if dtype is None or shape is None:
        return None
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        return tuple(shape)
    if dtype == np.uint32 and len(shape) >= 1 and shape[-1] == 2:
        return tuple(shape[:-1])
    return None


def check_key(name: str, key) -> None:
    """Raise `ValueError` unless `key` is one JAX PRNG key (typed, or a legacy uint32 pair)."""
    if _key_batch_shape(key) != ():
        raise ValueError(
            f"{name} must be one JAX PRNG key, got {_describe(key)}; "
            f"pass jax.random.key(seed) (split it with jax.random.split for several calls)."
        )


def check_class_labels(name: str, labels, samples: int, classes: int) -> None:
    """Raise `ValueError` unless `labels` contains one integer class in [0, `classes`) per sample.

    Traced labels (inside `jit`) are checked for shape and dtype only.
    """
    shape = getattr(labels, "shape", None)
    dtype = getattr(labels, "dtype", None)
    if shape is None or dtype is None:
        labels = np.asarray(labels)
        shape, dtype = labels.shape, labels.dtype
    if tuple(shape) != (samples,):
        hint = "pass class indices, not one-hot rows (use labels.argmax(-1))" if len(shape) == 2 else "one per sample"
        raise ValueError(f"{name} must have shape ({samples},), one class per sample, got {tuple(shape)}; {hint}.")
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.bool_)):
        raise ValueError(f"{name} must hold integer class indices, got dtype {dtype}; convert with .astype(np.int32).")
    if isinstance(labels, jax.core.Tracer) or samples == 0:
        return
    values = np.asarray(labels)
    low, high = int(values.min()), int(values.max())
    if low < 0 or high >= classes:
        raise ValueError(
            f"{name} must lie in [0, {classes}), the network's {classes} outputs, got labels in [{low}, {high}]; "
            "pass class indices or build the network with more outputs."
        )


def check_spike_batch(spikes, inputs: int) -> None:
    """Raise `ValueError` unless `spikes` is a batch of encoded inputs, shape `(samples, steps, inputs)`."""
    shape = tuple(getattr(spikes, "shape", np.shape(spikes)))
    if len(shape) != 3 or shape[2] != inputs:
        raise ValueError(
            f"spikes must have shape (samples, steps, {inputs}), got {shape}; "
            "encode the batch with lifa_jax.training.encode_batch."
        )


def check_set_points(set_points, neurons: tuple[int, ...]) -> None:
    """Raise `ValueError` unless `set_points` contains one rate per neuron of each layer in `neurons`."""
    rates = getattr(set_points, "rates", None)
    if not isinstance(rates, tuple | list):
        raise ValueError(
            f"set_points must be the SetPoints that HomeostaticRepair.calibrate returns, got {type(set_points).__name__}."
        )
    got = tuple(int(np.shape(rates)[0]) if np.ndim(rates) == 1 else -1 for rates in set_points.rates)
    if got != tuple(neurons):
        raise ValueError(
            f"set_points contain rates for layers of {list(got)} neurons, but the network has {list(neurons)}; "
            "calibrate them on this network with HomeostaticRepair.calibrate."
        )


def check_keys(name: str, keys) -> None:
    """Raise `ValueError` unless `keys` is a 1-D array of JAX PRNG keys (typed, or legacy uint32 pairs)."""
    shape = _key_batch_shape(keys)
    if shape is None or len(shape) != 1:
        raise ValueError(
            f"{name} must be a 1-D array of JAX PRNG keys, one per mask, got {_describe(keys)}; "
            "pass jax.random.split(key, n_masks)."
        )
