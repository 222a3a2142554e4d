"""Protocols: training into a run directory, exact resume, evaluation on the stored split."""
import json

import numpy as np
import pytest

import streams
from stdpnet.errors import RunDirError, SourceError
from stdpnet.experiment.config import build_config
from stdpnet.experiment.protocol import UNLABELLED_NOTE, evaluate_run, resume, train

from .conftest import assert_same_learning, load_state

TINY = dict(net="synthetic", data="synthetic:120", epochs=1, seed=0)
QUIET = dict(progress=False, make_plots=False)


@pytest.mark.parametrize("readout", ["classifier", "count", "rstdp"])
def test_train_writes_a_complete_run_directory(tmp_path, readout):
    summary = train(build_config(readout=readout, **TINY), tmp_path / "run", **QUIET)
    for name in ("config.json", "meta.json", "split.json", "checkpoint.npz", "metrics.json", "eval.json"):
        assert (tmp_path / "run" / name).exists(), name
    v = summary["validation"]
    assert v["samples"] == 24 and 0.0 <= v["accuracy"] <= 1.0
    assert summary["train_samples"] == 96
    assert np.array(v["confusion"]).sum() == 24
    assert set(v["spikes_per_sample"]) == {"conv1", "fc1"}
    # per-sample figures divide by every sample, the one closed at the end of the stream included
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["train"]["samples"] == 96
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert len(split["train"]) == 96 and len(split["val"]) == 24 and not set(split["train"]) & set(split["val"])
    assert load_state(tmp_path / "run")["phase"] == "done"


def test_rstdp_readout_trains_an_rstdp_top_layer(tmp_path):
    train(build_config(readout="rstdp", **TINY), tmp_path / "run", **QUIET)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["layers"]["fc1"]["rule"] == "rstdp" and saved["layers"]["conv1"]["rule"] == "stdp"
    assert load_state(tmp_path / "run")["network"]["layer_params"]["fc1"]["rule"] == "rstdp"


def test_resume_after_interruption_equals_an_uninterrupted_run(tmp_path):
    cfg = build_config(readout="classifier", **{**TINY, "epochs": 2})
    whole = train(cfg, tmp_path / "whole", **QUIET)
    partial = train(cfg, tmp_path / "cut", stop_after_samples=70, **QUIET)
    assert partial["interrupted"] and "validation" not in partial
    state = load_state(tmp_path / "cut")
    assert state["phase"] == "train" and 0 < state["network"]["now"]
    resumed = resume(tmp_path / "cut", **QUIET)
    assert_same_learning(tmp_path / "whole", tmp_path / "cut")
    assert resumed["validation"]["accuracy"] == whole["validation"]["accuracy"]
    assert resumed["train"]["samples"] == whole["train"]["samples"] == 192


def test_the_saved_config_reproduces_the_run_bit_for_bit(tmp_path):
    train(build_config(readout="count", **TINY), tmp_path / "first", **QUIET)
    again = build_config(tmp_path / "first" / "config.json")
    train(again, tmp_path / "second", **QUIET)
    assert_same_learning(tmp_path / "first", tmp_path / "second")
    assert (tmp_path / "first" / "split.json").read_text() == (tmp_path / "second" / "split.json").read_text()


def test_an_existing_run_is_never_overwritten(tmp_path):
    cfg = build_config(**TINY)
    train(cfg, tmp_path / "run", **QUIET)
    with pytest.raises(RunDirError, match="--resume"):
        train(cfg, tmp_path / "run", **QUIET)


def test_a_source_that_does_not_fit_is_refused_before_any_work(tmp_path):
    with pytest.raises(SourceError, match=r"expects 34x34x2.*--net synthetic"):
        train(build_config(net="nmnist", data="synthetic:10"), tmp_path / "r", **QUIET)
    assert not (tmp_path / "r").exists()


def test_eval_uses_the_stored_split_and_reproduces_the_validation_figure(tmp_path):
    summary = train(build_config(**TINY), tmp_path / "run", **QUIET)
    report = evaluate_run(tmp_path / "run")
    assert report["samples"] == summary["validation"]["samples"] == 24
    assert report["accuracy"] == summary["validation"]["accuracy"]
    assert evaluate_run(tmp_path / "run", max_samples=5)["samples"] == 5
    other = evaluate_run(tmp_path / "run", data="synthetic:7")
    assert other["samples"] == 7 and other["data"] == "synthetic:7"


def test_eval_of_a_checkpoint_from_another_network_fails_clearly(tmp_path):
    train(build_config(**TINY), tmp_path / "run", **QUIET)
    cfg_path = tmp_path / "run" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["net"] = "16x16x2-6C5-P2-32"
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(RunDirError) as e:
        evaluate_run(tmp_path / "run")
    assert "16x16x2-8C5-P2-32" in str(e.value) and "16x16x2-6C5-P2-32" in str(e.value)


def test_a_separate_test_source_is_evaluated(tmp_path):
    summary = train(build_config(test_data="synthetic:20", **TINY), tmp_path / "run", **QUIET)
    assert summary["test"]["samples"] == 20 and summary["test"]["data"] == "synthetic:20"


