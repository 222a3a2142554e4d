"""The kernels' fast paths, each against a hand-computed expectation or the plain definition it
replaces: contiguous delivery through mirrored weights with threshold marks, the tie test, the
sort-free greedy choice, per-position maxima, profiling that changes nothing, the cache guard."""
import numpy as np
import pytest

import stdpnet.kernels.cache as kcache
from stdpnet import kernels as K
from stdpnet.kernels.delivery import MAYBE_INFER, MAYBE_LEARN, TOUCHED, deliver, sync_mirror
from stdpnet.kernels.ordering import has_equal_values
from stdpnet.kernels.tick import _position_maxima, _take_best
from stdpnet.layers import ConvWTA, LayerParams
from stdpnet.network import Network


def _conv(theta=100.0, n_maps=2, k=3, shape=(1, 5, 5)):
    layer = ConvWTA(shape, n_maps, k, LayerParams(theta_learn=theta), np.random.default_rng(0), name="c")
    w = np.arange(1, layer.state.w.size + 1, dtype=float) / 100  # every weight different
    layer.state.w[:] = w
    const = layer.const(1000)
    sync_mirror(const, layer.state, layer.scratch)
    return layer, const


def _spikes(*cyx):
    a = np.array(cyx, np.int64).reshape(-1, 3)
    return a[:, 0].copy(), a[:, 1].copy(), a[:, 2].copy(), len(a)


def test_sync_mirror_reverses_kx():
    layer, const = _conv()
    w = layer.state.w.reshape(1, 3, 3, 2)
    wm = layer.scratch.w_mirror.reshape(1, 3, 3, 2)
    assert np.array_equal(wm[0, 1, 0], w[0, 1, 2]) and np.array_equal(wm[0, 2, 2], w[0, 2, 0])
    assert np.array_equal(wm, w[:, :, ::-1, :])


def test_centre_spike_adds_each_kernel_weight_to_its_neuron():
    # input (y, x) = (2, 2) reaches output (oy, ox) through kernel position (2 - oy, 2 - ox)
    layer, const = _conv()
    n_touched, synops = deliver(const, layer.state, layer.scratch, 7, *_spikes((0, 2, 2)))
    w = layer.state.w.reshape(3, 3, 2)
    v = layer.state.v_learn.reshape(3, 3, 2)  # hwf
    for oy in range(3):
        for ox in range(3):
            assert np.array_equal(v[oy, ox], w[2 - oy, 2 - ox])
    assert np.array_equal(layer.state.v_infer, layer.state.v_learn)
    assert synops == 9 * 2 and n_touched == 9
    assert layer.state.t_pre[2 * 5 + 2] == 7
    # first-touch order: ky ascending, then kx ascending (ox descending)
    assert list(layer.scratch.touched[:9]) == [8, 7, 6, 5, 4, 3, 2, 1, 0]


def test_corner_spike_reaches_one_position():
    layer, const = _conv()
    n_touched, synops = deliver(const, layer.state, layer.scratch, 0, *_spikes((0, 0, 0)))
    assert n_touched == 1 and synops == 2
    assert np.array_equal(layer.state.v_learn[:2], layer.state.w[:2])  # kernel position (0, 0)
    assert not layer.state.v_learn[2:].any()


def test_marks_name_the_accumulator_that_reached_its_threshold():
    w00 = 0.01  # weight of kernel position (0, 0), map 0
    layer, const = _conv()
    layer.state.v_infer[0] = 100.0 - w00  # neuron (0, 0, map 0): its next add reaches theta_infer
    deliver(const, layer.state, layer.scratch, 0, *_spikes((0, 0, 0)))
    assert layer.scratch.touched_mark[0] == TOUCHED | MAYBE_INFER
    layer.scratch.touched_mark[:] = 0
    layer.state.v_learn[1] = 99.99  # map 1 at position (0, 0): its V_learn now crosses
    deliver(const, layer.state, layer.scratch, 1, *_spikes((0, 0, 0)))
    assert layer.scratch.touched_mark[0] & MAYBE_LEARN
    layer.scratch.touched_mark[:] = 0
    deliver(const, layer.state, layer.scratch, 2, *_spikes((0, 4, 4)))  # far from any threshold
    assert layer.scratch.touched_mark[2 * 3 + 2] == TOUCHED


