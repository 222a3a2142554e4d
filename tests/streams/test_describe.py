"""describe(): summaries for `stdpnet info`."""
from __future__ import annotations

import json
import time

import pytest

import streams
from streams import EventStreamError


@pytest.mark.data
def test_describe_file(samples_dir):
    info = streams.describe(samples_dir / "sample_nmnist.bin")
    assert info == {
        "path": str(samples_dir / "sample_nmnist.bin"),
        "format": "nmnist",
        "events": 4325,
        "sensor": [34, 34, 2],
        "duration_us": 311175 - 654 + 1,
        "mean_rate_hz": pytest.approx(4325 / (310522 * 1e-6)),
    }
    json.dumps(info)


@pytest.mark.data
@pytest.mark.parametrize("name, fmt, sensor", [
    ("sample.aedat4", "aedat4", [320, 240, 2]),
    ("prophesee_evt3_sample.raw", "evt3", [1280, 720, 2]),
    ("sample_ncars.dat", "dat", [78, 42, 2]),
])
def test_describe_other_formats(samples_dir, name, fmt, sensor):
    info = streams.describe(samples_dir / name)
    assert info["format"] == fmt and info["sensor"] == sensor and info["mean_rate_hz"] > 0


@pytest.mark.data
def test_describe_nmnist_folder(nmnist_train):
    start = time.perf_counter()
    info = streams.describe(nmnist_train)
    assert time.perf_counter() - start < 2.0
    assert info["format"] == "nmnist-folder"
    assert info["samples"] == 800 and info["classes"] == 10 and info["class_labels"] == list(range(10))
    assert info["events"] == 3281009
    assert sum(p.stat().st_size for p in nmnist_train.glob("*/*.bin")) // 5 == info["events"]
    assert info["sensor"] == [34, 34, 2]
    assert info["duration_us"] == 245063287
    assert sum(info["samples_per_class"].values()) == 800
    json.dumps(info)


def test_describe_errors(tmp_path):
    with pytest.raises(EventStreamError, match="N-MNIST layout"):
        streams.describe(tmp_path)
    with pytest.raises(EventStreamError, match="file not found"):
        streams.describe(tmp_path / "missing.bin")
