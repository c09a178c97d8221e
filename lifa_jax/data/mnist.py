"""IDX files and the MNIST / Fashion-MNIST data sets stored in them."""

import gzip
import math
import os
import pathlib
import zlib

import numpy as np

from .base import DataFormatError, Dataset, check_max_samples, scale_to_unit

# IDX type codes (third magic byte), defined with the MNIST database, and the
# big-endian element types they name.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IDX_TYPE_NAMES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "short",
    0x0C: "int",
    0x0D: "float",
    0x0E: "double",
}
GZIP_MAGIC = b"\x1f\x8b"

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MNIST_CLASSES = 10
MNIST_MAX_PIXEL = 255.0


def read_idx(path: str | os.PathLike) -> np.ndarray:
    r"""Read an IDX file, plain or gzip-compressed, into a NumPy array.

    The header is four magic bytes `00 00 <type code> <number of dimensions>`,
    then one big-endian unsigned 32-bit size per dimension. The data follow in
    row-major order as big-endian elements of the type code's type: 0x08 unsigned
    byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
    A file that starts with the gzip magic bytes is decompressed
    first, whatever its name.

    **Arguments:**

    - `path`: the IDX file.

    **Returns:**

    A writable array in native byte order with the header's shape.

    **Raises:**

    `FileNotFoundError` when `path` does not exist. `DataFormatError` when the
    magic number is invalid, when the gzip stream is corrupt, or when the file is
    shorter or longer than its header declares.
    """
    path = pathlib.Path(path)
    raw = _read_maybe_gzip(path)

    if len(raw) < 4:
        raise DataFormatError(
            f"{path}: file has {len(raw)} bytes, too short for the 4-byte IDX magic number; download the file again."
        )
    magic = raw[:4]
    type_code, ndim = magic[2], magic[3]
    if magic[:2] != b"\x00\x00" or type_code not in IDX_DTYPES or ndim == 0:
        raise DataFormatError(
            f"{path}: invalid IDX magic number {magic.hex(' ')}; expected "
            "00 00 <type code> <number of dimensions > 0> with type code 08 "
            "(unsigned byte) for MNIST. Pass an IDX file, plain or gzip-compressed."
        )

    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataFormatError(
            f"{path}: IDX header is truncated, the magic number declares {ndim} "
            f"dimensions ({header_size} header bytes) but the file has "
            f"{len(raw)} bytes; download the file again."
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_DTYPES[type_code]
    data_size = math.prod(shape) * dtype.itemsize
    if len(raw) - header_size != data_size:
        problem = "truncated" if len(raw) - header_size < data_size else "too long"
        raise DataFormatError(
            f"{path}: IDX file is {problem}, its header declares shape {shape} of "
            f"{IDX_TYPE_NAMES[type_code]} ({data_size} data bytes) but "
            f"{len(raw) - header_size} data bytes follow; download the file again."
        )

    array = np.frombuffer(raw, dtype=dtype, count=math.prod(shape), offset=header_size)
    return array.reshape(shape).astype(dtype.newbyteorder("="))


def load_mnist(
    path: str | os.PathLike,
    *,
    name: str = "mnist",
    max_train: int | None = None,
    max_test: int | None = None,
) -> Dataset:
    """Load MNIST, or Fashion-MNIST, from the four IDX files in a folder.

    The folder contains `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
    `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each either plain or
    gzip-compressed with a `.gz` suffix. Fashion-MNIST uses the same names and
    format. Pixel values 0..255 are divided by 255; the official train/test split
    is kept.

    **Arguments:**

    - `path`: folder that contains the four files.
    - `name`: name stored in the returned `Dataset`, e.g. `"fashion-mnist"`.
    - `max_train`, `max_test`: keep only the first samples of each part
      (`None` keeps all).

    **Returns:**

    A `Dataset` with `image_shape` from the files, `(28, 28)` for MNIST, so 784
    features, and 10 classes.

    **Raises:**

    `FileNotFoundError` when the folder does not exist. `DataFormatError` when a
    file is missing or truncated, or is not an unsigned byte IDX file of the
    expected rank. It is also raised when image and label counts differ and when
    a label is 10 or more.
    """
    folder = pathlib.Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"MNIST folder {folder} not found; pass the folder that contains "
            f"{MNIST_FILES['train_images']}[.gz] and the other IDX files."
        )
    check_max_samples("max_train", max_train)
    check_max_samples("max_test", max_test)

    paths, arrays = {}, {}
    for key, file_name in MNIST_FILES.items():
        paths[key] = _find_idx_file(folder, file_name)
        arrays[key] = read_idx(paths[key])
        expected_ndim = 3 if key.endswith("images") else 1
        if arrays[key].dtype != np.uint8 or arrays[key].ndim != expected_ndim:
            raise DataFormatError(
                f"{paths[key]}: expected a {expected_ndim}-D unsigned byte IDX "
                f"file, got {arrays[key].dtype} of shape {arrays[key].shape}; pass "
                f"the MNIST file {file_name}."
            )

    for part in ("train", "test"):
        images_path, images = paths[f"{part}_images"], arrays[f"{part}_images"]
        labels_path, labels = paths[f"{part}_labels"], arrays[f"{part}_labels"]
        if images.shape[0] != labels.shape[0]:
            raise DataFormatError(
                f"{images_path} contains {images.shape[0]} images but "
                f"{labels_path} contains {labels.shape[0]} labels; use images and "
                "labels from the same release."
            )
        if labels.size and labels.max() >= MNIST_CLASSES:
            raise DataFormatError(
                f"{labels_path}: label {labels.max()} is out of range, MNIST "
                f"labels lie in 0..{MNIST_CLASSES - 1}; pass an MNIST label file."
            )
    train_images, test_images = arrays["train_images"], arrays["test_images"]
    if train_images.shape[1:] != test_images.shape[1:]:
        raise DataFormatError(
            f"{paths['test_images']}: test images have shape "
            f"{test_images.shape[1:]} but train images have "
            f"{train_images.shape[1:]}; use files from one data set."
        )

    return Dataset(
        name=name,
        x_train=scale_to_unit(train_images[:max_train], MNIST_MAX_PIXEL),
        y_train=arrays["train_labels"][:max_train].astype(np.int32),
        x_test=scale_to_unit(test_images[:max_test], MNIST_MAX_PIXEL),
        y_test=arrays["test_labels"][:max_test].astype(np.int32),
        n_classes=MNIST_CLASSES,
        image_shape=tuple(train_images.shape[1:]),
    )


def _find_idx_file(folder: pathlib.Path, file_name: str) -> pathlib.Path:
    for candidate in (folder / file_name, folder / f"{file_name}.gz"):
        if candidate.is_file():
            return candidate
    raise DataFormatError(
        f"MNIST file {file_name} (or {file_name}.gz) not found in {folder}; put "
        "the four IDX files of MNIST or Fashion-MNIST in that folder."
    )


def _read_maybe_gzip(path: pathlib.Path) -> bytes:
    raw = path.read_bytes()
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DataFormatError(
            f"{path}: gzip stream is truncated or corrupt ({error}); download the file again."
        ) from None
