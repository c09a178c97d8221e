"""LIFA circuit dynamics: neuron, astrocyte, gliotransmitter, coupling and steppers."""

from .astrocyte import LIFA
from .base import AbstractReset, SubtractReset, ZeroReset, reset_from_name
from .circuit import (
    CircuitSolution,
    LIFACircuit,
    default_root_finder,
    default_stepsize_controller,
    solve_circuit,
)
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
    "CircuitSolution",
    "Gliotransmitter",
    "LIFACircuit",
    "LIFState",
    "SubtractReset",
    "TripartiteCoupling",
    "ZeroReset",
    "astrocyte_init",
    "astrocyte_step",
    "default_root_finder",
    "default_stepsize_controller",
    "heaviside",
    "lif_init",
    "lif_step",
    "refractory_steps",
    "reset_from_name",
    "solve_circuit",
]
