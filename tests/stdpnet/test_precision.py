"""The ``precision`` option (stdpnet.kernels.precision): float32 potentials and weights, by hand."""
import math

import numpy as np
import pytest

from stdpnet import CheckpointError, ConfigError, Network, ParameterError, checkpoint
from stdpnet.experiment.config import RunConfig, merge_config

from .conftest import chunk_of, feed, set_weights

ONE_INPUT = "1x1x1-1"  # one input pixel, one dense neuron: every add is visible


def one_neuron(precision, theta=1.0, learning=False, **layer):
    net = Network.from_spec(ONE_INPUT, seed=0, precision=precision, layers={
        "fc1": {"theta_learn": theta, "theta_infer": theta, "learning": learning, **layer}})
    return net, net.learning_layers[0]


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_state_arrays_take_the_precision(precision):
    net = Network.from_spec("8x8x2-2C3-P2-3", precision=precision)
    for layer in net.learning_layers:
        for name in ("w", "bias", "v_learn", "v_infer"):
            assert getattr(layer, name).dtype == np.dtype(precision), name
    assert net.precision == precision and net.state_dict()["precision"] == precision


def test_presets_run_in_float32_and_spec_strings_in_float64():
    assert Network.from_spec("nmnist").precision == "float32"
    assert Network.from_spec("synthetic").precision == "float32"
    assert Network.from_spec("8x8x2-2C3-P2-3").precision == "float64"
    assert Network.from_spec("synthetic", precision="float64").precision == "float64"


def test_float32_adds_round_like_float32_and_cross_the_threshold_where_float64_does_not():
    # ten inputs of 0.1 to a threshold of 1: float64's sum is 0.9999999999999999 (no spike);
    # float32 stores fl32(0.1) = 0.100000001490116 and its running float32 sum reaches
    # 1.0000001192092896 on the tenth add (a spike)
    s32 = np.float32(0)
    for _ in range(9):
        s32 = np.float32(s32 + np.float32(0.1))
    nine = s32
    s32 = np.float32(s32 + np.float32(0.1))
    assert nine == np.float32(0.90000010) and s32 == np.float32(1.0000001192092896) and s32 >= 1.0
    assert sum([0.1] * 10) < 1.0
    for precision, spikes in (("float64", 0), ("float32", 1)):
        net, layer = one_neuron(precision, theta=1.0)
        set_weights(layer, 0.1)
        out = feed(net, [[(0, 0, 0)]] * 9)
        assert len(out.top_ticks) == 0
        before = layer.v_infer[0]
        out = feed(net, [[(0, 0, 0)]])
        assert len(out.top_ticks) == spikes, precision
        if precision == "float32":
            assert before == nine and layer.v_infer[0] == 0.0  # reset after the spike
        else:
            assert layer.v_infer[0] == 0.9999999999999999


def test_float32_threshold_is_the_nearest_float32_and_subtract_reset_is_exact():
    # theta 0.3 -> fl32(0.3) = 0.30000001192092896; one input of fl32(0.3) reaches it exactly (a
    # float64 comparison with 0.3 itself would already fire: the point is that both sides of the
    # comparison are float32); subtracting leaves exactly 0
    net, layer = one_neuron("float32", theta=0.3, reset="subtract")
    assert layer.const(net.dt_us).theta_infer == float(np.float32(0.3))
    set_weights(layer, 0.7)
    out = feed(net, [[(0, 0, 0)]])
    assert len(out.top_ticks) == 1
    assert layer.v_infer[0] == np.float32(np.float32(0.7) - np.float32(0.3))


