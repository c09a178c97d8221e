"""CIFAR-100 from its python-version pickles, read with a restricted unpickler."""

import io
import os
import pathlib
import pickle
import tarfile
import zlib

import numpy as np

# numpy>=2 keeps the array reconstruction helpers in numpy._core; pickles written
# by numpy 1.x (the original CIFAR files) name them numpy.core.multiarray.
from numpy._core.multiarray import _reconstruct, scalar

from .base import DataFormatError, Dataset, check_max_samples, scale_to_unit

CIFAR_FOLDER = "cifar-100-python"
CIFAR_ARCHIVE = "cifar-100-python.tar.gz"
CIFAR_PARTS = ("train", "test")
CIFAR_CLASSES = 100
CIFAR_IMAGE_SHAPE = (3, 32, 32)  # channel planes R, G, B as stored
CIFAR_MAX_PIXEL = 255.0

# ITU-R BT.601 luma weights for R, G and B.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])


def _encode_latin1(text, encoding):
    # Python 3 pickles bytes at protocol 2 as _codecs.encode(text, "latin1").
    if not (isinstance(text, str) and encoding in ("latin1", "latin-1")):
        raise DataFormatError(
            f"pickle calls _codecs.encode with encoding {encoding!r}; only latin1 "
            "byte strings are allowed in a CIFAR-100 file."
        )
    return text.encode("latin-1")


