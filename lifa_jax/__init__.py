"""lifa_jax: differentiable spiking neural networks with leaky integrate-and-fire astrocytes."""

import importlib.metadata

from .data import DataFormatError, Dataset, load_cifar100, load_dataset, load_digits, load_mnist, read_idx
from .dynamics import (
    LIF,
    LIFA,
    AbstractReset,
    CircuitSolution,
    Gliotransmitter,
    LIFACircuit,
    SubtractReset,
    TripartiteCoupling,
    ZeroReset,
    astrocyte_step,
    lif_step,
    solve_circuit,
)
from .faults import AbstractFault, NeuronDead, SynapseDead, draw_faults, run_sweep, sweep_masks
from .io import load_checkpoint, save_checkpoint
from .metrics import deviation, fault_tolerance, mean_ci95, recovery
from .network import (
    DenseProjection,
    NetworkFaults,
    PoissonEncoder,
    RegularEncoder,
    SpikingNetwork,
    predict,
    simulate,
)
from .repair import HomeostaticRepair, SetPoints
from .training import Arctan, FastSigmoid, Sigmoid, TrainConfig, Triangle, evaluate, train

__version__ = importlib.metadata.version("lifa_jax")

__all__ = [
    "LIF",
    "LIFA",
    "AbstractFault",
    "AbstractReset",
    "CircuitSolution",
    "LIFACircuit",
    "Arctan",
    "DataFormatError",
    "Dataset",
    "DenseProjection",
    "FastSigmoid",
    "Gliotransmitter",
    "HomeostaticRepair",
    "NetworkFaults",
    "NeuronDead",
    "PoissonEncoder",
    "RegularEncoder",
    "SetPoints",
    "Sigmoid",
    "SpikingNetwork",
    "SubtractReset",
    "SynapseDead",
    "TrainConfig",
    "Triangle",
    "TripartiteCoupling",
    "ZeroReset",
    "__version__",
    "astrocyte_step",
    "deviation",
    "draw_faults",
    "evaluate",
    "fault_tolerance",
    "lif_step",
    "load_checkpoint",
    "load_cifar100",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "mean_ci95",
    "predict",
    "read_idx",
    "recovery",
    "run_sweep",
    "save_checkpoint",
    "simulate",
    "solve_circuit",
    "sweep_masks",
    "train",
]