def test_float32_stdp_computes_in_double_and_stores_the_nearest_float32():
    # SPEC §3 on one causal synapse: dw = alpha_plus * exp(-beta_plus * w) from the stored float32 w,
    # in double; the new weight is fl32(clip(w + dw, 0, 1))
    net, layer = one_neuron("float32", theta=0.5, learning=True, stdp={"alpha_minus": -0.01})
    set_weights(layer, 0.6)
    w32 = np.float32(0.6)
    rule = layer.rule
    expected = np.float32(min(1.0, max(0.0, float(w32) + rule.alpha_plus * math.exp(-rule.beta_plus * float(w32)))))
    feed(net, [[(0, 0, 0)]])
    assert net.counters[0, 0] == 1  # one learning spike
    assert layer.w[0] == expected and layer.w.dtype == np.float32


def test_float32_run_is_reproducible_and_resumes_bit_for_bit(tmp_path):
    rng = np.random.default_rng(0)
    ticks = [[(int(rng.integers(16)), int(rng.integers(16)), int(rng.integers(2))) for _ in range(8)]
             for _ in range(120)]
    a = Network.from_spec("synthetic", seed=2)
    whole = feed(a, ticks).record
    b = Network.from_spec("synthetic", seed=2)
    first = feed(b, ticks[:50]).record
    path = checkpoint.save(tmp_path / "c.npz", b.state_dict())
    c = Network.from_spec("synthetic", seed=5)
    c.load_state_dict(checkpoint.load(path))
    second = feed(c, ticks[50:]).record
    assert len(whole) > 0 and np.array_equal(np.concatenate([first, second]), whole)
    for la, lc in zip(a.learning_layers, c.learning_layers):
        assert la.w.dtype == lc.w.dtype == np.float32 and np.array_equal(la.w, lc.w)


def test_checkpoint_of_the_other_precision_is_refused_with_the_fix(tmp_path):
    path = checkpoint.save(tmp_path / "c.npz", Network.from_spec("synthetic").state_dict())
    other = Network.from_spec("synthetic", precision="float64")
    with pytest.raises(CheckpointError, match="float32 potentials and weights, this network float64.*precision='float32'"):
        other.load_state_dict(checkpoint.load(path))
    state = Network.from_spec("synthetic").state_dict()
    state["layers"]["fc1"]["w"] = state["layers"]["fc1"]["w"].astype(np.float64)
    with pytest.raises(CheckpointError, match="'w' is float64 in the checkpoint but float32"):
        Network.from_spec("synthetic").load_state_dict(state)


def test_threshold_beyond_float32_is_a_clear_error():
    with pytest.raises(ParameterError, match="theta_learn=1e[+]?39 is beyond the range of this network's float32"):
        Network.from_spec(ONE_INPUT, precision="float32", layers={"fc1": {"theta_learn": 1e39}})
    net = Network.from_spec(ONE_INPUT, precision="float32")
    with pytest.raises(ParameterError, match="theta_infer=1e[+]?40 is beyond"):
        net.learning_layers[0].params = net.learning_layers[0].params.updated(theta_infer=1e40)
    Network.from_spec(ONE_INPUT, layers={"fc1": {"theta_learn": 1e39}}).run(chunk_of([[(0, 0, 0)]]))  # float64


def test_unknown_precision_is_a_clear_error():
    with pytest.raises(ParameterError, match="precision must be one of"):
        Network.from_spec("synthetic", precision="float16")
    with pytest.raises(ConfigError, match="precision"):
        merge_config(("test", {"net": "synthetic", "precision": "half"}))


def test_config_carries_the_precision_and_round_trips():
    cfg = merge_config(("test", {"net": "synthetic"}))
    assert cfg.network.precision == "float32" and cfg.network_dict()["precision"] == "float32"
    cfg64 = merge_config(("test", {"net": "synthetic", "precision": "float64"}))
    assert RunConfig.from_dict(cfg64.to_dict()) == cfg64
    assert Network.from_config(cfg64.network_dict()).precision == "float64"
    legacy = cfg.to_dict()
    del legacy["precision"]  # a run saved before the option ran in float64
    assert RunConfig.from_dict(legacy).network.precision == "float64"
