"""The thin CLI: info, bench, errors."""
import json

import pytest

import streams
from stdpnet.cli import main


def test_info_json_on_the_nmnist_sample(capsys):
    root = streams.data_root()
    if root is None:
        pytest.skip("data folder absent (set STDPNET_DATA)")
    assert main(["info", str(root / "samples" / "sample_nmnist.bin"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["events"] == 4325 and info["sensor"] == [34, 34, 2] and info["duration_us"] > 0


def test_info_on_a_dataset_folder(capsys):
    root = streams.data_root()
    if root is None or not (root / "nmnist" / "Train").is_dir():
        pytest.skip("N-MNIST data folder absent (set STDPNET_DATA)")
    assert main(["info", str(root / "nmnist" / "Train"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["samples"] == 800 and info["classes"] == 10


def test_info_on_a_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nope.bin")]) == 2
    assert "nope.bin" in capsys.readouterr().err


def test_bench_json_has_the_tracked_keys(capsys):
    assert main(["bench", "--net", "synthetic", "--data", "synthetic:20", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    for key in ("train_events_per_s", "infer_events_per_s", "realtime_factor", "synops_per_s", "peak_rss_mb", "compile_s"):
        assert r[key] > 0, key


def test_unknown_source_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--data", "imagenet:/x", "--out", str(tmp_path / "r")]) == 2
    assert "unknown data source" in capsys.readouterr().err
