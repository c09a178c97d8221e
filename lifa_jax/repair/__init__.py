"""Astrocyte self-repair mechanisms."""

from .homeostatic import HomeostaticRepair, SetPoints

__all__ = ["HomeostaticRepair", "SetPoints"]
