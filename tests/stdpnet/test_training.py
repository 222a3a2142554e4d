"""Online training runs: run directories, exact resume, evaluation, CLI (issue: end to end)."""
import json

import numpy as np
import pytest

import streams
from stdpnet import checkpoint
from stdpnet.cli import main
from stdpnet.training import Run, build_config, train

TINY = dict(net="synthetic", data="synthetic:120", epochs=1, seed=0)


def weights_of(run_dir):
    state = checkpoint.load(run_dir / "checkpoint.npz")
    return {k: v["w"] for k, v in state["network"]["layers"].items()}, state


@pytest.mark.parametrize("readout", ["classifier", "count", "rstdp"])
def test_train_writes_a_complete_run_directory(tmp_path, readout):
    summary = train(build_config(readout=readout, **TINY), tmp_path / "run", progress=False, make_plots=False)
    for name in ("config.json", "checkpoint.npz", "metrics.json", "eval.json"):
        assert (tmp_path / "run" / name).exists()
    v = summary["validation"]
    assert v["samples"] == 24 and 0.0 <= v["accuracy"] <= 1.0
    assert summary["train_samples"] == 96
    assert np.array(v["confusion"]).sum() == 24
    assert set(v["spikes_per_sample"]) == {"conv1", "fc1"}
    # per-sample figures divide by every sample, the one closed by flush() included
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["train"]["samples"] == 96


def test_resume_after_interruption_equals_an_uninterrupted_run(tmp_path):
    cfg = build_config(readout="classifier", **{**TINY, "epochs": 2})
    train(cfg, tmp_path / "whole", progress=False, make_plots=False)
    partial = train(cfg, tmp_path / "cut", progress=False, make_plots=False, stop_after_samples=70)
    assert partial["interrupted"]
    _, state = weights_of(tmp_path / "cut")
    assert state["phase"] == "train" and 0 < state["network"]["now"]
    train({}, tmp_path / "cut", resume=True, progress=False, make_plots=False)
    w_whole, s_whole = weights_of(tmp_path / "whole")
    w_cut, s_cut = weights_of(tmp_path / "cut")
    for name in w_whole:
        assert np.array_equal(w_whole[name], w_cut[name]), name
    assert s_whole["network"]["now"] == s_cut["network"]["now"]
    for key, value in s_whole["readout"].items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, s_cut["readout"][key]), key
    assert json.loads((tmp_path / "whole" / "eval.json").read_text())["accuracy"] == \
        json.loads((tmp_path / "cut" / "eval.json").read_text())["accuracy"]


def test_an_existing_run_is_never_overwritten(tmp_path):
    cfg = build_config(**TINY)
    train(cfg, tmp_path / "run", progress=False, make_plots=False)
    with pytest.raises(FileExistsError, match="--resume"):
        train(cfg, tmp_path / "run", progress=False, make_plots=False)


def test_eval_reproduces_the_validation_figure(tmp_path, capsys):
    summary = train(build_config(**TINY), tmp_path / "run", progress=False, make_plots=False)
    assert main(["eval", str(tmp_path / "run"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["samples"] == summary["validation"]["samples"]
    assert report["accuracy"] == summary["validation"]["accuracy"]


def test_eval_of_a_checkpoint_from_another_network_fails_clearly(tmp_path, capsys):
    train(build_config(**TINY), tmp_path / "run", progress=False, make_plots=False)
    cfg_path = tmp_path / "run" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["network"]["net"] = "16x16x2-6C5-P2-32"
    cfg["network"]["layers"] = {"conv1": cfg["network"]["layers"]["conv1"], "fc1": cfg["network"]["layers"]["fc1"]}
    cfg_path.write_text(json.dumps(cfg))
    assert main(["eval", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "16x16x2-8C5-P2-32" in err and "16x16x2-6C5-P2-32" in err


def test_mismatched_sensor_is_refused_with_advice(tmp_path, capsys):
    assert main(["train", "--net", "nmnist", "--data", "synthetic:10", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "expects 34x34x2" in capsys.readouterr().err


def test_cli_train_on_the_synthetic_default(tmp_path, capsys):
    assert main(["train", "--data", "synthetic:60", "--out", str(tmp_path / "r"), "--quiet", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["validation"]["samples"] == 12
    assert any(p.endswith(".png") for p in summary["plots"])


@pytest.mark.data
def test_cli_train_and_eval_on_real_nmnist_recordings(tmp_path, capsys):
    root = streams.data_root()
    if root is None or not (root / "nmnist" / "Train").is_dir():
        pytest.skip("N-MNIST data folder absent (set STDPNET_DATA)")
    out = tmp_path / "nm"
    assert main(["train", "--net", "nmnist", "--data", f"nmnist:{root / 'nmnist' / 'Train'}", "--max-train", "12",
                 "--max-val", "6", "--out", str(out), "--quiet", "--no-plots", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["train_samples"] == 12 and summary["validation"]["samples"] == 6
    assert summary["train"]["spikes_per_sample"]["fc1"]["inference"] > 0
    assert main(["eval", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 6