def test_learning_keeps_the_mirror_in_step():
    layer, const = _conv()
    layer.state.t_pre[:] = 3
    K.learn_on_winner(const, layer.state, layer.scratch.w_mirror, 4 * 2 + 1, 5, -1)  # centre, map 1
    kept = layer.scratch.w_mirror.copy()
    sync_mirror(const, layer.state, layer.scratch)
    assert np.array_equal(kept, layer.scratch.w_mirror)


def test_overlapping_adds_mark_every_touched_position_and_sum_by_hand():
    # 3x3 output, 9 positions: 2 spikes reach 9 + 9 positions (>= 2 per position on average), so
    # delivery adds without comparing and leaves every touched position to the scan; a lone corner
    # spike (1 position < 2 x 9) still compares, and marks nothing far from threshold
    layer, const = _conv()
    w = layer.state.w.reshape(3, 3, 2)
    deliver(const, layer.state, layer.scratch, 0, *_spikes((0, 2, 2), (0, 2, 2)))
    v = layer.state.v_learn.reshape(3, 3, 2)
    for oy in range(3):
        for ox in range(3):
            assert np.array_equal(v[oy, ox], w[2 - oy, 2 - ox] + w[2 - oy, 2 - ox])
    assert all(layer.scratch.touched_mark[p] == TOUCHED | MAYBE_LEARN | MAYBE_INFER for p in range(9))
    layer.scratch.touched_mark[:] = 0
    deliver(const, layer.state, layer.scratch, 1, *_spikes((0, 0, 0)))
    assert layer.scratch.touched_mark[0] == TOUCHED


@pytest.mark.parametrize("precision", [np.float64, np.float32])
def test_every_position_at_threshold_is_marked_with_or_without_comparisons(precision):
    # what the scan relies on, on both paths (few spikes: compare every add; many: mark all
    # touched): a touched position holding a neuron at or above a threshold carries that bit, and
    # the potentials are the input sums in input order (numpy's sequential float adds)
    rng = np.random.default_rng(4)
    for trial in range(60):
        layer = ConvWTA((2, 9, 9), 3, 3, LayerParams(theta_learn=1.5, theta_infer=2.5), rng, name="c",
                        dtype=precision)
        const = layer.const(1000)
        sync_mirror(const, layer.state, layer.scratch)
        v0 = (rng.random(layer.state.v_learn.size) * 2).astype(precision)
        layer.state.v_learn[:] = v0
        layer.state.v_infer[:] = v0
        # 7x7 = 49 positions, 9 per spike: up to 10 spikes compare (n * 9 < 2 * 49), 11 or more do not
        n = int(rng.integers(1, 30))
        c, y, x = rng.integers(0, 2, n), rng.integers(0, 9, n), rng.integers(0, 9, n)
        n_touched, _ = deliver(const, layer.state, layer.scratch, trial, c, y, x, n)
        expected = v0.reshape(7, 7, 3).copy()
        w = layer.state.w.reshape(2, 3, 3, 3)
        for s in range(n):
            for ky in range(3):
                for kx in range(3):
                    oy, ox = y[s] - ky, x[s] - kx
                    if 0 <= oy < 7 and 0 <= ox < 7:
                        expected[oy, ox] = (expected[oy, ox] + w[c[s], ky, kx]).astype(precision)
        assert np.array_equal(layer.state.v_learn, expected.ravel())
        touched = set(layer.scratch.touched[:n_touched].tolist())
        for pos in range(49):
            mark = layer.scratch.touched_mark[pos]
            assert bool(mark & TOUCHED) == (pos in touched)
            if (expected.reshape(49, 3)[pos] >= 1.5).any() and pos in touched:
                assert mark & MAYBE_LEARN, (trial, pos)
            if (expected.reshape(49, 3)[pos] >= 2.5).any() and pos in touched:
                assert mark & MAYBE_INFER, (trial, pos)
        layer.scratch.touched_mark[:] = 0


