"""Fixtures for the streams tests: the shared data folder (skipped with a reason when absent)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import streams

from . import fuzzing


def _missing_data_reason() -> str:
    configured = os.environ.get(streams.datasets.DATA_ENV_VAR)
    if configured:
        return f"data folder absent: STDPNET_DATA={configured!r} is not a directory"
    return (
        "data folder absent: set STDPNET_DATA or run from a folder with ../shared/data "
        "(samples/, nmnist/Train/, mnist/)"
    )


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data folder; tests using it are skipped when it is absent."""
    root = streams.data_root()
    if root is None:
        pytest.skip(_missing_data_reason())
    return root


@pytest.fixture(scope="session")
def samples_dir(data_dir: Path) -> Path:
    path = data_dir / "samples"
    if not path.is_dir():
        pytest.skip(f"{path} absent")
    return path


@pytest.fixture(scope="session")
def nmnist_train(data_dir: Path) -> Path:
    path = data_dir / "nmnist" / "Train"
    if not path.is_dir():
        pytest.skip(f"{path} absent")
    return path


@pytest.fixture(scope="session")
def mnist_images(data_dir: Path) -> streams.MNISTImages:
    images = data_dir / "mnist" / "train-5k-images-idx3-ubyte.gz"
    labels = data_dir / "mnist" / "train-5k-labels-idx1-ubyte.gz"
    if not (images.is_file() and labels.is_file()):
        pytest.skip(f"{images.parent} lacks the MNIST idx files")
    return streams.MNISTImages(images, labels)


def encode_nmnist(x, y, t, p) -> bytes:
    """Encode events as N-MNIST 5-byte records (x, y, polarity bit + 23-bit timestamp)."""
    x, y, t, p = (np.asarray(a, dtype=np.uint64) for a in (x, y, t, p))
    records = np.zeros((len(t), 5), dtype=np.uint8)
    records[:, 0] = x
    records[:, 1] = y
    records[:, 2] = (p << 7) | ((t >> 16) & 0x7F)
    records[:, 3] = (t >> 8) & 0xFF
    records[:, 4] = t & 0xFF
    return records.tobytes()


@pytest.fixture
def nmnist_bytes():
    """``nmnist_bytes(x, y, t, p) -> bytes``: hand-made N-MNIST file contents."""
    return encode_nmnist


def pytest_terminal_summary(terminalreporter):
    """Print the outcome counts of the bad-input fuzzing, when it ran."""
    if fuzzing.SESSION_COUNTS:
        terminalreporter.write_sep("-", "bad-input reads per outcome (tests/streams/test_bad_input.py)")
        terminalreporter.write_line(fuzzing.format_counts(fuzzing.SESSION_COUNTS))
