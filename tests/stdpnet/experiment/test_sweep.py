"""Sweeps: expansion of grids and random searches, dotted keys, resume, the same trial on every
executor gives the same result."""
import json

import pytest

from stdpnet import ConfigError
from stdpnet.experiment.sweep import SweepSpec, nested, run_sweep

BASE = {"base": "synthetic", "data": "synthetic:120", "seeds": [0, 1], "set": {"training.epochs": 1},
        "grid": {"layers.conv1.stdp.alpha_minus": [-0.002, -0.004]}}


def test_grid_expands_every_combination_times_seeds():
    spec = SweepSpec.from_dict({**BASE, "grid": {"a.b": [1, 2, 3], "c": ["x", "y"]}})
    assert len(spec.configurations()) == 6 and len(spec.trials()) == 12
    ids = {t.id for t in spec.trials()}
    assert len(ids) == 12  # every trial has its own run directory


def test_random_search_is_reproducible_and_in_range():
    raw = {**BASE, "mode": "random", "samples": 5, "sweep_seed": 3,
           "grid": {"lr": {"low": 1e-4, "high": 1e-1, "log": True}, "n": {"low": 2, "high": 9, "int": True}}}
    a, b = SweepSpec.from_dict(raw).configurations(), SweepSpec.from_dict(raw).configurations()
    assert a == b and len(a) == 5
    assert all(1e-4 <= p["lr"] <= 1e-1 and isinstance(p["n"], int) and 2 <= p["n"] <= 9 for p in a)


def test_dotted_keys_nest():
    assert nested({"layers.conv1.theta_learn": 9, "layers.conv1.stdp.alpha_minus": -0.1, "seed": 1}) == \
        {"layers": {"conv1": {"theta_learn": 9, "stdp": {"alpha_minus": -0.1}}}, "seed": 1}


@pytest.mark.parametrize("bad, match", [({"grid": {"x": 3}}, "non-empty list"), ({"seeds": [-1]}, "seeds"),
                                        ({"mode": "bayes"}, "mode"), ({"gird": {}}, "unknown key")])
def test_bad_sweep_files_are_config_errors(bad, match):
    with pytest.raises(ConfigError, match=match):
        SweepSpec.from_dict({**BASE, **bad})


def test_sweep_writes_tables_and_best_and_resumes(tmp_path):
    spec = SweepSpec.from_dict(BASE)
    r = run_sweep(spec, tmp_path, executor="local", workers=1)
    assert r["trials"] == 4 and len(r["summary"]) == 2
    for name in ("results.csv", "summary.csv", "results.json", "best.toml"):
        assert (tmp_path / name).exists()
    best = (tmp_path / "best.toml").read_text()
    assert "alpha_minus" in best and 'net = "synthetic"' in best
    rows = json.loads((tmp_path / "results.json").read_text())["trials"]
    # resume: nothing is run again (the stored results come back unchanged)
    calls = []
    again = run_sweep(spec, tmp_path, executor="local", workers=1, progress=lambda d, n: calls.append(d))
    assert calls == [] and json.loads((tmp_path / "results.json").read_text())["trials"] == rows
    assert again["best"] == r["best"]


@pytest.mark.slow
def test_the_same_trials_give_the_same_results_on_ray(tmp_path):
    pytest.importorskip("ray")
    spec = SweepSpec.from_dict({**BASE, "seeds": [0]})
    local = run_sweep(spec, tmp_path / "local", executor="local", workers=1)
    ray_run = run_sweep(spec, tmp_path / "ray", executor="ray", workers=2)
    assert [s["mean"] for s in local["summary"]] == [s["mean"] for s in ray_run["summary"]]
