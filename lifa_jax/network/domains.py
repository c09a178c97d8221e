"""Astrocyte domains: which astrocyte enwraps each neuron."""

import numpy as np


def contiguous_domains(n_neurons: int, domain_size: int) -> np.ndarray:
    """Return the astrocyte index of each of `n_neurons`, in contiguous blocks of `domain_size`.

    The last block is smaller when `domain_size` does not divide `n_neurons`.
    """
    if domain_size < 1:
        raise ValueError(f"domain_size must be at least 1, got {domain_size}; pass the neurons per astrocyte.")
    return (np.arange(n_neurons) // domain_size).astype(np.int32)


def count_astrocytes(domain_index: np.ndarray) -> int:
    """Return the number of astrocytes referenced by `domain_index` (-1 means no astrocyte)."""
    domain_index = np.asarray(domain_index)
    return int(domain_index.max()) + 1 if domain_index.size and domain_index.max() >= 0 else 0
