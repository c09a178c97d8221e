"""Spiking networks with astrocyte domains: layers, encoders, propagation, simulation."""

from .base import AbstractEncoder, AbstractPropagation
from .domains import contiguous_domains, count_astrocytes
from .encoders import PoissonEncoder, RegularEncoder
from .propagation import DenseProjection
from .snn import (
    NetworkFaults,
    NetworkState,
    SimulationResult,
    SpikingNetwork,
    Trace,
    effective_weights,
    predict,
    propagate_nonfinite,
    simulate,
)

__all__ = [
    "AbstractEncoder",
    "AbstractPropagation",
    "DenseProjection",
    "NetworkFaults",
    "NetworkState",
    "PoissonEncoder",
    "RegularEncoder",
    "SimulationResult",
    "SpikingNetwork",
    "Trace",
    "contiguous_domains",
    "effective_weights",
    "propagate_nonfinite",
    "count_astrocytes",
    "predict",
    "simulate",
]
