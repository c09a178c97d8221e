"""Load a data set by name, the entry point for the command line."""

import os

from .base import Dataset
from .cifar import load_cifar100
from .digits import load_digits
from .mnist import load_mnist

DATASET_NAMES = ("cifar100", "digits", "fashion-mnist", "mnist")


def load_dataset(name: str, path: str | os.PathLike | None = None, **kwargs) -> Dataset:
    """Load the data set called `name`, reading files from `path` where needed.

    **Arguments:**

    - `name`: `"digits"` (bundled with scikit-learn, no `path`), `"mnist"` or
      `"fashion-mnist"` (folder of IDX files), or `"cifar100"` (python-version
      folder or archive).
    - `path`: folder or archive of the files; required for every name except
      `"digits"`.
    - `kwargs`: passed on to the loader, e.g. `max_train`, `max_test`,
      `test_fraction` and `seed` for digits, `grayscale` for CIFAR-100.

    **Returns:**

    The `Dataset` from `load_digits`, `load_mnist` or `load_cifar100`.
    """
    if name not in DATASET_NAMES:
        raise ValueError(f"unknown dataset {name!r}; valid names are {', '.join(DATASET_NAMES)}.")
    if name == "digits":
        if path is not None:
            raise ValueError(
                f"digits ships with scikit-learn and reads no files, got path {str(path)!r}; drop --data-path / path."
            )
        return load_digits(**kwargs)

    if path is None:
        raise ValueError(f"dataset {name!r} is read from files; pass their location with --data-path / path.")
    if name == "cifar100":
        return load_cifar100(path, **kwargs)
    return load_mnist(path, name=name, **kwargs)
