"""Engine: streaming over chunks, reproducibility, exact resume, checkpoints, bad input (SPEC 1, 5)."""
import numpy as np
import pytest

from stdpnet import CheckpointError, Network, ParameterError, SpecError, checkpoint
from streams.events import make_events
from streams.ticks import TickChunk

from .conftest import chunk_of, feed

SMALL = "16x16x2-4C5-P2-8C3-10"
SMALL_LAYERS = {"conv1": {"theta_learn": 3.0, "stdp": {"alpha_minus": -0.01}},
                "conv2": {"theta_learn": 4.0, "stdp": {"alpha_minus": -0.01}},
                "fc1": {"theta_learn": 6.0, "stdp": {"alpha_minus": -0.01}}}


def random_chunks(n_chunks, ticks_per_chunk=50, events_per_tick=6, seed=0, start=0):
    rng = np.random.default_rng(seed)
    tick = start
    for _ in range(n_chunks):
        ticks = [[(int(rng.integers(16)), int(rng.integers(16)), int(rng.integers(2)))
                  for _ in range(int(rng.poisson(events_per_tick)))] for _ in range(ticks_per_chunk)]
        yield chunk_of(ticks, start_tick=tick)
        tick += ticks_per_chunk


def run_all(net, chunks):
    spikes = [net.run(c) for c in chunks]
    return np.concatenate([np.stack([r.top_ticks, r.top_neurons], 1) for r in spikes])


def weights(net):
    return [l.w.copy() for l in net.learning_layers]


def test_same_seed_same_result_bit_for_bit():
    a = Network.from_spec(SMALL, layers=SMALL_LAYERS, seed=7)
    b = Network.from_spec(SMALL, layers=SMALL_LAYERS, seed=7)
    sa, sb = run_all(a, random_chunks(6)), run_all(b, random_chunks(6))
    assert np.array_equal(sa, sb) and len(sa) > 0
    for wa, wb in zip(weights(a), weights(b)):
        assert np.array_equal(wa, wb)
    c = Network.from_spec(SMALL, layers=SMALL_LAYERS, seed=8)
    run_all(c, random_chunks(6))
    assert not np.array_equal(weights(a)[0], weights(c)[0])


def test_interrupted_saved_and_resumed_run_is_bit_identical(tmp_path):
    chunks = list(random_chunks(8))
    whole = Network.from_spec(SMALL, layers=SMALL_LAYERS, seed=3)
    spikes_whole = run_all(whole, chunks)

    first = Network.from_spec(SMALL, layers=SMALL_LAYERS, seed=3)
    spikes_a = run_all(first, chunks[:3])
    path = checkpoint.save(tmp_path / "ckpt.npz", first.state_dict())
    resumed = Network.from_spec(SMALL, layers=SMALL_LAYERS, seed=99)  # seed is overwritten by the state
    resumed.load_state_dict(checkpoint.load(path))
    spikes_b = run_all(resumed, chunks[3:])
    assert np.array_equal(np.concatenate([spikes_a, spikes_b]), spikes_whole)
    for wa, wb in zip(weights(whole), weights(resumed)):
        assert np.array_equal(wa, wb)
    for la, lb in zip(whole.learning_layers, resumed.learning_layers):
        for key, value in la.state_dict().items():
            assert np.array_equal(value, lb.state_dict()[key]), key
    assert np.array_equal(whole.counters, resumed.counters)


def test_checkpoint_from_another_network_is_refused(tmp_path):
    a = Network.from_spec(SMALL, layers=SMALL_LAYERS)
    path = checkpoint.save(tmp_path / "a.npz", a.state_dict())
    other = Network.from_spec("16x16x2-6C5-P2-8C3-10")
    with pytest.raises(CheckpointError, match="16x16x2-4C5-P2-8C3-10"):
        other.load_state_dict(checkpoint.load(path))


def test_truncated_checkpoint_gives_a_clear_error(tmp_path):
    a = Network.from_spec(SMALL, layers=SMALL_LAYERS)
    path = checkpoint.save(tmp_path / "a.npz", a.state_dict())
    data = path.read_bytes()
    bad = tmp_path / "bad.npz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="bad.npz"):
        checkpoint.load(bad)


def test_learning_switch_per_layer_at_run_time():
    net = Network.from_spec(SMALL, layers=SMALL_LAYERS, seed=1)
    net.set_learning(False, layers=["conv1"])
    w_conv1 = net.layer("conv1").w.copy()
    run_all(net, random_chunks(3))
    assert np.array_equal(net.layer("conv1").w, w_conv1)
    assert net.counters[0, 0] == 0 and net.counters[0, 1] > 0
    assert net.counters[1, 0] > 0  # conv2 still learns


def test_time_cannot_go_backwards():
    net = Network.from_spec(SMALL, layers=SMALL_LAYERS)
    chunk = next(random_chunks(1))
    net.run(chunk)
    with pytest.raises(ValueError, match="backwards"):
        net.run(chunk)


