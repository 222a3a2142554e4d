"""Evaluation in shards from the trained state, on one or several processes: the same result."""
import numpy as np
import pytest

from stdpnet.errors import ConfigError, RunDirError
from stdpnet.experiment.config import build_config
from stdpnet.experiment.parallel import state_fingerprint
from stdpnet.experiment.protocol import _snapshot, evaluate, evaluate_run, shard_bounds, train
from stdpnet.experiment.run import Run

from .conftest import recorded_progress

CFG = dict(net="synthetic", data="synthetic:150", epochs=1, seed=2, val_fraction=0.4)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("par") / "run"
    summary = train(build_config(readout="classifier", **CFG), out, progress=False, make_plots=False)
    return out, summary


def test_shard_bounds_depend_on_the_samples_only():
    assert shard_bounds(45, 20) == [(0, 20), (20, 40), (40, 45)]
    assert shard_bounds(40, 20) == [(0, 20), (20, 40)]
    assert shard_bounds(7, 0) == [(0, 7)]
    assert shard_bounds(0, 20) == []
    with pytest.raises(ConfigError, match="shard_samples"):
        shard_bounds(10, -1)


def test_each_shard_starts_from_the_trained_state(trained):
    """The report over all samples is the sum of the shards evaluated one by one, and the run's
    state is unchanged afterwards."""
    out, _ = trained
    run = Run.open(out, lock=False)
    try:
        before = state_fingerprint(_snapshot(run))
        idx = run.val_idx
        whole = evaluate(run, idx, shard_samples=20)
        assert state_fingerprint(_snapshot(run)) == before
        parts = [evaluate(run, idx[a:b], shard_samples=0) for a, b in shard_bounds(len(idx), 20)]
        assert whole["samples"] == len(idx) == 60
        assert whole["correct"] == sum(p["correct"] for p in parts)
        assert np.array_equal(np.sum([p["confusion"] for p in parts], axis=0), whole["confusion"])
        assert whole["events"] == sum(p["events"] for p in parts)
        # one long shard carries the state from sample to sample: another (legitimate) definition
        assert evaluate(run, idx, shard_samples=0)["samples"] == 60
    finally:
        run.close()


def test_two_workers_give_exactly_the_serial_result(trained):
    out, summary = trained
    serial = evaluate_run(out)
    progress = recorded_progress()
    parallel = evaluate_run(out, workers=2, progress=progress)
    for key in ("accuracy", "correct", "silent", "samples", "confusion", "events", "spikes_per_sample"):
        assert parallel[key] == serial[key], key
    assert serial["accuracy"] == summary["validation"]["accuracy"]  # the validation at the end of train
    assert parallel["workers"] == 2 and serial["workers"] == 1
    bar = progress.bars[0]
    assert bar.n == bar.total == 60 and bar.closed  # every worker's samples reached the parent's bar
    a, b = evaluate_run(out, data="synthetic:45", workers=2), evaluate_run(out, data="synthetic:45")
    assert a["samples"] == 45 and a["confusion"] == b["confusion"] and a["events"] == b["events"]


def test_workers_refuse_a_state_the_checkpoint_does_not_hold(trained):
    out, _ = trained
    run = Run.open(out, lock=False)
    try:
        run.network.layer("conv1").weights[0, 0, 0, 0] *= 0.5  # changed since the checkpoint
        with pytest.raises(RunDirError, match="checkpoint does not hold the state"):
            evaluate(run, run.val_idx, workers=2)
        with pytest.raises(ConfigError, match="workers"):
            evaluate(run, run.val_idx, workers=0)
    finally:
        run.close()


def test_train_evaluates_on_workers_with_the_same_result(tmp_path, trained):
    _, summary = trained
    again = train(build_config(readout="classifier", **CFG), tmp_path / "again", progress=False, make_plots=False,
                  eval_workers=2)
    assert again["validation"]["confusion"] == summary["validation"]["confusion"]


def test_spawned_workers_reopen_a_run_made_from_a_data_set_object(tmp_path, monkeypatch):
    """Where workers cannot be forked they are spawned: they get the data set object by pickle,
    open the run and restore its checkpoint themselves."""
    import streams
    from stdpnet.experiment import parallel

    bars = streams.SyntheticBars(n_samples=90, seed=4)
    train(build_config(net="synthetic", epochs=1, val_fraction=0.5), tmp_path / "obj", source=bars,
          progress=False, make_plots=False)
    serial = evaluate_run(tmp_path / "obj", source=bars)
    monkeypatch.setattr(parallel, "FAST_START", "spawn")
    spawned = evaluate_run(tmp_path / "obj", source=bars, workers=2)
    assert spawned["samples"] == 45 and spawned["confusion"] == serial["confusion"]
    assert spawned["spikes_per_sample"] == serial["spikes_per_sample"]