def test_files_added_to_the_folder_never_move_samples(tmp_path, bars_folder):
    folder = bars_folder(40)
    cfg = build_config(net="synthetic", data=str(folder), epochs=1, seed=1)
    whole = train(cfg, tmp_path / "whole", **QUIET)
    train(cfg, tmp_path / "cut", stop_after_samples=12, **QUIET)
    split_before = (tmp_path / "cut" / "split.json").read_text()
    from .conftest import write_bars_folder

    write_bars_folder(folder, 16, start=40)  # new recordings land in every class folder
    resumed = resume(tmp_path / "cut", **QUIET)
    assert (tmp_path / "cut" / "split.json").read_text() == split_before
    assert_same_learning(tmp_path / "whole", tmp_path / "cut")
    assert resumed["validation"]["samples"] == whole["validation"]["samples"] == 8
    assert any("new samples are left out" in n for n in resumed["notes"])
    report = evaluate_run(tmp_path / "cut")
    assert report["samples"] == 8 and report["accuracy"] == whole["validation"]["accuracy"]
    # a trained-on file that disappears is an error, not a silent re-split
    first = json.loads(split_before)["train_ids"][0]
    (folder / first).unlink()
    with pytest.raises(RunDirError, match="data changed"):
        evaluate_run(tmp_path / "cut")


def test_index_named_data_that_changed_is_refused(tmp_path):
    train(build_config(**TINY), tmp_path / "run", **QUIET)
    split_path = tmp_path / "run" / "split.json"
    split = json.loads(split_path.read_text())
    split["fingerprint"]["samples"] = 121
    split_path.write_text(json.dumps(split))
    with pytest.raises(RunDirError, match="data changed"):
        evaluate_run(tmp_path / "run")


def _corrupt(folder):
    bad = folder / "1" / "zz_bad.bin"
    bad.write_bytes(b"\x01\x02\x03\x04\x05\x06\x07")  # one N-MNIST record and two stray bytes
    return bad


def test_on_bad_skip_lists_the_bad_recording(tmp_path, bars_folder):
    folder = bars_folder(24)
    _corrupt(folder)
    cfg = build_config(net="synthetic", data=str(folder), on_bad="skip", val_fraction=0.0)
    summary = train(cfg, tmp_path / "run", **QUIET)
    assert [b["sample"] for b in summary["skipped"]] == ["1/zz_bad.bin"]
    assert "zz_bad.bin" in summary["skipped"][0]["error"]
    assert summary["train_samples"] == 25 and summary["train"]["samples"] == 24  # skipped, not a sample


def test_on_bad_error_stops_after_saving_then_resumes_with_skip(tmp_path, bars_folder):
    folder = bars_folder(24)
    _corrupt(folder)
    cfg = build_config(net="synthetic", data=str(folder), val_fraction=0.0)
    with pytest.raises(SourceError, match=r"zz_bad.bin.*checkpoint saved.*--on-bad skip"):
        train(cfg, tmp_path / "run", **QUIET)
    state = load_state(tmp_path / "run")
    assert state["phase"] == "train"
    summary = resume(tmp_path / "run", on_bad="skip", **QUIET)
    assert [b["sample"] for b in summary["skipped"]] == ["1/zz_bad.bin"]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["training"]["on_bad"] == "skip"
    # the same as a run that skipped from the start
    train(build_config(net="synthetic", data=str(folder), val_fraction=0.0, on_bad="skip"), tmp_path / "skip", **QUIET)
    assert_same_learning(tmp_path / "run", tmp_path / "skip")


def test_an_unlabelled_source_learns_features_without_a_readout(tmp_path, bars_folder):
    folder = bars_folder(12, labelled=False)
    summary = train(build_config(net="synthetic", data=str(folder)), tmp_path / "run", **QUIET)
    assert summary["readout"] is None and summary["note"] == UNLABELLED_NOTE
    assert summary["validation"] is None and summary["train_samples"] == 12
    assert summary["train"]["samples"] == 12
    assert summary["train"]["spikes_per_sample"]["conv1"]["learning"] > 0
    state = load_state(tmp_path / "run")
    from stdpnet import Network
    from stdpnet.experiment.config import RunConfig

    cfg = RunConfig.from_dict(json.loads((tmp_path / "run" / "config.json").read_text()))
    initial = Network.from_config(cfg.network_dict()).layer("conv1").state_dict()["w"]
    assert not np.array_equal(initial, state["network"]["layers"]["conv1"]["w"])


def test_one_recording_cut_into_windows_trains_unlabelled(tmp_path):
    root = streams.data_root()
    if root is None:
        pytest.skip("data folder absent (set STDPNET_DATA)")
    cfg = build_config(net="34x34x2-4C5-P2-8", data=str(root / "samples" / "sample_nmnist.bin"), window_us=50_000)
    summary = train(cfg, tmp_path / "run", **QUIET)
    assert summary["readout"] is None and summary["train_samples"] == 7


class BarsObject:
    """A data set object as a Python user (or tonic) would pass it: no SOURCE text."""

    def __init__(self, n):
        self.bars = streams.SyntheticBars(n_samples=n, seed=5)
        self.sensor_size = self.bars.sensor_size
        self.targets = self.bars.labels

    def __len__(self):
        return len(self.bars)

    def __getitem__(self, i):
        return self.bars[i]


def test_a_data_set_object_trains_and_must_be_given_again_to_resume(tmp_path):
    data = BarsObject(40)
    cfg = build_config(net="synthetic", epochs=1)
    whole = train(cfg, tmp_path / "whole", source=data, **QUIET)
    assert whole["data"] == "<BarsObject>" and whole["train_samples"] == 32
    train(cfg, tmp_path / "cut", source=data, stop_after_samples=10, **QUIET)
    with pytest.raises(RunDirError, match="data set object passed from Python"):
        resume(tmp_path / "cut", **QUIET)
    resume(tmp_path / "cut", source=data, **QUIET)
    assert_same_learning(tmp_path / "whole", tmp_path / "cut")
    assert evaluate_run(tmp_path / "cut", source=data)["samples"] == 8


def test_another_source_text_becomes_the_runs_data(tmp_path):
    summary = train(build_config(**TINY), tmp_path / "run", source="synthetic:40", **QUIET)
    assert summary["data"] == "synthetic:40"
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"]["source"] == "synthetic:40"
