"""The Brian2 twin reproduces stdpnet exactly (spike trains) and to float tolerance (weights,
potentials); and a perturbed twin is caught. Brian2 runs on the numpy target (no compiler)."""
import numpy as np
import pytest

pytest.importorskip("brian2")

from stdpnet import Network  # noqa: E402
from stdpnet.validate.brian2 import (  # noqa: E402
    Brian2Twin, TwinError, canonical_chunk, sort_records, stdpnet_current_state)
from stdpnet.validate.crosscheck import WEIGHT_ATOL, compare  # noqa: E402

from ..conftest import chunk_of, set_weights  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pyparsing, inside Brian2


def random_ticks(rng, n_ticks, net, rate, hot=None):
    """``n_ticks`` ticks of Poisson(rate) random events on the network's sensor (``hot``: a
    sub-window (x0, x1, y0, y1) receiving all of them)."""
    W, H, C = net.sensor_size
    x0, x1, y0, y1 = hot or (0, W, 0, H)
    return [[(int(rng.integers(x0, x1)), int(rng.integers(y0, y1)), int(rng.integers(C)))
             for _ in range(rng.poisson(rate))] for _ in range(n_ticks)]


def run_both(net, ticks, start_tick=None, **twin_kw):
    """Build the twin from the network's current state, run both on ``ticks``; returns
    (comparison dict, stdpnet record, twin result, twin)."""
    start = net.now if start_tick is None else start_tick
    chunk = canonical_chunk(chunk_of(ticks, start_tick=start, dt_us=net.dt_us), net.sensor_size)
    before = [l.w.copy() for l in net.learning_layers]
    twin = Brian2Twin(net, [chunk], target="numpy", **twin_kw)
    rec = net.run(chunk, record=True).record
    res = twin.run()
    return compare(net, rec, twin, res, before), rec, res, twin


def assert_identical(cmp, min_spikes=1, potential_tol=1e-9):
    """Same spikes, equal weights; potentials equal up to ``potential_tol`` (summation order in
    higher layers, and the leak's lazy decay against Brian2's per-step one, move the last bits:
    about 1e-15 in float64, a few float32 ulps, ~1e-6, in float32)."""
    for e in cmp["per_layer"]:
        assert e["first_inference_mismatch"] is None, e
        assert e["first_learning_mismatch"] is None, e
        assert e["inference_spikes"][0] == e["inference_spikes"][1] >= min_spikes, e
        assert e["learning_spikes"][0] == e["learning_spikes"][1] >= min_spikes, e
        assert e["weight_change"] > 0.01, e  # learning really happened
        assert e["max_weight_diff"] <= WEIGHT_ATOL, e
        assert e["max_potential_diff"] <= potential_tol, e
        assert e["t_ref_identical"] and e["t_pre_identical"], e
    assert cmp["identical"] and cmp["decisions_agree"] and cmp["touched_missing"] == 0


def test_dense_wta_layer_with_stdp():
    net = Network.from_spec("5x5x2-8", layers={"fc1": {"theta_learn": 4.0, "stdp": {"alpha_minus": -0.01}}}, seed=3)
    cmp, rec, res, _ = run_both(net, random_ticks(np.random.default_rng(0), 120, net, 6))
    assert_identical(cmp, min_spikes=10)


def test_conv_wta_layer():
    net = Network.from_spec("9x9x2-4C3", layers={"conv1": {"theta_learn": 3.0, "r_learn": 1, "r_infer": 0,
                                                           "stdp": {"alpha_minus": -0.01}}}, seed=1)
    cmp, rec, res, _ = run_both(net, random_ticks(np.random.default_rng(1), 80, net, 8))
    assert_identical(cmp, min_spikes=20)
    c = res.conflicts["conv1"]
    assert c["learning_candidates"] > c["learning_winners"]  # same-tick conflicts were resolved
    assert c["inference_candidates"] > c["inference_spikes"]


def test_two_layers_with_pooling():
    layers = {"conv1": {"theta_learn": 3.0, "r_learn": 1, "stdp": {"alpha_minus": -0.01}},
              "fc1": {"theta_learn": 4.0, "stdp": {"alpha_minus": -0.01}}}
    net = Network.from_spec("12x12x2-4C3-P2-6", layers=layers, seed=2)
    cmp, rec, res, _ = run_both(net, random_ticks(np.random.default_rng(2), 80, net, 10))
    assert_identical(cmp, min_spikes=10)


