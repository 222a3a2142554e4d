"""The STDP spec rebuilt as baseline layers: shapes, parameters, fan-out, MACs (no JAX needed)."""
import itertools

import numpy as np
import pytest

from stdpnet.backprop import topology as T
from stdpnet.errors import ConfigError, SpecError


def test_nmnist_topology_by_hand():
    topo = T.build_topology("34x34x2-16C5-P2-128C5-P2-1024", 10)
    assert [(l.name, l.out_shape) for l in topo.layers] == [
        ("conv1", (16, 30, 30)), ("pool1", (16, 15, 15)), ("conv2", (128, 11, 11)),
        ("pool2", (128, 5, 5)),  # floor(11 / 2): the last row and column are dropped
        ("fc1", (1024,)), ("out", (10,))]
    weights = 16 * 2 * 25 + 128 * 16 * 25 + 1024 * 128 * 25 + 10 * 1024
    biases = 16 + 128 + 1024 + 10
    assert topo.n_params == weights + biases
    assert topo.layer("fc1").weight_shape == (1024, 3200)
    assert T.dense_macs(topo) == 16 * 900 * 50 + 128 * 121 * 400 + 1024 * 3200 + 10 * 1024


def test_readout_from_the_spec_or_the_argument():
    assert T.build_topology("8x8x1-4C3-P2-10-3").n_classes == 3
    assert T.build_topology("8x8x1-4C3-P2-10", 5).readout.size == 5
    with pytest.raises(ConfigError, match="n_classes"):
        T.build_topology("8x8x1-4C3-P2-10")
    with pytest.raises(ConfigError, match="ends with a readout of 3 classes but n_classes=4"):
        T.build_topology("8x8x1-4C3-P2-10-3", 4)


def test_impossible_topologies_say_why():
    with pytest.raises(SpecError, match="kernel 7 is larger than its 6x6 input"):
        T.build_topology("6x6x1-2C7-4", 2)
    with pytest.raises(SpecError, match="fully connected"):
        T.build_topology("6x6x1-8-P2-4", 2)


def test_fan_out_counts_every_synapse():
    topo = T.build_topology("7x6x2-3C3-P2-5", 2)  # input W=7, H=6
    conv, pool, dense, out = topo.layers
    brute = np.zeros(conv.in_shape)
    _, oh, ow = conv.out_shape
    for f, oy, ox, c, dy, dx in itertools.product(range(3), range(oh), range(ow), range(2), range(3), range(3)):
        brute[c, oy + dy, ox + dx] += 1
    np.testing.assert_array_equal(T.fan_out(conv), brute)
    # pooling the 4x5 (H x W) conv output by 2: rows 0-3 and columns 0-3 pooled, column 4 dropped
    expected = np.ones(pool.in_shape)
    expected[:, :, 4] = 0
    np.testing.assert_array_equal(T.fan_out(pool), expected)
    np.testing.assert_array_equal(T.fan_out(dense), np.full(dense.in_shape, 5.0))
    assert T.fan_out(out).shape == (5,) and (T.fan_out(out) == 2).all()


def test_init_params_he_normal_and_deterministic():
    topo = T.build_topology("34x34x2-16C5-P2-128C5-P2-1024", 10)
    params = T.init_params(topo, seed=3)
    assert set(params) == {"conv1", "conv2", "fc1", "out"}
    for layer in topo.layers:
        if layer.has_params:
            w = params[layer.name]["w"]
            assert w.shape == layer.weight_shape and w.dtype == np.float32
            assert np.std(w) == pytest.approx(np.sqrt(2.0 / layer.fan_in), rel=0.1)
            assert not params[layer.name]["b"].any()
    again = T.init_params(topo, seed=3)
    assert all(np.array_equal(params[k]["w"], again[k]["w"]) for k in params)
    assert not np.array_equal(params["fc1"]["w"], T.init_params(topo, seed=4)["fc1"]["w"])


def test_check_params_names_the_layer():
    topo = T.build_topology("8x8x1-4C3-P2-10", 2)
    params = T.init_params(topo, 0)
    T.check_params(topo, params)
    params["fc1"]["w"] = params["fc1"]["w"][:, :5]
    with pytest.raises(ConfigError, match=r"fc1: 'w' has shape \(10, 5\).*needs \(10, 36\)"):
        T.check_params(topo, params)