def test_has_equal_values_by_hand():
    table_v, table_gen, gen = np.zeros(64), np.zeros(64, np.int64), np.zeros(1, np.int64)
    values = np.array([1.5, 2.25, 3.0, 2.25, np.inf, 9.0])
    cand = np.array([0, 1, 2], np.int64)
    assert not has_equal_values(cand, 3, values, table_v, table_gen, gen)
    assert has_equal_values(np.array([0, 1, 3], np.int64), 3, values, table_v, table_gen, gen)
    assert has_equal_values(np.array([0, 4], np.int64), 2, values, table_v, table_gen, gen)  # not finite
    # a new call does not see the slots of the previous one
    assert not has_equal_values(np.array([3, 5], np.int64), 2, values, table_v, table_gen, gen)
    # more candidates than half the table: reported as "maybe", the caller sorts
    assert has_equal_values(np.arange(40, dtype=np.int64), 40, np.arange(40.0), table_v, table_gen, gen)
    # float32 potentials (precision option): hashed on their own 32-bit patterns
    v32 = np.array([1.5, 2.25, 3.0, 2.25, 0.1, 0.1000000089], np.float32)  # the last two: distinct float32
    assert not has_equal_values(np.array([0, 1, 2, 4, 5], np.int64), 5, v32, table_v, table_gen, gen)
    assert has_equal_values(np.array([2, 1, 3], np.int64), 3, v32, table_v, table_gen, gen)


def test_has_equal_values_agrees_with_a_set():
    rng = np.random.default_rng(1)
    table_v, table_gen, gen = np.zeros(4096), np.zeros(4096, np.int64), np.zeros(1, np.int64)
    for _ in range(300):
        n = int(rng.integers(1, 500))
        values = np.round(rng.random(2000) * rng.choice([20, 1e6]), 3) + 1
        cand = rng.choice(2000, n, replace=False).astype(np.int64)
        expected = len(set(values[cand])) < n
        assert has_equal_values(cand, n, values, table_v, table_gen, gen) == expected


def test_take_best_by_hand():
    values = np.array([5.0, 9.0, 0.5, 7.0, 6.0])
    cand = np.array([0, 1, 2, 3], np.int64)
    i, m = _take_best(cand, 4, values, 1.0)
    assert i == 1 and m == 2 and sorted(cand[:m]) == [0, 3]  # 2 is below threshold: dropped
    values[3] = 0.0  # inhibited by the winner
    i, m = _take_best(cand, m, values, 1.0)
    assert i == 0 and m == 0
    assert _take_best(cand, 0, values, 1.0) == (-1, 0)


def _greedy_by_sorting(cand, values, theta, inhibit):
    values = values.copy()
    order = K.order_by_potential(cand.copy(), len(cand), values, np.array([1], np.uint64))
    out = []
    for i in order:
        if values[i] >= theta:
            out.append(int(i))
            inhibit(values, i)
    return out


def _greedy_by_take_best(cand, values, theta, inhibit):
    values, cand = values.copy(), cand.copy()
    out, m = [], len(cand)
    while True:
        i, m = _take_best(cand, m, values, theta)
        if i < 0:
            return out
        out.append(int(i))
        inhibit(values, i)


@pytest.mark.parametrize("group", [1, 3, 8])
def test_take_best_accepts_what_sorting_accepts(group):
    def inhibit(values, i):  # a winner silences every other neuron of its group (and resets itself)
        g = i // group
        values[g * group:(g + 1) * group] = 0.0

    rng = np.random.default_rng(group)
    for _ in range(200):
        values = rng.random(64) * 2  # distinct (with probability 1)
        cand = np.flatnonzero(values >= 1.0).astype(np.int64)
        assert _greedy_by_take_best(cand, values, 1.0, inhibit) == _greedy_by_sorting(cand, values, 1.0, inhibit)


def test_position_maxima_by_hand():
    n_maps = 4
    values = np.zeros(16)
    values[[0, 2, 5, 6, 7, 13]] = [3.0, 4.0, 9.0, 1.0, 9.5, 2.0]
    cand = np.array([0, 2, 5, 6, 7, 13], np.int64)  # positions 0, 0, 1, 1, 1, 3
    m = _position_maxima(cand, 6, n_maps, values)
    assert list(cand[:m]) == [2, 7, 13]


def _synthetic_chunks(n=6):
    import streams
    from stdpnet.sources import open_source

    src = open_source("synthetic", seed=0)
    stream = streams.LabelledStream(src.dataset, indices=np.arange(n))
    return list(streams.tick_chunks(stream, dt_us=1000))