def test_events_outside_the_input_are_refused_with_a_hint():
    net = Network.from_spec(SMALL, layers=SMALL_LAYERS)
    with pytest.raises(ValueError, match="outside this network's input 16x16x2"):
        feed(net, [[(16, 0, 0)]])


def test_silent_gaps_between_chunks_change_nothing():
    """Non-leaky neurons: a stream with silent ticks inserted gives the same spikes, shifted."""
    a = Network.from_spec(SMALL, layers=SMALL_LAYERS, seed=2)
    b = Network.from_spec(SMALL, layers=SMALL_LAYERS, seed=2)
    chunks = list(random_chunks(4))
    sa = run_all(a, chunks)
    shifted = []
    for i, c in enumerate(chunks):
        shift = 1000 * (i + 1)
        shifted.append(TickChunk(c.start_tick + shift, c.dt_us, c.events, c.offsets, c.sample, c.label))
    sb = run_all(b, shifted)
    assert np.array_equal(sa[:, 1], sb[:, 1])
    for wa, wb in zip(weights(a), weights(b)):
        assert np.array_equal(wa, wb)


def test_step_advances_one_tick():
    net = Network.from_spec(SMALL, layers=SMALL_LAYERS)
    ev = make_events([1, 2], [3, 4], [0, 0], [0, 1])
    net.step(ev)
    net.step(ev[:0])
    assert net.now == 2 and net.counters[0, 2] > 0


@pytest.mark.parametrize("layers,match", [
    ({"conv1": {"theta_learn": -1.0}}, "theta_learn"),
    ({"conv1": {"theta_learn": float("nan")}}, "theta_learn"),
    ({"conv1": {"stdp": {"alpha_minus": float("nan")}}}, "alpha_minus"),
    ({"conv1": {"init_std": -0.1}}, "init_std"),
    ({"conv1": {"r_learn": -3}}, "r_learn"),
    ({"conv1": {"tau": 3}}, "unknown layer parameter"),
    ({"conv9": {"theta_learn": 3}}, "unknown layer"),
])
def test_bad_parameters_give_clear_errors(layers, match):
    with pytest.raises((ParameterError, SpecError), match=match):
        Network.from_spec(SMALL, layers=layers)


@pytest.mark.parametrize("spec,match", [
    ("8x8x1-4C9", "larger than its 8x8 input"),
    ("34x34x2-16C5-P2-128C5-P2-P2-P2-32C5", "larger than"),
    ("34x34-16C5", "WxHxC"),
    ("34x34x2-16X5", "not 'nCk'"),
    ("34x34x2-P2", "no learning layer"),
    ("34x34x2-16C5-P2", "cannot end with pooling"),
    ("nmnst", "known presets"),
])
def test_bad_spec_strings_give_clear_errors(spec, match):
    with pytest.raises(SpecError, match=match):
        Network.from_spec(spec)


def test_wrong_dt_chunk_is_refused():
    net = Network.from_spec(SMALL, layers=SMALL_LAYERS)
    chunk = chunk_of([[]], dt_us=500)
    with pytest.raises(ParameterError, match="dt_us"):
        net.run(chunk)


def _rss_bytes():
    import os

    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_memory_stays_flat_over_a_long_stream():
    """Resident memory (numba's allocations included) and Python's traced memory hold no more
    after 1,000 samples than after 200."""
    import tracemalloc

    import streams

    net = Network.from_spec("synthetic", seed=0)
    chunks = streams.tick_chunks(streams.LabelledStream(streams.SyntheticBars(n_samples=1000, seed=0)), dt_us=1000)
    tracemalloc.start()
    try:
        for i, chunk in enumerate(chunks):
            net.run(chunk)
            if i == 199:
                rss_200, python_200 = _rss_bytes(), tracemalloc.get_traced_memory()[0]
        rss_1000, python_1000 = _rss_bytes(), tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert rss_1000 < rss_200 + 2 * 2**20
    assert python_1000 < python_200 + 256 * 1024


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_soak_ten_million_real_events_with_flat_memory():
    """More than 10^7 real N-MNIST events (4 passes over the 800 recordings), all layers learning,
    with the readout: resident memory after the last pass is within a few MiB of after the first."""
    import streams
    from stdpnet.readouts import make_readout

    root = streams.data_root()
    if root is None or not (root / "nmnist" / "Train").is_dir():
        pytest.skip("N-MNIST folder not found (set STDPNET_DATA)")
    data = streams.NMNISTFolder(root / "nmnist" / "Train")
    net = Network.from_spec("nmnist", seed=0)
    readout = make_readout("classifier", net, 10)
    stream = streams.LabelledStream(data, epochs=4, shuffle=True, seed=0)
    events = 0
    rss_first = None
    for i, chunk in enumerate(streams.tick_chunks(stream, dt_us=net.dt_us)):
        readout.process(net.run(chunk), chunk, net, True)
        events += len(chunk.events)
        if i == len(data) - 1:
            rss_first = _rss_bytes()
    assert events >= 10_000_000
    assert _rss_bytes() < rss_first + 8 * 2**20
