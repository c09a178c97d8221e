"""The 8x8 handwritten digits bundled with scikit-learn."""

import numbers

import numpy as np

from .base import Dataset, check_max_samples, scale_to_unit

DIGITS_MAX_PIXEL = 16.0  # pixel values are counts of set pixels in 4x4 blocks


def load_digits(
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
    max_train: int | None = None,
    max_test: int | None = None,
) -> Dataset:
    """Load scikit-learn's 8x8 handwritten digits with a stratified split.

    The 1797 samples (UCI optical recognition of handwritten digits, 10 classes)
    ship with scikit-learn, so nothing is downloaded. Pixel values 0..16 are
    divided by 16. `sklearn.model_selection.train_test_split` with `stratify`
    splits the samples, so each class keeps its share in both parts, and the
    same `seed` gives the same split.

    **Arguments:**

    - `test_fraction`: share of samples in the test part, in (0, 1).
    - `seed`: integer seed of the split.
    - `max_train`, `max_test`: keep only the first samples of each part
      (`None` keeps all).

    **Returns:**

    A `Dataset` with 64 features (`image_shape=(8, 8)`) and 10 classes; the
    default split has 1437 train and 360 test samples.
    """
    if not (isinstance(test_fraction, numbers.Real) and 0.0 < test_fraction < 1.0):
        raise ValueError(
            f"test_fraction must lie in (0, 1), got {test_fraction!r}; pass the test share, for example 0.2."
        )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer, got {seed!r}; pass a fixed integer such as 0.")
    check_max_samples("max_train", max_train)
    check_max_samples("max_test", max_test)

    # scikit-learn takes seconds to import, so it is imported only when the digits are loaded.
    import sklearn.datasets
    import sklearn.model_selection

    bunch = sklearn.datasets.load_digits()
    x_train, x_test, y_train, y_test = sklearn.model_selection.train_test_split(
        bunch.images,
        bunch.target,
        test_size=float(test_fraction),
        stratify=bunch.target,
        random_state=int(seed),
    )

    data = Dataset(
        name="digits",
        x_train=scale_to_unit(x_train, DIGITS_MAX_PIXEL),
        y_train=y_train.astype(np.int32),
        x_test=scale_to_unit(x_test, DIGITS_MAX_PIXEL),
        y_test=y_test.astype(np.int32),
        n_classes=10,
        image_shape=(8, 8),
    )
    return data.take(max_train, max_test)
