"""Astrocyte sizing and placement: neurons per astrocyte, clusters, and Algorithm 1 of the LIFA paper."""

from .sizing import (
    ReconstructionCheck,
    measure_reconstruction_error,
    neurons_per_astrocyte,
    reconstruction_error,
    reconstruction_window,
)

__all__ = [
    "ReconstructionCheck",
    "measure_reconstruction_error",
    "neurons_per_astrocyte",
    "reconstruction_error",
    "reconstruction_window",
]
