"""LIFA circuit dynamics: neuron, astrocyte, gliotransmitter, coupling and steppers."""

from .astrocyte import LIFA
from .base import AbstractReset, SubtractReset, ZeroReset, reset_from_name
from .coupling import TripartiteCoupling
from .gliotransmitter import Gliotransmitter
from .neuron import LIF
from .stepper import (
    AstrocyteState,
    LIFState,
    astrocyte_init,
    astrocyte_step,
    heaviside,
    lif_init,
    lif_step,
    refractory_steps,
)

__all__ = [
    "LIF",
    "LIFA",
    "AbstractReset",
    "AstrocyteState",
    "Gliotransmitter",
    "LIFState",
    "SubtractReset",
    "TripartiteCoupling",
    "ZeroReset",
    "astrocyte_init",
    "astrocyte_step",
    "heaviside",
    "lif_init",
    "lif_step",
    "refractory_steps",
    "reset_from_name",
]