def test_profiling_counts_phases_and_changes_nothing():
    chunks = _synthetic_chunks()
    plain, profiled = Network.from_spec("synthetic", seed=3), Network.from_spec("synthetic", seed=3)
    profiled.enable_profiling()
    for c in chunks:
        a, b = plain.run(c, record=True), profiled.run(c, record=True)
        assert np.array_equal(a.record, b.record)
    for la, lb in zip(plain.learning_layers, profiled.learning_layers):
        for k, v in la.state_dict().items():
            assert np.array_equal(v, lb.state_dict()[k]), k
    cycles = profiled.phase_cycles
    assert cycles.shape == (2, K.N_PHASES) and (cycles >= 0).all()
    assert cycles[:, K.PHASES.index("deliver")].min() > 0 and profiled.kernel_wall_s > 0
    assert plain.phase_cycles is None


def test_bench_profile_reports_every_phase():
    from stdpnet.bench import bench_simulator, format_bench

    r = bench_simulator(net="synthetic", data="synthetic", samples=3, profile=True)
    for pass_name in ("train", "infer"):
        b = r["profile"][pass_name]
        assert set(b["totals"]) == set(K.PHASES) | {"driver", "python"}
        assert abs(sum(b["totals"].values()) - b["wall_s"]) < 0.25 * b["wall_s"] + 0.05
    assert "profile, train pass" in format_bench(r)


def test_cache_guard_drops_stale_kernels(tmp_path, monkeypatch):
    monkeypatch.setattr(kcache, "_cache_dirs", lambda: {tmp_path})
    (tmp_path / "tick.run_ticks-1.py311.nbi").write_text("x")
    (tmp_path / "tick.run_ticks-1.py311.1.nbc").write_text("x")
    (tmp_path / "keep.pyc").write_text("x")
    assert kcache.drop_stale_cache()  # no stamp yet: dropped, stamped
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.pyc", kcache._STAMP]
    (tmp_path / "tick.run_ticks-1.py311.nbi").write_text("x")
    assert not kcache.drop_stale_cache()  # sources unchanged: the cache is kept
    assert (tmp_path / "tick.run_ticks-1.py311.nbi").exists()
    monkeypatch.setattr(kcache, "sources_digest", lambda: "changed")
    assert kcache.drop_stale_cache()
    assert not (tmp_path / "tick.run_ticks-1.py311.nbi").exists()


def test_learning_inhibition_fills_then_restores_the_winner():
    F, H, W = 2, 4, 4
    v = np.full(H * W * F, 5.0)
    t_ref = np.full(H * W * F, -1, np.int64)
    winner = (0 * W + 0) * F + 0  # map 0 at (0, 0), reset by subtraction: a surplus stays
    v[winner], t_ref[winner] = 0.7, 9
    K.inhibit_learning(v, t_ref, winner, 9, F, H, W, 1)
    v3, t3 = v.reshape(H, W, F), t_ref.reshape(H, W, F)
    assert v3[0, 0, 0] == 0.7 and t3[0, 0, 0] == 9  # the winner keeps its own values
    assert not v3[:, :, 0].ravel()[1:].any() and (t3[:, :, 0].ravel()[1:] == 9).all()  # whole map 0
    assert not v3[:2, :2, 1].any() and (t3[:2, :2, 1] == 9).all()  # map 1 within radius 1
    assert v3[2:, :, 1].min() == 5.0 and v3[:, 2:, 1].min() == 5.0  # map 1 outside it
    assert (t3[2:, :, 1] == -1).all()


@pytest.mark.parametrize("radius", [0, 1])
def test_inference_inhibition_spares_the_winner_and_its_map(radius):
    F, H, W = 3, 3, 3
    v = np.full(H * W * F, 5.0)
    winner = (1 * W + 1) * F + 2  # map 2 at the centre
    v[winner] = 0.25
    K.inhibit_inference(v, winner, F, H, W, radius)
    v3 = v.reshape(H, W, F)
    assert v3[1, 1, 2] == 0.25
    lo, hi = 1 - radius, 2 + radius
    assert not v3[lo:hi, lo:hi, :2].any()  # other maps within the window
    assert (v3[:, :, 2].ravel()[np.arange(9) != 4] == 5.0).all()  # the winner's map elsewhere
    if radius == 0:
        assert (v3[0, :, :2] == 5.0).all()
