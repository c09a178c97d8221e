"""Astrocyte self-repair mechanisms."""

from .homeostatic import HomeostaticRepair, SetPoints
from .tuning import RepairParameters, repaired_loss, tune_repair

__all__ = ["HomeostaticRepair", "RepairParameters", "SetPoints", "repaired_loss", "tune_repair"]
