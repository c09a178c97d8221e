"""Gradient-based fitting of LIFA circuit parameters to recorded traces."""

from .fit import FitResult, default_optimizer, fit_circuit, trace_loss
from .models import CircuitDrive, DrivenCircuit, Observable, TraceTarget, evaluate_signal
from .parameters import (
    PARAMETERS,
    AbstractTransform,
    FitParameters,
    Linear,
    ParameterSpec,
    Softplus,
    check_parameter_names,
    read_parameter,
)
from .simulators import AbstractSimulator, DiscreteStepper, SmoothSolver, calcium_as_lif

__all__ = [
    "PARAMETERS",
    "AbstractSimulator",
    "AbstractTransform",
    "CircuitDrive",
    "DiscreteStepper",
    "DrivenCircuit",
    "FitParameters",
    "FitResult",
    "Linear",
    "Observable",
    "ParameterSpec",
    "SmoothSolver",
    "Softplus",
    "TraceTarget",
    "calcium_as_lif",
    "check_parameter_names",
    "default_optimizer",
    "evaluate_signal",
    "fit_circuit",
    "read_parameter",
    "trace_loss",
]
