"""Astrocyte self-repair mechanisms: homeostatic scaling, gradient tuning and retrograde signalling."""

from .homeostatic import HomeostaticRepair, SetPoints
from .retrograde import (
    RetrogradeAstrocyte,
    RetrogradeCircuit,
    RetrogradeResult,
    RetrogradeSignals,
    simulate_retrograde,
)
from .tuning import RepairParameters, repaired_loss, tune_repair

__all__ = [
    "HomeostaticRepair",
    "RepairParameters",
    "RetrogradeAstrocyte",
    "RetrogradeCircuit",
    "RetrogradeResult",
    "RetrogradeSignals",
    "SetPoints",
    "repaired_loss",
    "simulate_retrograde",
    "tune_repair",
]
