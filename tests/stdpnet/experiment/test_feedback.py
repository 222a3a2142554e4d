"""Feedback on long work: bars that reach N/N and name the epoch, run.log, results.csv."""
import csv
import json
import re
import warnings

import numpy as np
import pytest

from stdpnet.errors import SourceError
from stdpnet.experiment.config import build_config
from stdpnet.experiment.protocol import resume, train
from stdpnet.experiment.results import COLUMNS, csv_text, results_row
from stdpnet.experiment.runlog import RunLog, summary_lines

from .conftest import recorded_progress

TINY = dict(net="synthetic", data="synthetic:60", epochs=2, seed=0)


def test_train_bars_reach_n_of_n_name_the_epoch_and_start_after_the_warm_up(tmp_path):
    progress = recorded_progress()
    summary = train(build_config(readout="count", **TINY), tmp_path / "run", progress=progress, make_plots=False)
    by_desc = {b.descs[0]: b for b in progress.bars}
    assert set(by_desc) == {"train epoch 1/2", "label", "eval"}
    tr = by_desc["train epoch 1/2"]
    assert tr.total == 2 * 48 and tr.n == 96 and tr.descs == ["train epoch 1/2", "train epoch 2/2"] and tr.closed
    assert by_desc["label"].n == by_desc["label"].total == 48  # the last sample (closed by flush) is counted
    assert by_desc["eval"].n == by_desc["eval"].total == 12
    assert summary["train"]["samples"] == 96 and summary["compile_s"] > 0
    # the notes a user sees: the run, then each epoch with its running accuracy
    assert progress.notes[0].startswith(f"run {tmp_path / 'run'}: 16x16x2-8C5-P2-32 on synthetic:60")
    epochs = [n for n in progress.notes if n.startswith("epoch ")]
    assert [e.split(":")[0] for e in epochs] == ["epoch 1/2 done", "epoch 2/2 done"]
    assert "48 samples" in epochs[0] and "96 samples" in epochs[1]


def test_a_resumed_bar_starts_where_the_run_stood(tmp_path):
    cfg = build_config(**TINY)
    train(cfg, tmp_path / "run", progress=False, make_plots=False, stop_after_samples=30)
    progress = recorded_progress()
    resume(tmp_path / "run", progress=progress, make_plots=False)
    tr = progress.bars[0]
    assert tr.descs[0] == "train epoch 1/2" and 30 <= tr.initial < 40  # stopped after the chunk reaching 30
    assert tr.n == tr.total == 96
    assert progress.notes[0].startswith("resuming run ")


def test_run_log_holds_the_story_with_timestamps(tmp_path):
    summary = train(build_config(**TINY, checkpoint_every_samples=40), tmp_path / "run", progress=False,
                    make_plots=False)
    lines = (tmp_path / "run" / "run.log").read_text().splitlines()
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  ")
    assert all(stamp.match(line) for line in lines)
    text = [line[21:] for line in lines]
    assert text[0].startswith("run ") and any(t.startswith("kernels ready in ") for t in text)
    assert any(t.startswith("checkpoint saved at training sample ") for t in text)
    assert any(t.startswith("epoch 2/2 done") for t in text)
    # the lines the CLI prints close the log, word for word
    assert text[-len(summary_lines(summary)):] == summary_lines(summary)


def test_run_log_records_warnings_and_errors(tmp_path, bars_folder):
    log = RunLog(tmp_path / "run.log")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with pytest.warns(RuntimeWarning), log.capturing_warnings():
            warnings.warn("overflow in the readout", RuntimeWarning)
    assert "warning: RuntimeWarning: overflow in the readout" in (tmp_path / "run.log").read_text()
    folder = bars_folder(12)
    (folder / "1" / "s0001.npz").write_bytes(b"not an npz")
    with pytest.raises(SourceError):
        train(build_config(net="synthetic", data=str(folder), epochs=1, val_fraction=0.0), tmp_path / "bad",
              progress=False, make_plots=False)
    last = (tmp_path / "bad" / "run.log").read_text().splitlines()[-1]
    assert "  error: " in last and "s0001.npz" in last and "--on-bad skip" in last


def test_results_csv_is_one_flat_row_matching_the_summary(tmp_path):
    summary = train(build_config(test_data="synthetic:10", **TINY), tmp_path / "run", progress=False,
                    make_plots=False)
    with open(tmp_path / "run" / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1
    row = rows[0]
    assert list(row)[:len(COLUMNS)] == list(COLUMNS)
    assert row["run"] == "run" and row["status"] == "done" and row["seed"] == "0" and row["epochs"] == "2"
    assert float(row["val_accuracy"]) == summary["validation"]["accuracy"]
    assert float(row["test_accuracy"]) == summary["test"]["accuracy"]
    t = summary["train"]["spikes_per_sample"]
    assert float(row["train_synops_per_sample"]) == pytest.approx(t["conv1"]["synops"] + t["fc1"]["synops"])
    assert float(row["fc1_inference_spikes"]) == pytest.approx(t["fc1"]["inference"])
    assert float(row["conv1_val_inference_spikes"]) == pytest.approx(
        summary["validation"]["spikes_per_sample"]["conv1"]["inference"])
    assert float(row["compile_s"]) == pytest.approx(summary["compile_s"], abs=1e-3)
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(tmp_path / "run" / "results.csv")
    assert frame.loc[0, "val_accuracy"] == summary["validation"]["accuracy"]


def test_missing_figures_are_empty_cells():
    row = results_row({"run_dir": "/x/r", "network": "n", "data": "d", "readout": None, "epochs": 1, "seed": 3,
                       "train_samples": 5, "val_samples": 0, "validation": None, "interrupted": True})
    text = csv_text([row])
    header, values = text.splitlines()
    cells = dict(zip(header.split(","), values.split(",")))
    assert cells["status"] == "interrupted" and cells["val_accuracy"] == "" and cells["readout"] == ""


def test_the_cli_prints_what_the_log_ends_with(tmp_path, capsys):
    from stdpnet.cli import main

    assert main(["train", "--data", "synthetic:40", "--out", str(tmp_path / "r"), "--no-plots", "--quiet"]) == 0
    out = capsys.readouterr()
    assert out.err == ""  # --quiet: nothing on stderr
    printed = out.out.strip().splitlines()
    logged = [line[21:] for line in (tmp_path / "r" / "run.log").read_text().splitlines()]
    assert logged[-len(printed):] == printed
    assert printed[-2:] == [f"  results: {tmp_path / 'r' / 'results.csv'}", f"  log: {tmp_path / 'r' / 'run.log'}"]
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["compile_s"] >= 0 and np.isfinite(metrics["train"]["events_per_s"])
