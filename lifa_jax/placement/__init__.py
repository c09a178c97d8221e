"""Astrocyte sizing and placement: neurons per astrocyte, clusters, and Algorithm 1 of the LIFA paper."""

from .algorithm import (
    AstrocytePlacement,
    ClusterAccuracy,
    allocate_astrocytes,
    cluster_faults,
    error_sites,
    inject_cluster_errors,
    place_astrocytes,
    with_domains,
)
from .clusters import activation_clusters, contiguous_clusters, kmeans_labels
from .sizing import (
    ReconstructionCheck,
    measure_reconstruction_error,
    neurons_per_astrocyte,
    reconstruction_error,
    reconstruction_window,
)

__all__ = [
    "AstrocytePlacement",
    "ClusterAccuracy",
    "ReconstructionCheck",
    "activation_clusters",
    "allocate_astrocytes",
    "cluster_faults",
    "contiguous_clusters",
    "error_sites",
    "inject_cluster_errors",
    "kmeans_labels",
    "measure_reconstruction_error",
    "neurons_per_astrocyte",
    "place_astrocytes",
    "reconstruction_error",
    "reconstruction_window",
    "with_domains",
]
