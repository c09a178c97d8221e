"""lifa_jax: differentiable spiking neural networks with leaky integrate-and-fire astrocytes."""

import importlib.metadata

from .dynamics import (
    LIF,
    LIFA,
    AbstractReset,
    Gliotransmitter,
    SubtractReset,
    TripartiteCoupling,
    ZeroReset,
)

__version__ = importlib.metadata.version("lifa_jax")

__all__ = [
    "LIF",
    "LIFA",
    "AbstractReset",
    "Gliotransmitter",
    "SubtractReset",
    "TripartiteCoupling",
    "ZeroReset",
    "__version__",
]
