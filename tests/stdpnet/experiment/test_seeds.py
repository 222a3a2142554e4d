"""Several seeds, one command: seed-<s> run directories, mean +- std, the same on any number of workers."""
import csv
import json

import numpy as np
import pytest

from stdpnet.errors import ConfigError, RunDirError
from stdpnet.experiment.config import build_config
from stdpnet.experiment.protocol import train
from stdpnet.experiment.seeds import (is_seeds_dir, mean_std, parse_seeds, resume_seeds, seed_list, seeds_lines,
                                      train_seeds)

from .conftest import assert_same_learning

CFG = dict(net="synthetic", data="synthetic:80", epochs=1)
QUIET = dict(progress=False, make_plots=False)


def test_seed_lists():
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds("3-5, 1, 4") == [3, 4, 5, 1]
    assert seed_list(repeat=3, first=7) == [7, 8, 9]
    assert seed_list() is None
    for bad in ("1,a", "-1", "5-2", ""):
        with pytest.raises(ConfigError, match="--seeds"):
            parse_seeds(bad)
    with pytest.raises(ConfigError, match="one of them"):
        seed_list("0,1", 2)
    with pytest.raises(ConfigError, match="--repeat"):
        seed_list(repeat=0)


def test_mean_and_sample_std_by_hand():
    m = mean_std([0.5, 0.7, None, 0.9])
    assert m["mean"] == pytest.approx(0.7) and m["n"] == 3
    assert m["std"] == pytest.approx(0.2)  # sqrt(((-0.2)^2 + 0 + 0.2^2) / (3 - 1))
    assert mean_std([0.4])["std"] == 0.0 and mean_std([None]) is None


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("seeds") / "serial"
    return out, train_seeds(build_config(**CFG), out, [0, 1, 2], **QUIET)


def test_each_seed_is_the_single_run_of_that_seed(serial, tmp_path):
    out, summary = serial
    assert is_seeds_dir(out) and [r["seed"] for r in summary["runs"]] == [0, 1, 2]
    single = train(build_config(seed=1, **CFG), tmp_path / "one", **QUIET)
    assert_same_learning(out / "seed-1", tmp_path / "one")
    accs = [r["val_accuracy"] for r in summary["runs"]]
    assert summary["runs"][1]["val_accuracy"] == single["validation"]["accuracy"]
    m = summary["metrics"]["val_accuracy"]
    assert m["values"] == accs and m["mean"] == pytest.approx(np.mean(accs))
    assert m["std"] == pytest.approx(np.std(accs, ddof=1))
    assert json.loads((out / "summary.json").read_text())["metrics"]["val_accuracy"] == m
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["seed"]) for r in rows] == [0, 1, 2] and [float(r["val_accuracy"]) for r in rows] == accs
    text = "\n".join(seeds_lines(summary))
    assert f"validation accuracy {m['mean']:.4f} +- {m['std']:.4f}" in text
    assert (out / "run.log").read_text().rstrip().endswith(seeds_lines(summary)[-1])


def test_workers_give_the_serial_results(serial, tmp_path):
    out, summary = serial
    par = train_seeds(build_config(**CFG), tmp_path / "par", [0, 1, 2], workers=2, **QUIET)
    for s in (0, 1, 2):
        assert_same_learning(out / f"seed-{s}", tmp_path / "par" / f"seed-{s}")
    assert par["metrics"]["val_accuracy"] == summary["metrics"]["val_accuracy"]
    assert [r["val_accuracy"] for r in par["runs"]] == [r["val_accuracy"] for r in summary["runs"]]


def test_a_finished_set_is_reused_and_never_overwritten(serial):
    out, summary = serial
    with pytest.raises(RunDirError, match="--resume"):
        train_seeds(build_config(**CFG), out, [0], **QUIET)
    again = resume_seeds(out, **QUIET)  # nothing to do: every seed is finished
    assert again["metrics"]["val_accuracy"] == summary["metrics"]["val_accuracy"]
    assert again["finished"] == 3 and not again["interrupted"]