def test_three_layers_input_pooling_odd_sizes_and_same_pixel_repeats():
    # input pooling, odd sizes (last row/column dropped by P2), three layers sharing the tie RNG,
    # several events of one pixel in one tick (Brian2 needs one generator neuron per repeat)
    layers = {"conv1": {"theta_learn": 2.0, "r_learn": 1, "stdp": {"alpha_minus": -0.01}},
              "conv2": {"theta_learn": 3.0, "r_learn": 0, "stdp": {"alpha_minus": -0.01}},
              "fc1": {"theta_learn": 3.0, "r_infer": 0, "stdp": {"alpha_minus": -0.01}}}
    net = Network.from_spec("15x15x2-P2-3C3-P2-4C2-5", layers=layers, seed=4)
    ticks = random_ticks(np.random.default_rng(3), 100, net, 12)
    for t in ticks[::3]:
        t.extend(t[:3])  # repeats within the tick
    cmp, rec, res, _ = run_both(net, ticks)
    assert_identical(cmp, min_spikes=5)


def test_same_tick_conflicts_with_exact_ties():
    """Equal weights make equal potentials: every conflict is an exact tie, broken by stdpnet's
    seeded shuffle; the twin must draw the same random numbers in the same order."""
    layers = {"conv1": {"theta_learn": 1.0, "r_learn": 1, "r_infer": 0, "stdp": {"alpha_minus": -0.0625}},
              "fc1": {"theta_learn": 2.0, "r_infer": 0, "stdp": {"alpha_minus": -0.0625}}}
    net = Network.from_spec("8x8x1-3C2-P2-4", layers=layers, seed=5)
    for l in net.learning_layers:
        set_weights(l, 0.5)
    rng_before = net.rng_state.copy()
    rng = np.random.default_rng(4)
    ticks = [[(int(x), int(y), 0) for x, y in zip(rng.integers(0, 8, 3), rng.integers(0, 8, 3))] for _ in range(40)]
    cmp, rec, res, twin = run_both(net, ticks)
    assert_identical(cmp, min_spikes=5)
    assert (net.rng_state != rng_before).all()  # ties were shuffled in both layers
    assert np.array_equal(twin.rng, net.rng_state)  # ... with the same draws in the twin
    for c in res.conflicts.values():
        assert c["learning_candidates"] > c["learning_winners"]


def test_leak_and_refractory_membrane_trace():
    """LIF neurons (leak time constant, refractory period): Brian2's exact integration of
    dV/dt = -V/tau gives the same membrane trace as stdpnet's lazy decay, tick by tick."""
    params = {"theta_learn": 2.2, "theta_infer": 1.6, "leak_tau_us": 4000.0, "refractory_us": 2500.0,
              "stdp": {"alpha_minus": -0.01}}
    net = Network.from_spec("3x3x1-2", layers={"fc1": params}, seed=6)
    ticks = random_ticks(np.random.default_rng(5), 60, net, 1.5)
    chunk = canonical_chunk(chunk_of(ticks), net.sensor_size)
    twin = Brian2Twin(net, [chunk], target="numpy", trace={"fc1": [0, 1]})
    layer = net.learning_layers[0]
    trace_l, trace_i, rows = [], [], []
    for k, evs in enumerate(ticks):  # stdpnet one tick at a time, reading its state after each
        r = net.run(canonical_chunk(chunk_of([evs], start_tick=k), net.sensor_size), record=True)
        rows.append(r.record)
        s = stdpnet_current_state(layer, net.now, net.dt_us)
        trace_l.append(s["v_learn"].copy())
        trace_i.append(s["v_infer"].copy())
    res = twin.run()
    tr = res.traces["fc1"]
    np.testing.assert_array_equal(tr["ticks"], np.arange(len(ticks)))
    # internal index (pos*F + f) equals the public one for a dense layer (one position)
    np.testing.assert_allclose(tr["V_learn"].T, np.array(trace_l), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tr["V_infer"].T, np.array(trace_i), rtol=1e-12, atol=1e-12)
    rec = sort_records(np.concatenate(rows))
    np.testing.assert_array_equal(rec, res.record)
    kinds = rec[:, 2]
    assert (kinds == 0).sum() >= 3 and (kinds == 1).sum() >= 3
    # the refractory period really suppressed something: an inference spike never follows one
    # of the same neuron within 3 ticks (2500 us -> 3 ticks)
    inf = rec[kinds == 1]
    for n in np.unique(inf[:, 3]):
        assert np.diff(inf[inf[:, 3] == n, 0]).min() >= 3
    np.testing.assert_allclose(twin.weights_flat(0), layer.w, rtol=0, atol=WEIGHT_ATOL)


def test_leaky_conv_network_with_subtract_reset():
    params = {"leak_tau_us": 6000.0, "refractory_us": 1000.0, "reset": "subtract",
              "stdp": {"alpha_minus": -0.01}}
    layers = {"conv1": dict(params, theta_learn=2.5, r_learn=1),
              "fc1": dict(params, theta_learn=3.0, r_infer=0)}
    net = Network.from_spec("10x10x2-3C3-P2-4", layers=layers, seed=7)
    cmp, *_ = run_both(net, random_ticks(np.random.default_rng(6), 80, net, 10))
    assert_identical(cmp, min_spikes=5)


