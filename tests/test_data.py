"""Tests for the data loaders: digits, IDX/MNIST and CIFAR-100 pickles."""

import gzip
import os
import pickle
import shlex
import struct
import tarfile

import numpy as np
import pytest
import sklearn.datasets

from lifa_jax.data import (
    DataFormatError,
    Dataset,
    load_cifar100,
    load_dataset,
    load_digits,
    load_mnist,
    read_idx,
)

# ---------------------------------------------------------------------------
# Writers for real-format files
# ---------------------------------------------------------------------------

IDX_CODES = {
    np.uint8: 0x08,
    np.int8: 0x09,
    np.int16: 0x0B,
    np.int32: 0x0C,
    np.float32: 0x0D,
    np.float64: 0x0E,
}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode `array` as an IDX file: magic, big-endian sizes, big-endian data."""
    code = IDX_CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array: np.ndarray, *, compress: bool = False):
    payload = idx_bytes(array)
    if compress:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path


def make_mnist_arrays(seed: int = 0):
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (12, 4, 3), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 12, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (5, 4, 3), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 5, dtype=np.uint8),
    }


def write_mnist_folder(folder, arrays, *, compress: bool = False):
    folder.mkdir(exist_ok=True)
    for name, array in arrays.items():
        write_idx(folder / name, array, compress=compress)
    return folder


def make_cifar_batch(samples: int, seed: int) -> dict:
    """A dict with the keys and types of a CIFAR-100 python-version file."""
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"training batch 1 of 1",
        b"filenames": [f"image_{i}.png".encode() for i in range(samples)],
        b"fine_labels": [int(v) for v in rng.integers(0, 100, samples)],
        b"coarse_labels": [int(v) for v in rng.integers(0, 20, samples)],
        b"data": rng.integers(0, 256, (samples, 3072), dtype=np.uint8),
    }


def write_cifar_folder(folder, batches: dict):
    folder.mkdir(parents=True, exist_ok=True)
    for part, batch in batches.items():
        # Protocol 2, as in the original Python 2 files.
        (folder / part).write_bytes(pickle.dumps(batch, protocol=2))
    return folder


def cifar_batches():
    return {"train": make_cifar_batch(7, seed=1), "test": make_cifar_batch(4, seed=2)}


def py2_style_pickle(data: np.ndarray, labels: list[int]) -> bytes:
    """Protocol-2 pickle as written by Python 2 cPickle with numpy 1.x.

    Byte strings are SHORT_BINSTRING/BINSTRING opcodes (Python 2 `str`) and the
    array helper is named `numpy.core.multiarray._reconstruct`, as in the
    published CIFAR-100 files.
    """

    def string(raw: bytes) -> bytes:
        if len(raw) < 256:
            return b"U" + bytes([len(raw)]) + raw
        return b"T" + struct.pack("<I", len(raw)) + raw

    def integer(value: int) -> bytes:
        return b"J" + struct.pack("<i", value)

    dtype_u1 = (
        b"cnumpy\ndtype\n"
        + string(b"u1")
        + b"\x89\x88\x87R"  # False, True, TUPLE3, REDUCE
        + b"("
        + integer(3)
        + string(b"|")
        + b"NNN"
        + integer(-1)
        + integer(-1)
        + integer(0)
        + b"tb"  # TUPLE, BUILD
    )
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\n"
        + b"cnumpy\nndarray\n"
        + integer(0)
        + b"\x85"  # TUPLE1
        + string(b"b")
        + b"\x87R"  # TUPLE3, REDUCE
        + b"("
        + integer(1)
        + integer(data.shape[0])
        + integer(data.shape[1])
        + b"\x86"  # TUPLE2: the shape
        + dtype_u1
        + b"\x89"  # not Fortran order
        + string(data.tobytes())
        + b"tb"
    )
    label_list = b"](" + b"".join(integer(v) for v in labels) + b"e"
    return b"\x80\x02}(" + string(b"data") + array + string(b"fine_labels") + label_list + b"u."


def luma(rgb) -> float:
    red, green, blue = rgb
    return (0.299 * red + 0.587 * green + 0.114 * blue) / 255.0


# ---------------------------------------------------------------------------
# Digits
# ---------------------------------------------------------------------------


def test_digits_sizes():
    data = load_digits()

    assert data.name == "digits"
    assert data.x_train.shape == (1437, 64)
    assert data.x_test.shape == (360, 64)
    assert data.y_train.shape == (1437,)
    assert data.y_test.shape == (360,)
    assert data.n_features == 64
    assert data.n_classes == 10
    assert data.image_shape == (8, 8)
    assert data.describe() == ("digits: 1437 train / 360 test samples, 64 features (8x8), 10 classes")


def test_digits_values_and_dtypes():
    data = load_digits()

    for x in (data.x_train, data.x_test):
        assert x.dtype == np.float32
        assert x.min() == 0.0
        assert x.max() == 1.0
        # Raw pixels are integers 0..16, so x * 16 is integral.
        np.testing.assert_array_equal(x * 16, np.round(x * 16))
    for y in (data.y_train, data.y_test):
        assert y.dtype == np.int32
        assert set(np.unique(y)) == set(range(10))


def test_digits_split_covers_all_samples():
    data = load_digits()
    bunch = sklearn.datasets.load_digits()

    counts = np.bincount(np.concatenate([data.y_train, data.y_test]))
    np.testing.assert_array_equal(counts, np.bincount(bunch.target))
    pixel_sum = data.x_train.sum(dtype=np.float64) + data.x_test.sum(dtype=np.float64)
    assert pixel_sum * 16 == pytest.approx(bunch.data.sum(), rel=1e-12)


def test_digits_split_deterministic():
    first = load_digits()
    second = load_digits()
    other_seed = load_digits(seed=1)

    np.testing.assert_array_equal(first.x_train, second.x_train)
    np.testing.assert_array_equal(first.y_test, second.y_test)
    assert not np.array_equal(first.y_train, other_seed.y_train)


def test_digits_split_stratified():
    data = load_digits(test_fraction=0.25)
    totals = np.bincount(sklearn.datasets.load_digits().target)

    test_counts = np.bincount(data.y_test, minlength=10)
    assert np.all(np.abs(test_counts - 0.25 * totals) <= 1.0)


def test_digits_max_samples():
    full = load_digits()
    small = load_digits(max_train=50, max_test=20)

    assert small.x_train.shape == (50, 64)
    assert small.y_test.shape == (20,)
    np.testing.assert_array_equal(small.x_train, full.x_train[:50])
    np.testing.assert_array_equal(small.y_test, full.y_test[:20])


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, "0.2"])
def test_digits_invalid_test_fraction(fraction):
    with pytest.raises(ValueError, match=r"test_fraction must lie in \(0, 1\), got"):
        load_digits(test_fraction=fraction)


def test_digits_invalid_seed():
    with pytest.raises(ValueError, match=r"seed must be an integer, got 1\.5"):
        load_digits(seed=1.5)


@pytest.mark.parametrize("value", [0, -3, 2.0, True])
def test_max_train_invalid(value):
    with pytest.raises(ValueError, match="max_train must be a positive integer or None"):
        load_digits(max_train=value)


# ---------------------------------------------------------------------------
# Dataset container
# ---------------------------------------------------------------------------


def small_dataset(**changes):
    fields = dict(
        name="toy",
        x_train=np.zeros((3, 4), np.float32),
        y_train=np.array([0, 1, 2], np.int32),
        x_test=np.ones((2, 4), np.float32),
        y_test=np.array([1, 0], np.int32),
        n_classes=3,
        image_shape=(2, 2),
    )
    fields.update(changes)
    return Dataset(**fields)


def test_dataset_arrays_read_only():
    x_train = np.zeros((3, 4), np.float32)
    data = small_dataset(x_train=x_train)

    with pytest.raises(ValueError, match="read-only"):
        data.x_train[0, 0] = 1.0
    # The caller's array stays writable.
    x_train[0, 0] = 0.5
    assert data.x_train[0, 0] == 0.5


def test_dataset_take_keeps_first_samples():
    data = small_dataset().take(max_train=2, max_test=5)

    assert data.n_train == 2
    assert data.n_test == 2
    np.testing.assert_array_equal(data.y_train, [0, 1])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"x_train": np.zeros((3, 4))},
            r"x_train must be a 2-D float32 NumPy array, got float64 array",
        ),
        (
            {"x_test": np.full((2, 4), 2.0, np.float32)},
            r"x_test must lie in \[0, 1\], got values in \[2.0, 2.0\]",
        ),
        (
            {"x_test": np.full((2, 4), np.nan, np.float32)},
            r"x_test must lie in \[0, 1\]",
        ),
        (
            {"y_train": np.array([0, 1], np.int32)},
            r"x_train has 3 samples but y_train has 2 labels",
        ),
        (
            {"y_test": np.array([0, 3], np.int32)},
            r"y_test must lie in \[0, 3\), got labels in \[0, 3\]",
        ),
        (
            {"y_test": np.array([0, 1], np.int64)},
            r"y_test must be a 1-D int32 NumPy array, got int64 array",
        ),
        (
            {"image_shape": (3, 3)},
            r"x_train has 4 features but image_shape has 9 pixels",
        ),
        ({"n_classes": 1}, r"n_classes must be an integer >= 2, got 1"),
    ],
)
def test_dataset_invalid_fields(changes, message):
    with pytest.raises(ValueError, match=message):
        small_dataset(**changes)


# ---------------------------------------------------------------------------
# IDX files and MNIST
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_round_trip(tmp_path, dtype, compress):
    rng = np.random.default_rng(3)
    array = (rng.normal(size=(3, 2, 5)) * 100).astype(dtype)
    path = write_idx(tmp_path / "array-idx3", array, compress=compress)

    result = read_idx(path)

    assert result.dtype == np.dtype(dtype)
    assert result.dtype.isnative
    assert result.shape == (3, 2, 5)
    np.testing.assert_array_equal(result, array)
    result[0, 0, 0] = 0  # writable


def test_read_idx_header_is_big_endian(tmp_path):
    array = np.arange(300, dtype=np.int16).reshape(1, 300)
    path = tmp_path / "big-idx2"
    path.write_bytes(idx_bytes(array))
    raw = path.read_bytes()

    assert raw[:4] == b"\x00\x00\x0b\x02"
    assert raw[4:12] == b"\x00\x00\x00\x01\x00\x00\x01\x2c"
    assert raw[12 + 2 * 299 : 12 + 2 * 300] == b"\x01\x2b"  # 299 big-endian
    np.testing.assert_array_equal(read_idx(path), array)


def test_read_idx_wrong_magic(tmp_path):
    path = tmp_path / "bad-idx1"
    path.write_bytes(b"\x01\x02\x08\x01" + struct.pack(">I", 2) + b"\x00\x01")

    with pytest.raises(
        DataFormatError,
        match=r"bad-idx1: invalid IDX magic number 01 02 08 01; expected 00 00",
    ):
        read_idx(path)


def test_read_idx_unknown_type_code(tmp_path):
    path = tmp_path / "bad-idx1"
    path.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">I", 2) + b"\x00\x01")

    with pytest.raises(DataFormatError, match="invalid IDX magic number 00 00 07 01"):
        read_idx(path)


def test_read_idx_truncated_data(tmp_path):
    path = tmp_path / "short-idx3"
    path.write_bytes(idx_bytes(np.zeros((4, 5, 5), np.uint8))[:-7])

    with pytest.raises(
        DataFormatError,
        match=r"IDX file is truncated, its header declares shape \(4, 5, 5\) of "
        r"unsigned byte \(100 data bytes\) but 93 data bytes follow",
    ):
        read_idx(path)


def test_read_idx_truncated_header(tmp_path):
    path = tmp_path / "short-idx3"
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x04")

    with pytest.raises(DataFormatError, match="IDX header is truncated"):
        read_idx(path)


def test_read_idx_too_short_for_magic(tmp_path):
    path = tmp_path / "empty-idx1"
    path.write_bytes(b"\x00\x00")

    with pytest.raises(DataFormatError, match="file has 2 bytes, too short"):
        read_idx(path)


def test_read_idx_trailing_bytes(tmp_path):
    path = tmp_path / "long-idx1"
    path.write_bytes(idx_bytes(np.zeros(3, np.uint8)) + b"\x00")

    with pytest.raises(DataFormatError, match="IDX file is too long"):
        read_idx(path)


def test_read_idx_truncated_gzip(tmp_path):
    path = tmp_path / "cut-idx1.gz"
    payload = gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8)))
    path.write_bytes(payload[: len(payload) // 2])

    with pytest.raises(DataFormatError, match="gzip stream is truncated or corrupt"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist_round_trip(tmp_path, compress):
    arrays = make_mnist_arrays()
    folder = write_mnist_folder(tmp_path / "mnist", arrays, compress=compress)

    data = load_mnist(folder)

    assert data.name == "mnist"
    assert data.image_shape == (4, 3)
    assert data.n_features == 12
    assert data.n_classes == 10
    assert data.x_train.dtype == np.float32
    assert data.y_train.dtype == np.int32
    np.testing.assert_array_equal(
        data.x_train,
        arrays["train-images-idx3-ubyte"].reshape(12, 12).astype(np.float32) / 255,
    )
    np.testing.assert_array_equal(data.y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(
        data.x_test,
        arrays["t10k-images-idx3-ubyte"].reshape(5, 12).astype(np.float32) / 255,
    )
    np.testing.assert_array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte"])


def test_load_mnist_max_samples(tmp_path):
    arrays = make_mnist_arrays()
    folder = write_mnist_folder(tmp_path / "mnist", arrays)

    data = load_mnist(folder, max_train=3, max_test=2)

    assert data.n_train == 3
    assert data.n_test == 2
    np.testing.assert_array_equal(data.y_train, arrays["train-labels-idx1-ubyte"][:3])


def test_load_dataset_fashion_mnist(tmp_path):
    folder = write_mnist_folder(tmp_path / "fashion", make_mnist_arrays(), compress=True)

    data = load_dataset("fashion-mnist", folder, max_test=1)

    assert data.name == "fashion-mnist"
    assert data.n_test == 1


def test_load_mnist_count_mismatch(tmp_path):
    arrays = make_mnist_arrays()
    arrays["t10k-labels-idx1-ubyte"] = arrays["t10k-labels-idx1-ubyte"][:4]
    folder = write_mnist_folder(tmp_path / "mnist", arrays)

    with pytest.raises(
        DataFormatError,
        match=r"t10k-images-idx3-ubyte contains 5 images but .*t10k-labels-idx1-ubyte "
        r"contains 4 labels",
    ):
        load_mnist(folder)


def test_load_mnist_label_out_of_range(tmp_path):
    arrays = make_mnist_arrays()
    arrays["train-labels-idx1-ubyte"][3] = 10
    folder = write_mnist_folder(tmp_path / "mnist", arrays)

    with pytest.raises(
        DataFormatError,
        match=r"train-labels-idx1-ubyte: label 10 is out of range, MNIST labels "
        r"lie in 0\.\.9",
    ):
        load_mnist(folder)


def test_load_mnist_wrong_element_type(tmp_path):
    arrays = make_mnist_arrays()
    arrays["train-labels-idx1-ubyte"] = arrays["train-labels-idx1-ubyte"].astype(np.int32)
    folder = write_mnist_folder(tmp_path / "mnist", arrays)

    with pytest.raises(
        DataFormatError,
        match=r"expected a 1-D unsigned byte IDX file, got int32 of shape \(12,\)",
    ):
        load_mnist(folder)


def test_load_mnist_image_shape_mismatch(tmp_path):
    arrays = make_mnist_arrays()
    arrays["t10k-images-idx3-ubyte"] = np.zeros((5, 3, 4), np.uint8)
    folder = write_mnist_folder(tmp_path / "mnist", arrays)

    with pytest.raises(DataFormatError, match=r"test images have shape \(3, 4\) but train images"):
        load_mnist(folder)


def test_load_mnist_missing_file(tmp_path):
    arrays = make_mnist_arrays()
    del arrays["t10k-labels-idx1-ubyte"]
    folder = write_mnist_folder(tmp_path / "mnist", arrays)

    with pytest.raises(
        DataFormatError,
        match=r"MNIST file t10k-labels-idx1-ubyte \(or t10k-labels-idx1-ubyte\.gz\) "
        r"not found in .*mnist",
    ):
        load_mnist(folder)


def test_load_mnist_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"MNIST folder .*nowhere not found"):
        load_mnist(tmp_path / "nowhere")


# ---------------------------------------------------------------------------
# CIFAR-100
# ---------------------------------------------------------------------------


def check_cifar_round_trip(data, batches, *, grayscale=True):
    assert data.name == "cifar100"
    assert data.n_classes == 100
    for part in ("train", "test"):
        batch = batches[part]
        x = getattr(data, f"x_{part}")
        y = getattr(data, f"y_{part}")
        np.testing.assert_array_equal(y, batch[b"fine_labels"])
        if grayscale:
            planes = batch[b"data"].reshape(-1, 3, 1024).astype(np.float64)
            expected = luma((planes[:, 0], planes[:, 1], planes[:, 2]))
            np.testing.assert_allclose(x, expected, rtol=0, atol=1e-6)
        else:
            np.testing.assert_array_equal(x, batch[b"data"].astype(np.float32) / np.float32(255))


def test_cifar100_folder_grayscale(tmp_path):
    batches = cifar_batches()
    folder = write_cifar_folder(tmp_path / "cifar-100-python", batches)

    data = load_cifar100(folder)

    assert data.image_shape == (32, 32)
    assert data.n_features == 1024
    assert data.x_train.shape == (7, 1024)
    assert data.x_test.shape == (4, 1024)
    check_cifar_round_trip(data, batches)


def test_cifar100_folder_rgb(tmp_path):
    batches = cifar_batches()
    folder = write_cifar_folder(tmp_path / "cifar-100-python", batches)

    data = load_cifar100(folder, grayscale=False)

    assert data.image_shape == (3, 32, 32)
    assert data.x_train.shape == (7, 3072)
    check_cifar_round_trip(data, batches, grayscale=False)


def test_cifar100_grayscale_hand_pixel(tmp_path):
    batches = cifar_batches()
    image = batches["train"][b"data"][0].reshape(3, 1024)
    image[:, 0] = (200, 100, 50)
    image[:, 1] = (255, 255, 255)
    image[:, 2] = (0, 0, 0)
    image[:, 3] = (0, 0, 255)
    folder = write_cifar_folder(tmp_path / "cifar-100-python", batches)

    x = load_cifar100(folder).x_train[0]

    # (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255 = 124.2 / 255
    assert x[0] == pytest.approx(124.2 / 255, abs=1e-6)
    assert x[1] == 1.0
    assert x[2] == 0.0
    assert x[3] == pytest.approx(0.114, abs=1e-6)


def test_cifar100_parent_folder(tmp_path):
    batches = cifar_batches()
    write_cifar_folder(tmp_path / "cifar-100-python", batches)

    check_cifar_round_trip(load_cifar100(tmp_path), batches)


def test_cifar100_archive(tmp_path):
    batches = cifar_batches()
    folder = write_cifar_folder(tmp_path / "staging" / "cifar-100-python", batches)
    archive = tmp_path / "downloads" / "cifar-100-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-100-python")

    check_cifar_round_trip(load_cifar100(archive), batches)
    assert list((tmp_path / "downloads").iterdir()) == [archive]


def test_cifar100_archive_parent_folder(tmp_path):
    batches = cifar_batches()
    folder = write_cifar_folder(tmp_path / "staging" / "cifar-100-python", batches)
    with tarfile.open(tmp_path / "cifar-100-python.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname="cifar-100-python")

    data = load_cifar100(tmp_path, max_train=2)

    assert data.n_train == 2
    np.testing.assert_array_equal(data.y_train, batches["train"][b"fine_labels"][:2])


def test_cifar100_archive_dot_prefix(tmp_path):
    batches = cifar_batches()
    folder = write_cifar_folder(tmp_path / "staging" / "cifar-100-python", batches)
    archive = tmp_path / "cifar-100-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="./cifar-100-python")

    check_cifar_round_trip(load_cifar100(archive), batches)


def test_cifar100_archive_missing_member(tmp_path):
    batches = cifar_batches()
    del batches["test"]
    folder = write_cifar_folder(tmp_path / "staging" / "cifar-100-python", batches)
    archive = tmp_path / "cifar-100-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-100-python")

    with pytest.raises(
        DataFormatError,
        match=r"cifar-100-python\.tar\.gz: archive has no file cifar-100-python/test",
    ):
        load_cifar100(archive)


def test_cifar100_file_not_archive(tmp_path):
    path = tmp_path / "train"
    path.write_bytes(pickle.dumps(make_cifar_batch(2, seed=0), protocol=2))

    with pytest.raises(DataFormatError, match=r"train: cannot read the archive \("):
        load_cifar100(path)


def test_cifar100_python2_pickle(tmp_path):
    rng = np.random.default_rng(5)
    batches = {
        part: {
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"fine_labels": [int(v) for v in rng.integers(0, 100, n)],
        }
        for part, n in (("train", 3), ("test", 2))
    }
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for part, batch in batches.items():
        raw = py2_style_pickle(batch[b"data"], batch[b"fine_labels"])
        (folder / part).write_bytes(raw)

    check_cifar_round_trip(load_cifar100(folder), batches)


def test_cifar100_max_samples(tmp_path):
    batches = cifar_batches()
    folder = write_cifar_folder(tmp_path / "cifar-100-python", batches)

    data = load_cifar100(folder, max_train=2, max_test=10)

    assert data.n_train == 2
    assert data.n_test == 4
    np.testing.assert_array_equal(data.y_train, batches["train"][b"fine_labels"][:2])


def test_cifar100_truncated_pickle(tmp_path):
    folder = write_cifar_folder(tmp_path / "cifar-100-python", cifar_batches())
    raw = (folder / "test").read_bytes()
    (folder / "test").write_bytes(raw[: len(raw) // 2])

    with pytest.raises(
        DataFormatError,
        match=r"cifar-100-python/test: pickle is truncated or corrupt \(",
    ):
        load_cifar100(folder)


def test_cifar100_truncated_archive(tmp_path):
    folder = write_cifar_folder(tmp_path / "cifar-100-python", cifar_batches())
    archive = tmp_path / "cifar-100-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-100-python")
    raw = archive.read_bytes()
    archive.write_bytes(raw[: len(raw) // 2])

    with pytest.raises(DataFormatError, match=r"cifar-100-python\.tar\.gz: cannot"):
        load_cifar100(archive)


def _record_call(marker):
    with open(marker, "w") as stream:
        stream.write("called")


class ShellCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


class PythonExpression:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


class LocalFunction:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (_record_call, (str(self.marker),))


@pytest.mark.parametrize(
    ("payload", "global_name"),
    [
        (ShellCommand, r"posix\.system"),
        (PythonExpression, r"__builtin__\.eval"),
        (LocalFunction, r"\S*test_data\._record_call"),
    ],
)
def test_cifar100_malicious_pickle_rejected(tmp_path, payload, global_name):
    marker = tmp_path / "executed"
    batches = cifar_batches()
    batches["train"][b"batch_label"] = payload(marker)
    folder = write_cifar_folder(tmp_path / "cifar-100-python", batches)

    with pytest.raises(
        DataFormatError,
        match=rf"cifar-100-python/train: pickle references {global_name}, which is "
        "not allowed",
    ):
        load_cifar100(folder)
    assert not marker.exists()


def test_cifar100_missing_test_file(tmp_path):
    batches = cifar_batches()
    del batches["test"]
    folder = write_cifar_folder(tmp_path / "cifar-100-python", batches)

    with pytest.raises(DataFormatError, match=r"CIFAR-100 file test not found in .*cifar-100-python"):
        load_cifar100(folder)


def test_cifar100_empty_folder(tmp_path):
    with pytest.raises(
        DataFormatError,
        match=r"no CIFAR-100 files in .*: expected files train and test, a "
        r"cifar-100-python folder, or cifar-100-python\.tar\.gz\. Pass",
    ):
        load_cifar100(tmp_path)


def test_cifar100_cifar10_hint(tmp_path):
    (tmp_path / "data_batch_1").write_bytes(b"")

    with pytest.raises(DataFormatError, match="It looks like CIFAR-10"):
        load_cifar100(tmp_path)


def test_cifar100_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"CIFAR-100 path .*nowhere not found"):
        load_cifar100(tmp_path / "nowhere")


def test_cifar100_wrong_keys(tmp_path):
    batches = cifar_batches()
    batches["train"][b"labels"] = batches["train"].pop(b"fine_labels")
    folder = write_cifar_folder(tmp_path / "cifar-100-python", batches)

    with pytest.raises(DataFormatError, match=r"train: missing key\(s\) fine_labels \(found "):
        load_cifar100(folder)


def test_cifar100_wrong_data_shape(tmp_path):
    batches = cifar_batches()
    batches["test"][b"data"] = batches["test"][b"data"][:, :1024]
    folder = write_cifar_folder(tmp_path / "cifar-100-python", batches)

    with pytest.raises(
        DataFormatError,
        match=r"test: 'data' must be a uint8 array of shape \(samples, 3072\), got "
        r"uint8 array of shape \(4, 1024\)",
    ):
        load_cifar100(folder)


def test_cifar100_label_count_mismatch(tmp_path):
    batches = cifar_batches()
    batches["train"][b"fine_labels"].pop()
    folder = write_cifar_folder(tmp_path / "cifar-100-python", batches)

    with pytest.raises(DataFormatError, match=r"train: 'fine_labels' must be 7 integers, one per"):
        load_cifar100(folder)


def test_cifar100_label_out_of_range(tmp_path):
    batches = cifar_batches()
    batches["test"][b"fine_labels"][0] = 100
    folder = write_cifar_folder(tmp_path / "cifar-100-python", batches)

    with pytest.raises(DataFormatError, match=r"test: fine labels lie in \[\d+, 100\]"):
        load_cifar100(folder)


def test_cifar100_not_a_dict(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for part in ("train", "test"):
        (folder / part).write_bytes(pickle.dumps([1, 2, 3], protocol=2))

    with pytest.raises(DataFormatError, match="expected a pickled dict, got list"):
        load_cifar100(folder)


def test_cifar100_grayscale_must_be_bool(tmp_path):
    with pytest.raises(ValueError, match="grayscale must be True or False, got 'no'"):
        load_cifar100(tmp_path, grayscale="no")


# ---------------------------------------------------------------------------
# load_dataset
# ---------------------------------------------------------------------------


def test_load_dataset_digits():
    data = load_dataset("digits", max_train=10)

    assert data.name == "digits"
    assert data.n_train == 10


def test_load_dataset_cifar100(tmp_path):
    write_cifar_folder(tmp_path / "cifar-100-python", cifar_batches())

    data = load_dataset("cifar100", tmp_path, grayscale=False)

    assert data.n_features == 3072


def test_load_dataset_unknown_name():
    with pytest.raises(
        ValueError,
        match=r"unknown dataset 'imagenet'; valid names are cifar100, digits, "
        r"fashion-mnist, mnist\.",
    ):
        load_dataset("imagenet")


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "cifar100"])
def test_load_dataset_needs_path(name):
    with pytest.raises(
        ValueError,
        match=rf"dataset '{name}' is read from files; pass their location "
        r"with --data-path / path\.",
    ):
        load_dataset(name)


def test_load_dataset_digits_rejects_path(tmp_path):
    with pytest.raises(ValueError, match="digits ships with scikit-learn"):
        load_dataset("digits", tmp_path)
