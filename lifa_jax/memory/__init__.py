"""Associative memory: classical Hopfield, dense and neuron-astrocyte memories."""

from .astrocyte import (
    AstrocyteRecallResult,
    NeuronAstrocyteMemory,
    astrocyte_coupling,
    astrocyte_coupling_tensor,
    neuron_input_on_manifold,
)
from .base import AbstractAssociativeMemory, RecallResult, RecallStatus, sign_update
from .dense import DenseAssociativeMemory
from .dilution import AbstractDilution, MagnitudePruning, RandomDilution
from .faults import AbstractFault, NeuronDeath, SynapseDeath, exact_fault_mask, sample_death_masks
from .hopfield import AbstractLearningRule, Hebbian, HopfieldNetwork, PseudoInverse
from .models import AbstractMemoryModel, DenseModel, HopfieldModel, NeuronAstrocyteModel
from .quality import (
    CapacityResult,
    QualityCurve,
    capacity,
    capacity_from_curve,
    corrupt,
    fit_power_law,
    random_patterns,
    recall_quality,
    recall_quality_curve,
)
from .spiking import (
    FaultRecall,
    Homeostasis,
    SpikingHopfield,
    SpikingRecall,
    contiguous_domains,
    homeostatic_update,
    recall_under_faults,
)
from .update import AbstractUpdate, Asynchronous, Synchronous, recall

__all__ = [
    "AbstractFault",
    "FaultRecall",
    "Homeostasis",
    "NeuronDeath",
    "SpikingHopfield",
    "SpikingRecall",
    "SynapseDeath",
    "contiguous_domains",
    "exact_fault_mask",
    "homeostatic_update",
    "recall_under_faults",
    "sample_death_masks",
    "AbstractAssociativeMemory",
    "AbstractDilution",
    "AbstractLearningRule",
    "AbstractMemoryModel",
    "AbstractUpdate",
    "AstrocyteRecallResult",
    "Asynchronous",
    "CapacityResult",
    "DenseAssociativeMemory",
    "DenseModel",
    "Hebbian",
    "HopfieldModel",
    "HopfieldNetwork",
    "MagnitudePruning",
    "NeuronAstrocyteMemory",
    "NeuronAstrocyteModel",
    "PseudoInverse",
    "QualityCurve",
    "RandomDilution",
    "RecallResult",
    "RecallStatus",
    "Synchronous",
    "astrocyte_coupling",
    "astrocyte_coupling_tensor",
    "capacity",
    "capacity_from_curve",
    "corrupt",
    "fit_power_law",
    "neuron_input_on_manifold",
    "random_patterns",
    "recall",
    "recall_quality",
    "recall_quality_curve",
    "sign_update",
]