@pytest.mark.parametrize("options", [
    {},
    {"leak_tau_us": 6000.0, "refractory_us": 1000.0, "reset": "subtract"},
], ids=["plain", "leak-refractory-subtract"])
def test_float32_network_matches_its_float32_twin(options):
    """precision = float32: the twin's float32 accumulators and kernel, with the rule in double, give
    the same spikes and bitwise equal float32 weights (thresholds not representable in float32)."""
    layers = {"conv1": dict(options, theta_learn=2.3, theta_infer=1.7, r_learn=1, stdp={"alpha_minus": -0.01}),
              "fc1": dict(options, theta_learn=3.1, r_infer=0, stdp={"alpha_minus": -0.01})}
    net = Network.from_spec("10x10x2-3C3-P2-4", layers=layers, seed=7, precision="float32")
    assert net.learning_layers[0].w.dtype == np.float32
    rng = np.random.default_rng(6)
    net.run(chunk_of(random_ticks(rng, 30, net, 10)))  # the twin starts mid-stream, from float32 state
    cmp, *_ = run_both(net, random_ticks(rng, 80, net, 10), start_tick=net.now + 3)
    assert max(e["max_weight_diff"] for e in cmp["per_layer"]) == 0.0
    assert_identical(cmp, min_spikes=5, potential_tol=1e-5)


def test_twin_starts_from_the_networks_current_state():
    """Built mid-stream: current weights, potentials, t_ref, t_pre (and the leak's last update)."""
    params = {"theta_learn": 3.0, "leak_tau_us": 8000.0, "r_learn": 1, "stdp": {"alpha_minus": -0.01}}
    net = Network.from_spec("8x8x2-3C3", layers={"conv1": params}, seed=8)
    rng = np.random.default_rng(7)
    net.run(chunk_of(random_ticks(rng, 50, net, 6)))
    assert np.any(net.learning_layers[0].v_learn != 0)
    cmp, *_ = run_both(net, random_ticks(rng, 60, net, 6), start_tick=net.now + 5)
    assert_identical(cmp, min_spikes=5)


def test_layer_with_learning_off_silent_gap_and_other_dt():
    layers = {"conv1": {"theta_learn": 3.0, "learning": False, "leak_tau_us": 3000.0},
              "fc1": {"theta_learn": 3.0, "leak_tau_us": 3000.0, "stdp": {"alpha_minus": -0.01}}}
    net = Network.from_spec("10x10x2-3C3-P2-4", layers=layers, seed=1, dt_us=500)
    rng = np.random.default_rng(9)
    chunks = [canonical_chunk(chunk_of(random_ticks(rng, 30, net, 8), start_tick=s, dt_us=500), net.sensor_size)
              for s in (0, 40)]  # ticks 30-39: silent (the leak keeps acting)
    before = [l.w.copy() for l in net.learning_layers]
    twin = Brian2Twin(net, chunks, target="numpy")
    rec = np.concatenate([net.run(c, record=True).record for c in chunks])
    res = twin.run()
    cmp = compare(net, rec, twin, res, before)
    conv, fc = cmp["per_layer"]
    assert cmp["identical"] and cmp["max_potential_diff"] < 1e-9
    assert conv["learning_spikes"] == [0, 0] and conv["weight_change"] == 0 and conv["inference_spikes"][0] > 50
    assert fc["learning_spikes"][0] > 5 and fc["inference_spikes"][0] > 5
    with pytest.raises(RuntimeError, match="runs once"):
        twin.run()


def test_perturbed_twin_is_caught():
    """The comparison can fail: a twin whose threshold is one step higher disagrees."""
    layers = {"conv1": {"theta_learn": 3.0, "r_learn": 1, "stdp": {"alpha_minus": -0.01}},
              "fc1": {"theta_learn": 4.0, "stdp": {"alpha_minus": -0.01}}}
    ticks = random_ticks(np.random.default_rng(8), 60, Network.from_spec("10x10x2-3C3-P2-4", seed=9), 10)
    net = Network.from_spec("10x10x2-3C3-P2-4", layers=layers, seed=9)
    cmp, *_ = run_both(net, ticks, overrides={"fc1": {"theta_learn": 5.0}})
    assert not cmp["identical"]
    fc = cmp["per_layer"][1]
    assert fc["first_learning_mismatch"] is not None and fc["max_weight_diff"] > WEIGHT_ATOL
    assert cmp["per_layer"][0]["first_learning_mismatch"] is None  # the layer below is unaffected

    # one floating-point step: potentials that land exactly on the threshold stop crossing it
    net = Network.from_spec("6x6x1-2C2", layers={"conv1": {"theta_learn": 1.0, "r_learn": 0}}, seed=9)
    set_weights(net.learning_layers[0], 0.25)
    ticks = [[(1, 1, 0), (2, 2, 0)], [(1, 2, 0), (2, 1, 0)], [], [(4, 4, 0)] * 4]
    cmp, *_ = run_both(net, ticks, overrides={"conv1": {"theta_learn": float(np.nextafter(1.0, 2.0)),
                                                        "theta_infer": float(np.nextafter(1.0, 2.0))}})
    assert not cmp["identical"]
    assert cmp["per_layer"][0]["first_inference_mismatch"] is not None


