"""Fault models, mask drawing and vmapped fault sweeps."""

from .specs import FAULT_KINDS, AbstractFault, NeuronDead, SynapseDead, draw_faults, fault_from_name
from .sweep import MaskResult, accuracy_under, evaluate_mask, run_sweep, sweep_masks

__all__ = [
    "FAULT_KINDS",
    "AbstractFault",
    "MaskResult",
    "NeuronDead",
    "SynapseDead",
    "accuracy_under",
    "draw_faults",
    "evaluate_mask",
    "fault_from_name",
    "run_sweep",
    "sweep_masks",
]