# Every global a CIFAR-100 pickle may name: numpy array and scalar
# reconstruction (under the numpy 1.x and 2.x module names) and byte strings.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): scalar,
    ("numpy._core.multiarray", "scalar"): scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _encode_latin1,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals in `ALLOWED_GLOBALS`.

    Dicts, lists, tuples, str, bytes, int, float and bool load through pickle
    opcodes and need no global. Any other global, such as `os.system`, raises
    `DataFormatError` before it is looked up, so nothing outside the allow-list
    is imported or called.
    """

    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise DataFormatError(
                f"pickle references {module}.{name}, which is not allowed; only "
                "numpy arrays, dicts, lists, bytes, str and numbers are loaded. "
                "Use the original CIFAR-100 python files."
            ) from None


def load_cifar100(
    path: str | os.PathLike,
    *,
    grayscale: bool = True,
    max_train: int | None = None,
    max_test: int | None = None,
) -> Dataset:
    r"""Load CIFAR-100 (fine labels) from its python-version pickles.

    `path` is one of: the `cifar-100-python` folder (files `train` and `test`),
    its parent folder, the `cifar-100-python.tar.gz` archive, or the archive's
    parent folder. The archive is read in memory, not extracted. Each file is a
    pickled dict with `b"data"` (samples x 3072 uint8, the R, G and B planes of a
    32x32 image) and `b"fine_labels"` (100 classes).

    With `grayscale=True` each pixel becomes its ITU-R BT.601 luma

    $$Y = 0.299\,R + 0.587\,G + 0.114\,B$$

    on the stored (gamma-encoded) values, divided by 255 and not rounded, so an
    image gives 32x32 = 1024 inputs. That matches the 1024-input, 100-output
    topology 1024-768-2048-512-100 of Yunusoglu et al., "Neuromorphic Circuits
    with Spiking Astrocytes for Increased Energy Efficiency, Fault Tolerance, and
    Memory Capacitance". With `grayscale=False` the 3072 values are divided by
    255 and kept in the stored order (`image_shape=(3, 32, 32)`).

    The pickles are read with `RestrictedUnpickler`, which loads numpy arrays and
    plain containers only, so a tampered file cannot run code.

    **Arguments:**

    - `path`: folder, parent folder or `.tar.gz` archive as described above.
    - `grayscale`: convert to luma (1024 features) or keep RGB (3072 features).
    - `max_train`, `max_test`: keep only the first samples of each part
      (`None` keeps all).

    **Returns:**

    A `Dataset` with 50000 train and 10000 test samples (for the full files) and
    100 classes.

    **Raises:**

    `FileNotFoundError` when `path` does not exist. `DataFormatError` when a file
    is missing, truncated or corrupt, when a pickle references a global outside
    the allow-list, or when keys or shapes differ from CIFAR-100.
    """
    if not isinstance(grayscale, bool):
        raise ValueError(f"grayscale must be True or False, got {grayscale!r}; pass a bool.")
    check_max_samples("max_train", max_train)
    check_max_samples("max_test", max_test)

    batches = _read_cifar_batches(pathlib.Path(path))

    parts = {}
    for part, limit in (("train", max_train), ("test", max_test)):
        source, batch = batches[part]
        pixels, labels = _check_batch(source, batch)
        parts[part] = (_to_inputs(pixels[:limit], grayscale), labels[:limit])

    return Dataset(
        name="cifar100",
        x_train=parts["train"][0],
        y_train=parts["train"][1],
        x_test=parts["test"][0],
        y_test=parts["test"][1],
        n_classes=CIFAR_CLASSES,
        image_shape=CIFAR_IMAGE_SHAPE[1:] if grayscale else CIFAR_IMAGE_SHAPE,
    )


def _to_inputs(pixels: np.ndarray, grayscale: bool) -> np.ndarray:
    if not grayscale:
        return scale_to_unit(pixels, CIFAR_MAX_PIXEL)
    planes = pixels.reshape(pixels.shape[0], 3, -1)
    weights = (LUMA_WEIGHTS / CIFAR_MAX_PIXEL).astype(np.float32)
    # Accumulate plane by plane in float32: 50000 images need 200 MB, where one
    # float64 product of all planes would need 1.2 GB.
    luma = np.zeros(planes[:, 0].shape, dtype=np.float32)
    for channel in range(3):
        luma += planes[:, channel] * weights[channel]
    # The float32 weights sum to 1 up to rounding, so a white pixel can land a few
    # ulps above 1; clipping keeps the inputs in [0, 1].
    return np.clip(luma, 0.0, 1.0, out=luma)


def _check_batch(source: str, batch) -> tuple[np.ndarray, np.ndarray]:
    """Return the validated `(pixels, labels)` of one unpickled CIFAR-100 dict."""
    if not isinstance(batch, dict):
        raise DataFormatError(
            f"{source}: expected a pickled dict, got {type(batch).__name__}; pass the CIFAR-100 python-version files."
        )
    # Python 2 pickles load with bytes keys; accept str keys from re-pickled files.
    batch = {_key_text(key): value for key, value in batch.items()}
    missing = [key for key in ("data", "fine_labels") if key not in batch]
    if missing:
        found = ", ".join(sorted(repr(key) for key in batch))
        raise DataFormatError(
            f"{source}: missing key(s) {', '.join(missing)} (found {found}); pass "
            "the CIFAR-100 python-version files, not CIFAR-10."
        )

    pixels = batch["data"]
    if not (
        isinstance(pixels, np.ndarray)
        and pixels.dtype == np.uint8
        and pixels.ndim == 2
        and pixels.shape[1] == 3 * 32 * 32
    ):
        got = (
            f"{pixels.dtype} array of shape {pixels.shape}" if isinstance(pixels, np.ndarray) else type(pixels).__name__
        )
        raise DataFormatError(
            f"{source}: 'data' must be a uint8 array of shape (samples, 3072), got "
            f"{got}; pass the CIFAR-100 python-version files."
        )

    try:
        labels = np.asarray(batch["fine_labels"], dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        labels = None
    if labels is None or labels.ndim != 1 or labels.shape[0] != pixels.shape[0]:
        raise DataFormatError(
            f"{source}: 'fine_labels' must be {pixels.shape[0]} integers, one per "
            "image; pass the CIFAR-100 python-version files."
        )
    if labels.size and not (labels.min() >= 0 and labels.max() < CIFAR_CLASSES):
        raise DataFormatError(
            f"{source}: fine labels lie in [{labels.min()}, {labels.max()}], "
            f"expected 0..{CIFAR_CLASSES - 1}; pass the CIFAR-100 files."
        )
    return pixels, labels.astype(np.int32)


def _key_text(key):
    return key.decode("latin-1") if isinstance(key, bytes) else key


def _read_cifar_batches(path: pathlib.Path) -> dict:
    """Return `{"train": (source, dict), "test": (source, dict)}` from any layout."""
    if not path.exists():
        raise FileNotFoundError(
            f"CIFAR-100 path {path} not found; pass the {CIFAR_FOLDER} folder, its parent, or {CIFAR_ARCHIVE}."
        )
    if path.is_file():
        return _read_archive(path)

    for folder in (path, path / CIFAR_FOLDER):
        if any((folder / part).is_file() for part in CIFAR_PARTS):
            return {part: _read_pickle_file(folder / part) for part in CIFAR_PARTS}
    if (path / CIFAR_ARCHIVE).is_file():
        return _read_archive(path / CIFAR_ARCHIVE)

    hint = ""
    if (path / "data_batch_1").exists() or (path / "cifar-10-batches-py").exists():
        hint = " It looks like CIFAR-10, which this loader does not read."
    raise DataFormatError(
        f"no CIFAR-100 files in {path}: expected files train and test, a "
        f"{CIFAR_FOLDER} folder, or {CIFAR_ARCHIVE}.{hint} Pass the folder that "
        "contains them."
    )


def _read_pickle_file(path: pathlib.Path):
    if not path.is_file():
        raise DataFormatError(
            f"CIFAR-100 file {path.name} not found in {path.parent}; put the "
            "train and test files of the python version there."
        )
    with path.open("rb") as stream:
        return str(path), _unpickle(str(path), stream)


def _read_archive(path: pathlib.Path) -> dict:
    batches = {}
    try:
        with tarfile.open(path, mode="r:*") as archive:
            # Archives packed as ./cifar-100-python/... name members with "./".
            members = {member.name.removeprefix("./"): member for member in archive.getmembers()}
            for part in CIFAR_PARTS:
                member = members.get(f"{CIFAR_FOLDER}/{part}") or members.get(part)
                if member is None or not member.isfile():
                    raise DataFormatError(
                        f"{path}: archive has no file {CIFAR_FOLDER}/{part}; pass the original {CIFAR_ARCHIVE}."
                    )
                source = f"{path}:{member.name}"
                # Read the member fully so that a truncated archive fails here.
                payload = archive.extractfile(member).read()
                batches[part] = (source, _unpickle(source, io.BytesIO(payload)))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise DataFormatError(
            f"{path}: cannot read the archive ({error}); pass the original "
            f"{CIFAR_ARCHIVE}, downloaded again if it is truncated."
        ) from None
    return batches


def _unpickle(source: str, stream):
    try:
        return RestrictedUnpickler(stream, encoding="bytes").load()
    except DataFormatError as error:
        raise DataFormatError(f"{source}: {error}") from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        AttributeError,
        OverflowError,
    ) as error:
        raise DataFormatError(
            f"{source}: pickle is truncated or corrupt ({type(error).__name__}: "
            f"{error}); download the CIFAR-100 python version again."
        ) from None
