"""Data sets: scikit-learn digits, MNIST-format IDX files and CIFAR-100."""

from .base import DataFormatError, Dataset
from .cifar import RestrictedUnpickler, load_cifar100
from .digits import load_digits
from .load import DATASET_NAMES, load_dataset
from .mnist import load_mnist, read_idx

__all__ = [
    "DATASET_NAMES",
    "DataFormatError",
    "Dataset",
    "RestrictedUnpickler",
    "load_cifar100",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "read_idx",
]
