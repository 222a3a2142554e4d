"""``Network.threads = 2``: the first layer on a second thread, a block of ticks ahead; the same
results bit for bit."""
import numpy as np
import pytest

import stdpnet.network as network_module
from stdpnet import CheckpointError, Network, ParameterError, checkpoint

from .conftest import chunk_of

LAYERS = {"conv1": {"theta_learn": 3.0, "r_learn": 1, "stdp": {"alpha_minus": -0.01}},
          "conv2": {"theta_learn": 4.0, "stdp": {"alpha_minus": -0.01}},
          "fc1": {"theta_learn": 5.0, "r_infer": 0, "stdp": {"alpha_minus": -0.01}}}


def chunks(seed=0, n_chunks=4, ticks=45, per_tick=9):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_chunks):
        evs = [[(int(rng.integers(16)), int(rng.integers(16)), int(rng.integers(2)))
                for _ in range(int(rng.poisson(per_tick)))] for _ in range(ticks)]
        evs[7] = []  # a silent tick inside a block
        out.append(chunk_of(evs, start_tick=k * (ticks + 5)))  # and silent gaps between chunks
    return out


def run(threads, precision, data, learning_off_at=None):
    net = Network.from_spec("16x16x2-4C5-P2-8C3-10", layers=LAYERS, seed=3, precision=precision)
    net.threads = threads
    recs, tops = [], []
    for i, c in enumerate(data):
        if i == learning_off_at:
            net.set_learning(False)
        r = net.run(c, record=True)
        recs.append(r.record)
        tops.append(np.stack([r.top_ticks, r.top_neurons], 1))
    return net, np.concatenate(recs), np.concatenate(tops)


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("block", [1, 5, 32])
def test_two_threads_give_the_same_spikes_weights_and_state(monkeypatch, precision, block):
    monkeypatch.setattr(network_module, "PIPELINE_TICKS", block)
    data = chunks()
    one, rec1, top1 = run(1, precision, data, learning_off_at=3)
    two, rec2, top2 = run(2, precision, data, learning_off_at=3)
    assert len(rec1) > 200 and len(top1) > 5 and set(rec1[:, 1]) == {0, 1, 2}
    assert np.array_equal(rec1, rec2)  # every spike of every layer, in the same order
    assert np.array_equal(top1, top2)
    for a, b in zip(one.learning_layers, two.learning_layers):
        for key, value in a.state_dict().items():
            assert np.array_equal(value, b.state_dict()[key]), (a.name, key)
    assert np.array_equal(one.rng_state, two.rng_state) and np.array_equal(one.counters, two.counters)


def test_two_threads_with_buffers_filling_mid_block(monkeypatch):
    # a first-stage buffer of two ticks and a top buffer of one: both stages stop early and
    # resume within a block, and nothing changes
    from stdpnet import kernels as K
    monkeypatch.setattr(network_module, "PIPELINE_TICKS", 16)
    monkeypatch.setattr(network_module, "PIPELINE_SPARE_ROWS", 0)
    data = chunks(seed=1, per_tick=30)
    _, rec1, top1 = run(1, "float64", data)
    calls = {0: 0, 1: 0}
    real = K.run_stage_plain

    def counting(l_lo, *args):
        calls[min(l_lo, 1)] += 1
        return real(l_lo, *args)

    monkeypatch.setattr(K, "run_stage_plain", counting)
    net = Network.from_spec("16x16x2-4C5-P2-8C3-10", layers=LAYERS, seed=3)
    net.threads = 2
    net._top_buf = np.zeros((net.top.n_neurons, 2), np.int64)  # room for one tick of top spikes
    recs, tops = [], []
    for c in data:
        r = net.run(c, record=True)
        recs.append(r.record)
        tops.append(np.stack([r.top_ticks, r.top_neurons], 1))
    assert np.array_equal(np.concatenate(recs), rec1) and np.array_equal(np.concatenate(tops), top1)
    blocks = sum(-(-c.n_ticks // 16) for c in data)
    assert calls[0] > blocks and calls[1] > calls[0]  # early stops happened in both stages


def test_threads_setting_is_checked_and_one_layer_runs_serially():
    net = Network.from_spec("synthetic")
    for bad in (0, 3, 1.5, True, "2"):
        with pytest.raises(ParameterError, match="threads must be 1 or 2"):
            net.threads = bad
    single = Network.from_spec("8x8x2-3", seed=1)
    single.threads = 2
    data = [chunk_of([[(1, 2, 0), (3, 3, 1)]] * 20)]
    ref = Network.from_spec("8x8x2-3", seed=1)
    assert np.array_equal(single.run(data[0], record=True).record, ref.run(data[0], record=True).record)


def test_each_layer_has_its_own_tie_stream_and_old_checkpoints_are_refused(tmp_path):
    net = Network.from_spec("16x16x2-4C5-P2-8C3-10", layers=LAYERS, seed=3)
    assert net.rng_state.shape == (3,) and len(set(net.rng_state.tolist())) == 3
    state = net.state_dict()
    state["rng_state"] = state["rng_state"][:1]  # the layout written before 2026-11-30
    with pytest.raises(CheckpointError, match="one tie-break stream for the whole network"):
        Network.from_spec("16x16x2-4C5-P2-8C3-10", layers=LAYERS, seed=3).load_state_dict(state)
    # a two-thread run checkpoints and resumes like any other
    data = chunks(seed=2)
    whole, rec_whole, _ = run(2, "float32", data)
    first = Network.from_spec("16x16x2-4C5-P2-8C3-10", layers=LAYERS, seed=3, precision="float32")
    first.threads = 2
    part = [first.run(c, record=True).record for c in data[:2]]
    path = checkpoint.save(tmp_path / "c.npz", first.state_dict())
    resumed = Network.from_spec("16x16x2-4C5-P2-8C3-10", layers=LAYERS, seed=9, precision="float32")
    resumed.load_state_dict(checkpoint.load(path))
    part += [resumed.run(c, record=True).record for c in data[2:]]
    assert np.array_equal(np.concatenate(part), rec_whole)
