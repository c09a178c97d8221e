"""The `Dataset` container, the data error class and shared checks."""

import math
import numbers

import equinox as eqx
import numpy as np


class DataFormatError(ValueError):
    """A data file is missing, truncated, corrupt or not in the expected format.

    A path that does not exist at all raises `FileNotFoundError` instead; a folder
    that exists but lacks one of the expected files raises `DataFormatError`.
    """


def _read_only_view(value):
    # A read-only view freezes the container without touching the caller's array.
    if not isinstance(value, np.ndarray):
        return value
    view = value.view()
    view.flags.writeable = False
    return view


class Dataset(eqx.Module):
    r"""A labelled classification data set split into train and test parts.

    Inputs are flattened images scaled to $[0, 1]$; labels are class indices.
    The arrays are NumPy arrays marked read-only, so the container is frozen
    throughout. Pass them to `jax.numpy.asarray` to move them to the device.

    **Fields:**

    - `name`: short name such as `"digits"` or `"cifar100"`.
    - `x_train`: float32 inputs in $[0, 1]$, shape `(train_samples, features)`.
    - `y_train`: int32 labels in `[0, n_classes)`, shape `(train_samples,)`.
    - `x_test`: float32 inputs in $[0, 1]$, shape `(test_samples, features)`.
    - `y_test`: int32 labels in `[0, n_classes)`, shape `(test_samples,)`.
    - `n_classes`: number of classes.
    - `image_shape`: shape of one image before flattening, e.g. `(8, 8)` or
      `(3, 32, 32)`; its product equals the number of features.

    **Example:**

    ```python
    data = load_digits()
    data.describe()  # 'digits: 1437 train / 360 test samples, 64 features ...'
    ```
    """

    name: str = eqx.field(static=True)
    x_train: np.ndarray = eqx.field(converter=_read_only_view)
    y_train: np.ndarray = eqx.field(converter=_read_only_view)
    x_test: np.ndarray = eqx.field(converter=_read_only_view)
    y_test: np.ndarray = eqx.field(converter=_read_only_view)
    n_classes: int = eqx.field(static=True)
    image_shape: tuple[int, ...] = eqx.field(static=True)

    def __check_init__(self):
        if not (isinstance(self.n_classes, numbers.Integral) and self.n_classes >= 2):
            raise ValueError(
                f"n_classes must be an integer >= 2, got {self.n_classes!r}; "
                "pass the number of classes in the data set."
            )
        features = math.prod(self.image_shape)
        for part in ("train", "test"):
            x = getattr(self, f"x_{part}")
            y = getattr(self, f"y_{part}")
            _check_inputs(f"x_{part}", x, features)
            _check_labels(f"y_{part}", y, self.n_classes)
            if x.shape[0] != y.shape[0]:
                raise ValueError(
                    f"x_{part} has {x.shape[0]} samples but y_{part} has "
                    f"{y.shape[0]} labels; pass one label per sample."
                )

    @property
    def n_features(self) -> int:
        """Number of inputs per sample (the product of `image_shape`)."""
        return math.prod(self.image_shape)

    @property
    def n_train(self) -> int:
        """Number of training samples."""
        return self.x_train.shape[0]

    @property
    def n_test(self) -> int:
        """Number of test samples."""
        return self.x_test.shape[0]

    def describe(self) -> str:
        """Summarise the sizes in one line."""
        shape = "x".join(str(size) for size in self.image_shape)
        return (
            f"{self.name}: {self.n_train} train / {self.n_test} test samples, "
            f"{self.n_features} features ({shape}), {self.n_classes} classes"
        )

    def take(self, max_train: int | None = None, max_test: int | None = None):
        """Return a copy that keeps the first `max_train` / `max_test` samples.

        `None` keeps every sample of that part, and a limit larger than the part
        also keeps every sample.
        """
        check_max_samples("max_train", max_train)
        check_max_samples("max_test", max_test)
        return Dataset(
            name=self.name,
            x_train=self.x_train[:max_train],
            y_train=self.y_train[:max_train],
            x_test=self.x_test[:max_test],
            y_test=self.y_test[:max_test],
            n_classes=self.n_classes,
            image_shape=self.image_shape,
        )


def check_max_samples(name: str, value) -> None:
    """Raise `ValueError` unless `value` is `None` or a positive integer."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"{name} must be a positive integer or None, got {value!r}; "
            "pass the number of samples to keep, or None to keep all."
        )


def _check_inputs(name: str, x, features: int) -> None:
    if not isinstance(x, np.ndarray) or x.dtype != np.float32 or x.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D float32 NumPy array, got {_describe_array(x)}; "
            "flatten the images and convert them with .astype(np.float32)."
        )
    if x.shape[1] != features:
        raise ValueError(
            f"{name} has {x.shape[1]} features but image_shape has {features} "
            "pixels; pass the image shape that matches the flattened inputs."
        )
    low, high = (x.min(), x.max()) if x.size else (0.0, 0.0)
    if not (low >= 0.0 and high <= 1.0):
        raise ValueError(
            f"{name} must lie in [0, 1], got values in [{low}, {high}]; "
            "divide by the maximum pixel value and replace NaN."
        )


def _check_labels(name: str, y, n_classes: int) -> None:
    if not isinstance(y, np.ndarray) or y.dtype != np.int32 or y.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D int32 NumPy array, got {_describe_array(y)}; "
            "convert the labels with .astype(np.int32)."
        )
    if y.size and not (y.min() >= 0 and y.max() < n_classes):
        raise ValueError(
            f"{name} must lie in [0, {n_classes}), got labels in "
            f"[{y.min()}, {y.max()}]; pass class indices or raise n_classes."
        )


def _describe_array(value) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__


def scale_to_unit(pixels: np.ndarray, max_value: float) -> np.ndarray:
    """Return `pixels / max_value` as float32, flattened to `(samples, features)`."""
    flat = pixels.reshape(pixels.shape[0], -1).astype(np.float32)
    flat /= np.float32(max_value)  # in place, to avoid a second full-size copy
    return flat
