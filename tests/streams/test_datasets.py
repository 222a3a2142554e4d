"""Labelled data sets: N-MNIST folders, IDX/MNIST, encoded images, subsets and splits."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

import streams
from streams import EventStreamError


# --------------------------------------------------------------------------------------------
# data_root
# --------------------------------------------------------------------------------------------
def test_data_root_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("STDPNET_DATA", str(tmp_path))
    assert streams.data_root() == tmp_path
    monkeypatch.setenv("STDPNET_DATA", str(tmp_path / "absent"))
    assert streams.data_root() is None


def test_data_root_default_is_next_to_repo(monkeypatch):
    monkeypatch.delenv("STDPNET_DATA", raising=False)
    expected = Path(streams.__file__).resolve().parents[1].parent / "shared" / "data"
    assert streams.data_root() == (expected if expected.is_dir() else None)


# --------------------------------------------------------------------------------------------
# N-MNIST folders
# --------------------------------------------------------------------------------------------
def make_nmnist_folder(root: Path, files_per_digit: dict, nmnist_bytes) -> Path:
    """Tiny N-MNIST layout: ``root/<digit>/<id>.bin`` with ``k + 1`` events in file k."""
    for digit, n_files in files_per_digit.items():
        (root / str(digit)).mkdir(parents=True)
        for k in range(n_files):
            n = k + 1
            data = nmnist_bytes(np.full(n, digit), np.arange(n), np.arange(n) * 100 + 50, np.zeros(n, int))
            (root / str(digit) / f"{k:05d}.bin").write_bytes(data)
    return root


def test_nmnist_folder_tiny(tmp_path, nmnist_bytes):
    root = make_nmnist_folder(tmp_path / "Train", {3: 2, 1: 3}, nmnist_bytes)
    dataset = streams.NMNISTFolder(root)
    assert len(dataset) == 5
    assert dataset.classes == [1, 3]
    assert dataset.labels.tolist() == [1, 1, 1, 3, 3]
    assert [p.relative_to(root).as_posix() for p in dataset.paths] == [
        "1/00000.bin", "1/00001.bin", "1/00002.bin", "3/00000.bin", "3/00001.bin",
    ]
    events, label = dataset[4]
    assert label == 3 and len(events) == 2 and events["x"].tolist() == [3, 3]
    assert dataset.sensor_size == (34, 34, 2)


def test_nmnist_folder_errors(tmp_path, nmnist_bytes):
    with pytest.raises(EventStreamError, match="N-MNIST folder not found"):
        streams.NMNISTFolder(tmp_path / "absent")
    make_nmnist_folder(tmp_path / "N-MNIST" / "Train", {0: 1}, nmnist_bytes)
    with pytest.raises(EventStreamError, match=r"no digit sub-folders.*pass .*Train instead"):
        streams.NMNISTFolder(tmp_path / "N-MNIST")
    (tmp_path / "emptydigits" / "4").mkdir(parents=True)
    with pytest.raises(EventStreamError, match="hold no .bin recordings"):
        streams.NMNISTFolder(tmp_path / "emptydigits")


@pytest.mark.data
def test_nmnist_folder_real(nmnist_train):
    dataset = streams.NMNISTFolder(nmnist_train)
    assert len(dataset) == 800
    assert dataset.classes == list(range(10))
    assert np.bincount(dataset.labels).tolist() == [79, 98, 81, 73, 81, 72, 73, 86, 73, 84]
    assert dataset.paths == sorted(dataset.paths)
    events, label = dataset[0]
    assert label == 0 and dataset.paths[0].name == "00002.bin"
    assert len(events) == dataset.paths[0].stat().st_size // 5
    assert np.all(np.diff(events["t"]) >= 0)


@pytest.mark.data
def test_nmnist_split_stratified(nmnist_train):
    dataset = streams.NMNISTFolder(nmnist_train)
    train, test = dataset.split(0.75, seed=3)
    assert len(train) + len(test) == 800
    assert not set(train.indices) & set(test.indices)
    assert np.abs(np.bincount(train.labels) - 0.75 * np.bincount(dataset.labels)).max() <= 1
    again, _ = dataset.split(0.75, seed=3)
    np.testing.assert_array_equal(train.indices, again.indices)
    other, _ = dataset.split(0.75, seed=4)
    assert not np.array_equal(train.indices, other.indices)
    events, label = train[5]
    assert label == dataset.labels[train.indices[5]]
    assert train.paths[5] == dataset.paths[train.indices[5]]


def test_split_by_count_and_subset(tmp_path, nmnist_bytes):
    dataset = streams.NMNISTFolder(make_nmnist_folder(tmp_path / "T", {0: 6, 1: 3, 2: 1}, nmnist_bytes))
    first, second = dataset.split(5, seed=0)
    assert len(first) == 5 and len(second) == 5
    # targets 3, 1.5, 0.5: the leftover sample goes to the first of the tied remainders
    assert np.bincount(first.labels, minlength=3).tolist() == [3, 2, 0]
    subset = dataset.subset([9, 0, 6])
    assert subset.labels.tolist() == [2, 0, 1]
    assert subset[0][1] == 2
    nested = subset.subset([2])
    assert nested.labels.tolist() == [1] and nested[0][1] == 1
    with pytest.raises(ValueError):
        dataset.split(1.5)
    with pytest.raises(IndexError):
        dataset.subset([10])


def test_stratified_split_sizes():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    first, second = streams.stratified_split(labels, 0.1, seed=0)
    assert np.bincount(labels[first]).tolist() == [5, 3, 2]
    first, second = streams.stratified_split(labels, 7, seed=0)
    assert len(first) == 7 and len(second) == 93
    assert np.all(np.diff(first) > 0) and np.all(np.diff(second) > 0)


# --------------------------------------------------------------------------------------------
# IDX / MNIST
# --------------------------------------------------------------------------------------------
def idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def test_read_idx_plain_and_gzip(tmp_path):
    array = np.arange(24, dtype=np.int16).reshape(2, 3, 4) - 5
    (tmp_path / "a.idx").write_bytes(idx_bytes(array, 0x0B))
    with gzip.open(tmp_path / "a.idx.gz", "wb") as f:
        f.write(idx_bytes(array, 0x0B))
    for name in ("a.idx", "a.idx.gz"):
        loaded = streams.read_idx(tmp_path / name)
        np.testing.assert_array_equal(loaded, array)
        assert loaded.dtype == np.int16 and loaded.dtype.isnative


def test_read_idx_errors(tmp_path):
    (tmp_path / "cut.idx").write_bytes(idx_bytes(np.zeros((2, 2), np.uint8), 0x08)[:-1])
    with pytest.raises(EventStreamError, match=r"cut\.idx: truncated or corrupt IDX file"):
        streams.read_idx(tmp_path / "cut.idx")
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(EventStreamError, match=r"bad\.idx: not an IDX file"):
        streams.read_idx(tmp_path / "bad.idx")


@pytest.mark.data
def test_mnist_images_real(mnist_images):
    assert mnist_images.images.shape == (5000, 28, 28)
    assert mnist_images.images.dtype == np.uint8
    assert mnist_images.labels.shape == (5000,)
    assert set(np.unique(mnist_images.labels)) == set(range(10))
    image, label = mnist_images[0]
    assert image.max() == 255 and label == mnist_images.labels[0]


def test_mnist_images_label_mismatch(tmp_path):
    (tmp_path / "i.idx").write_bytes(idx_bytes(np.zeros((3, 28, 28), np.uint8), 0x08))
    (tmp_path / "l.idx").write_bytes(idx_bytes(np.zeros(2, np.uint8), 0x08))
    with pytest.raises(EventStreamError, match="labels do not match the 3 images"):
        streams.MNISTImages(tmp_path / "i.idx", tmp_path / "l.idx")


# --------------------------------------------------------------------------------------------
# EncodedImages
# --------------------------------------------------------------------------------------------
def test_encoded_images_order_independent():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 10, 12), dtype=np.uint8)
    dataset = streams.EncodedImages(images, np.arange(6), streams.PeriodicEncoder(duration_us=20_000), seed=7)
    assert dataset.sensor_size == (12, 10, 1)
    assert dataset.duration_us == 20_000
    forward = [dataset[i][0] for i in range(6)]
    backward = [dataset[i][0] for i in reversed(range(6))][::-1]
    for a, b in zip(forward, backward):
        np.testing.assert_array_equal(a, b)
    other_seed = streams.EncodedImages(images, np.arange(6), dataset.encoder, seed=8)
    assert not np.array_equal(other_seed[0][0], forward[0])
    assert dataset[-1][1] == 5
    with pytest.raises(IndexError):
        dataset[6]
    train, test = dataset.split(0.5, seed=0)
    assert train.duration_us == 20_000