def test_rstdp_layers_are_rejected():
    net = Network.from_spec("4x4x2-3", layers={"fc1": {"rule": "rstdp"}}, seed=0)
    with pytest.raises(TwinError, match="STDP rule only"):
        Brian2Twin(net, [chunk_of([[(0, 0, 0)]])])


def test_default_brian2_schedule_adds_one_tick_per_layer():
    """Why the twin reorders its objects: under Brian2's default schedule a chain of two groups
    linked by delay-0 synapses fires one step later at each hop."""
    import brian2 as b2

    old = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    try:
        clock = b2.Clock(dt=1 * b2.ms)
        gen = b2.SpikeGeneratorGroup(1, [0], [2] * b2.ms, clock=clock)
        a = b2.NeuronGroup(1, "v : 1", threshold="v >= 1", reset="v = 0", clock=clock)
        b = b2.NeuronGroup(1, "v : 1", threshold="v >= 1", reset="v = 0", clock=clock)
        s1 = b2.Synapses(gen, a, on_pre="v_post += 1", delay=0 * b2.ms, clock=clock)
        s2 = b2.Synapses(a, b, on_pre="v_post += 1", delay=0 * b2.ms, clock=clock)
        s1.connect(i=0, j=0)
        s2.connect(i=0, j=0)
        ma, mb = b2.SpikeMonitor(a), b2.SpikeMonitor(b)
        b2.Network(gen, a, b, s1, s2, ma, mb).run(6 * b2.ms, namespace={})
    finally:
        b2.prefs.codegen.target = old
    assert np.round(ma.t_[:] / 1e-3).tolist() == [3]  # input at step 2, first layer fires at 3
    assert np.round(mb.t_[:] / 1e-3).tolist() == [4]  # ... and the second at 4


def test_progress_lines_before_code_generation_and_after_the_run():
    net = Network.from_spec("5x5x2-4", layers={"fc1": {"theta_learn": 3.0}}, seed=0)
    lines = []
    chunk = canonical_chunk(chunk_of(random_ticks(np.random.default_rng(10), 20, net, 4)), net.sensor_size)
    twin = Brian2Twin(net, [chunk], target="numpy", progress=lines.append)
    assert len(lines) == 1
    assert lines[0].startswith("building Brian2 twin on the numpy target (code generation, first run ~")
    assert lines[0].endswith(" s)...")
    twin.run()
    assert "code ready after" in lines[1] and "simulating 20 ticks" in lines[1]
    assert lines[-1].startswith("Brian2 twin: 20 ticks simulated in")


def test_ctrl_c_during_the_run_raises_and_leaves_no_partial_result():
    """Brian2's own SIGINT handler would stop quietly after the step and return part of the run;
    the twin raises KeyboardInterrupt instead, restores Brian2's preferences, and refuses to hand
    out its partial state."""
    import os
    import signal

    import brian2 as b2

    net = Network.from_spec("5x5x2-4", layers={"fc1": {"theta_learn": 3.0}}, seed=0)
    chunk = canonical_chunk(chunk_of(random_ticks(np.random.default_rng(11), 40, net, 4)), net.sensor_size)
    lines = []
    twin = Brian2Twin(net, [chunk], target="numpy", progress=lines.append)
    steps = []

    def press_ctrl_c():
        steps.append(1)
        if len(steps) == 5:
            os.kill(os.getpid(), signal.SIGINT)  # through the process's real SIGINT handler

    twin.b2net.add(b2.NetworkOperation(press_ctrl_c, dt=net.dt_us * b2.us, when="start"))
    stop_pref = b2.prefs.core.stop_on_keyboard_interrupt
    with pytest.raises(KeyboardInterrupt):
        twin.run()
    assert len(steps) < 40  # stopped early, not at the end
    assert lines[-1].startswith("Brian2 twin: interrupted after")
    assert b2.prefs.core.stop_on_keyboard_interrupt == stop_pref
    assert b2.Network._globally_running is False  # a later Ctrl-C is not swallowed as a stop request
    with pytest.raises(TwinError, match="interrupted"):
        twin.weights_flat(0)
    with pytest.raises(TwinError, match="interrupted"):
        twin.state(0)
    with pytest.raises(TwinError, match="runs once"):
        twin.run()
