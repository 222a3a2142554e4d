"""Continual protocol: evaluation leaves the learner bit-identical, task boundaries are exact to the
tick, metrics and the JSON shape come out of a real (small) run."""
import numpy as np
import pytest

import streams
from stdpnet.experiment.continual import Learner, evaluate_frozen, run_continual_stdp, split_chunk
from stdpnet.network import Network
from stdpnet.readouts import make_readout
from stdpnet.spec import resolve_config


def _cfg():
    c = resolve_config("synthetic")
    return {k: c[k] for k in ("net", "dt_us", "layers")}


def _states_equal(a, b):
    for name in a["layers"]:
        for k, v in a["layers"][name].items():
            np.testing.assert_array_equal(v, b["layers"][name][k], err_msg=f"{name}.{k}")
    assert a["now"] == b["now"]
    np.testing.assert_array_equal(a["rng_state"], b["rng_state"])
    np.testing.assert_array_equal(a["counters"], b["counters"])


def test_evaluation_leaves_the_learner_bit_identical_and_the_stream_resumes_exactly():
    data = streams.SyntheticBars(n_samples=40, seed=1)
    test = streams.SyntheticBars(n_samples=8, seed=2)
    runs = []
    for evaluate_midway in (False, True):
        net = Network.from_config({**_cfg(), "seed": 3})
        learner = Learner(net, {"classifier": make_readout("classifier", net, 4), "count": make_readout("count", net, 4)})
        chunks = list(streams.tick_chunks(streams.LabelledStream(data, indices=np.arange(20))))
        end = chunks[-1].start_tick + chunks[-1].n_ticks
        chunks2 = streams.tick_chunks(streams.LabelledStream(data, indices=np.arange(20, 40), start_us=end * 1000),
                                      start_tick=end)
        for ch in chunks:
            learner.feed(ch, True)
        if evaluate_midway:
            before = net.state_dict()
            acc = evaluate_frozen(learner, [test], probe_fit=test)
            assert set(acc) == {"classifier", "count", "probe"}
            _states_equal(before, learner.network.state_dict())
        for ch in chunks2:
            learner.feed(ch, True)
        runs.append((learner.network.state_dict(), learner.readouts["classifier"].state_dict()))
    _states_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1]["w"], runs[1][1]["w"])


def test_split_chunk_cuts_at_a_tick_and_keeps_everything():
    data = streams.SyntheticBars(n_samples=2, seed=0)
    chunk = next(iter(streams.tick_chunks(streams.LabelledStream(data), min_ticks=10_000)))
    i = chunk.n_ticks // 2
    a, b = split_chunk(chunk, i)
    assert a.n_ticks == i and b.start_tick == chunk.start_tick + i and a.n_ticks + b.n_ticks == chunk.n_ticks
    assert len(a.events) + len(b.events) == len(chunk.events)
    np.testing.assert_array_equal(np.concatenate([a.sample, b.sample]), chunk.sample)
    assert (a.events["t"] < b.start_tick * chunk.dt_us).all() and (b.events["t"] >= b.start_tick * chunk.dt_us).all()


def test_a_small_split_protocol_runs_and_reports_every_method():
    data = streams.SyntheticBars(n_samples=200, seed=0)
    r = run_continual_stdp(data, "split:2x2", _cfg(), seed=0, probe_every=40, probe_per_task=5, probe_fit_per_task=20)
    out = r.method_dicts()
    assert set(out) == {"classifier", "count", "probe"}
    for m in out.values():
        R = np.array(m["accuracy_matrix"], float)
        assert R.shape == (2, 2) and np.isfinite(R).all()
        assert m["acc"] == pytest.approx(R[-1].mean())
        assert m["bwt"] == pytest.approx(R[1, 0] - R[0, 0])
        assert m["forgetting"][0] == pytest.approx(R[0, 0] - R[1, 0])
        assert 0 <= m["joint_acc"] <= 1
    assert r.curve["task_starts"][0] == 0 and len(r.curve["samples"]) == len(r.curve["accuracy"]) > 0
    again = run_continual_stdp(data, "split:2x2", _cfg(), seed=0, probe_every=40, probe_per_task=5, probe_fit_per_task=20)
    assert again.method_dicts() == out  # same seed, same table


def test_cli_continual_json_contract(tmp_path, capsys):
    import json

    from stdpnet.cli import main

    assert main(["continual", "--protocol", "split:2x2", "--data", "synthetic:160", "--seeds", "1",
                 "--out", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["protocol"] == "split:2x2" and len(out["tasks"]) == 2
    for name in ("stdp/classifier", "stdp/count", "stdp/linear-probe"):
        m = out["methods"][name]
        assert np.array(m["accuracy_matrix"], float).shape == (2, 2)
        for key in ("acc", "bwt", "fwt", "forgetting", "joint_acc"):
            assert key in m
    for f in ("results.json", "results.csv", "accuracy_matrices.png", "acc_bwt.png"):
        assert (tmp_path / f).exists()
    assert main(["continual", "--protocol", "split:2x2", "--data", "synthetic:160", "--methods", "svm"]) == 2
