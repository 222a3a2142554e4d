"""SpikeGrad: the integer ANN, its straight-through gradient, and the IF network it stands for."""
import numpy as np
import pytest

jax = pytest.importorskip("jax")
from hypothesis import assume, given, settings, strategies as st  # noqa: E402

from stdpnet.backprop import spikegrad as sg  # noqa: E402
from stdpnet.backprop import topology as T  # noqa: E402
from stdpnet.backprop.frames import count_frames  # noqa: E402
from stdpnet.errors import ConfigError  # noqa: E402
from streams.events import make_events  # noqa: E402

from . import reference  # noqa: E402
from .conftest import random_params  # noqa: E402

TINY = "6x6x1-2C3-P2-3"  # conv 4x4x2 -> pool 2x2x2 -> dense 3 -> readout 2


def grad_of(f, a):
    return np.asarray(jax.grad(lambda v: f(v).sum())(a))


def test_quantise_rounds_exactly_and_passes_gradient_straight_through():
    a = np.array([-1.0, 0.2, 0.74, 1.3, 2.6], np.float32)
    # theta = 0.5: a / theta = -2, 0.4, 1.48, 2.6, 5.2
    np.testing.assert_array_equal(sg.quantise(a, 0.5), [0, 0, 1, 3, 5])
    np.testing.assert_array_equal(sg.quantise(np.array([0.25, 0.75, 1.25], np.float32), 0.5), [1, 2, 3])  # half up
    np.testing.assert_array_equal(grad_of(lambda v: sg.quantise(v, 0.5), a), [0, 2, 2, 2, 2])
    np.testing.assert_array_equal(sg.quantise(a, 0.5, max_count=4), [0, 0, 1, 3, 4])
    np.testing.assert_array_equal(grad_of(lambda v: sg.quantise(v, 0.5, max_count=4), a), [0, 2, 2, 2, 0])
    np.testing.assert_array_equal(sg.quantise(a, 0.5, relu=False), [-2, 0, 1, 3, 5])
    np.testing.assert_array_equal(grad_of(lambda v: sg.quantise(v, 0.5, relu=False), a), [2, 2, 2, 2, 2])


@pytest.mark.parametrize("pool", ["avg", "sum"])
def test_forward_is_the_written_out_integer_network(pool):
    topo = T.build_topology(TINY, 2)
    params = random_params(topo, seed=1)
    x = np.random.default_rng(0).integers(0, 4, size=(3, 1, 6, 6)).astype(np.float64)
    options = sg.SpikeGradOptions(theta=0.7, pool=pool)
    with jax.enable_x64(True):
        got = sg.integer_activations(params, x, topo, options)
    for b in range(3):
        expected = reference.integer_spikegrad(params, x[b], topo, 0.7, pool)
        for name in ("conv1", "pool1", "fc1"):
            np.testing.assert_array_equal(got[name][b], expected[name])
        np.testing.assert_allclose(got["out"][b], expected["out"], rtol=1e-12)
    assert got["conv1"].dtype == np.int64 and got["conv1"].sum() > 0


def test_straight_through_gradient_is_the_gradient_of_the_unrounded_network():
    # Inputs and biases scaled by 1000 make rounding negligible (relative 1e-3): the
    # straight-through gradient must then match finite differences of the relaxed net
    # S = ReLU(a) / theta (a missing 1 / theta, a wrong mask or layout would not).
    topo = T.build_topology(TINY, 2)
    scale, theta = 1000.0, 0.5
    params = random_params(topo, seed=2)
    params = {k: {"w": p["w"], "b": p["b"] * scale * (1.0 / theta) ** i}
              for i, (k, p) in enumerate(params.items())}
    rng = np.random.default_rng(5)
    x = rng.integers(0, 4, size=(1, 1, 6, 6)).astype(np.float64) * scale
    direction = rng.normal(size=2)
    options = sg.SpikeGradOptions(theta=theta)

    def ste_objective(p):
        logits, _ = sg.forward(p, x, topo, options)
        return (logits[0] * direction).sum() / scale

    def relaxed_objective(p):
        return float((reference.relaxed_spikegrad(p, x[0], topo, theta) * direction).sum() / scale)

    with jax.enable_x64(True):
        grads = jax.grad(ste_objective)(params)
    for name in params:
        for key in ("w", "b"):
            numeric = np.zeros_like(params[name][key])
            for index in np.ndindex(numeric.shape):
                h = 1e-4 * max(1.0, abs(params[name][key][index]))
                plus = {k: {kk: vv.copy() for kk, vv in v.items()} for k, v in params.items()}
                minus = {k: {kk: vv.copy() for kk, vv in v.items()} for k, v in params.items()}
                plus[name][key][index] += h
                minus[name][key][index] -= h
                numeric[index] = (relaxed_objective(plus) - relaxed_objective(minus)) / (2 * h)
            analytic = np.asarray(grads[name][key])
            error = np.linalg.norm(analytic - numeric) / max(np.linalg.norm(numeric), 1e-12)
            assert error < 1e-2, (name, key, error, analytic, numeric)


def random_events(rng, sensor, n_events, duration_us=10_000):
    width, height, channels = sensor
    t = np.sort(rng.integers(0, duration_us, n_events))
    return make_events(rng.integers(0, width, n_events), rng.integers(0, height, n_events), t,
                       rng.integers(0, channels, n_events))


NETS = ["8x8x2-3C3-P2-5-3", "10x9x2-4C3-P2-3C2-6-3", "7x7x1-5C4-6-5-3"]  # readout: 3 classes


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2 ** 20), net=st.sampled_from(NETS), pool=st.sampled_from(["avg", "sum"]),
       theta=st.sampled_from([0.3, 0.5, 1.0, 1.7, 2.0]), n_events=st.integers(0, 300))
def test_if_network_counts_equal_the_integer_activations(seed, net, pool, theta, n_events):
    # average pooling of integer counts meets exact ties (mean 2.5): exact only where the
    # arithmetic is, i.e. theta a power of two (see if_sim's tie rule)
    assume(pool == "sum" or theta in (0.5, 1.0, 2.0))
    topo = T.build_topology(net)
    params = random_params(topo, seed, bias_std=theta)
    c, h, w = topo.input_shape
    events = random_events(np.random.default_rng(seed), (w, h, c), n_events)
    options = sg.SpikeGradOptions(theta=theta, pool=pool)
    with jax.enable_x64(True):
        ann = sg.integer_activations(params, count_frames(events, (w, h, c))[None].astype(np.float64),
                                     topo, options)
    result = sg.simulate_if(params, events, topo, options)
    for layer in topo.hidden:
        np.testing.assert_array_equal(result.counts[layer.name], ann[layer.name][0], err_msg=layer.name)
    np.testing.assert_allclose(result.readout_potential, ann["out"][0], rtol=1e-9, atol=1e-9)
    assert result.input_spikes == n_events


def test_if_dynamics_by_hand():
    # input 2x1x1 (pixels x = 0, 1) -> fc1: one IF neuron, w = (0.8, -0.9), theta 1 -> readout
    topo = T.build_topology("2x1x1-1", 2)
    params = {"fc1": {"w": np.array([[0.8, -0.9]]), "b": np.zeros(1)},
              "out": {"w": np.array([[1.0], [2.0]]), "b": np.array([0.5, 0.0])}}
    # events at x = 0, 0, 1, 1, 1: V = 0.8, 1.6 -> +1 (0.6), -0.3, -1.2 -> -1 (count 1 > 0; -0.2),
    # -1.1 -> no spike (count 0, ReLU); a = 1.6 - 2.7 = -1.1 -> S = 0
    events = make_events([0, 0, 1, 1, 1], [0] * 5, [0, 1, 2, 3, 4], [0] * 5)
    result = sg.simulate_if(params, events, topo)
    assert result.counts["fc1"].tolist() == [0]
    assert (result.positive["fc1"], result.negative["fc1"]) == (1, 1)
    np.testing.assert_allclose(result.readout_potential, [0.5, 0.0])  # +1 then -1 spike: net 0
    assert result.synaptic_ops == 5 * 1 + 2 * 2
    # a bias of 2.6 thresholds and no input: two spikes at time 0, the residual adds the third
    params["fc1"]["b"] = np.array([2.6])
    result = sg.simulate_if(params, events[:0], topo)
    assert result.counts["fc1"].tolist() == [3] and result.positive["fc1"] == 3
    np.testing.assert_allclose(result.readout_potential, [3.5, 6.0])


def test_without_the_residual_spike_counts_are_off_by_at_most_one_in_the_first_layer():
    topo = T.build_topology("8x8x2-3C3-P2-5", 3)
    differences = {layer.name: [] for layer in topo.hidden}
    for seed in range(8):
        params = random_params(topo, seed)
        events = random_events(np.random.default_rng(seed), (8, 8, 2), 200)
        exact = sg.simulate_if(params, events, topo)
        plain = sg.simulate_if(params, events, topo, residual=False)
        for name in differences:
            differences[name].append((plain.counts[name] - exact.counts[name]).ravel())
    first = np.concatenate(differences["conv1"])
    assert set(np.unique(first)) <= {-1, 0, 1}
    assert (first != 0).any(), "the residual spike never mattered: the test would not see it missing"


def test_synaptic_ops_count_every_delivery():
    # All weights and biases positive: no negative spikes, so the simulator's accumulates equal
    # the ANN's estimate sum_l S_{l-1} . fan_out_l exactly.
    topo = T.build_topology("8x8x2-3C3-P2-5", 3)
    params = {k: {"w": np.abs(p["w"]), "b": np.abs(p["b"])} for k, p in random_params(topo, 4).items()}
    events = random_events(np.random.default_rng(4), (8, 8, 2), 150)
    result = sg.simulate_if(params, events, topo)
    assert sum(result.negative.values()) == 0
    x = count_frames(events, (8, 8, 2))[None].astype(np.float64)
    with jax.enable_x64(True):
        _, stats = sg.forward(params, x, topo, sg.SpikeGradOptions())
        ann = sg.integer_activations(params, x, topo)
    assert result.synaptic_ops == int(round(float(stats["ops"][0])))
    by_hand = (x[0] * T.fan_out(topo.layers[0])).sum()
    for layer, below in zip(topo.layers[1:], topo.layers[:-1]):
        by_hand += (ann[below.name][0] * T.fan_out(layer)).sum()
    assert result.synaptic_ops == by_hand
    assert result.spike_events == sum(int(ann[l.name][0].sum()) for l in topo.hidden)


def test_simulator_refuses_a_rate_cap():
    topo = T.build_topology("8x8x2-3C3-P2-5", 3)
    with pytest.raises(ConfigError, match="max_count=None"):
        sg.simulate_if(T.init_params(topo, 0), random_events(np.random.default_rng(0), (8, 8, 2), 5),
                       topo, sg.SpikeGradOptions(max_count=3))


def test_export_static_layers_shapes_and_values():
    topo = T.build_topology("8x8x2-3C3-P2-5", 3)
    params = random_params(topo, 0, dtype=np.float32)
    layers = sg.export_static_layers(params, topo, sg.SpikeGradOptions(theta=0.5))
    assert list(layers) == ["conv1", "pool1", "fc1", "out"]
    assert layers["conv1"]["weights"].shape == (3, 2, 3, 3) and layers["conv1"]["theta"] == 0.5
    assert layers["pool1"] == {"kind": "pool", "size": 2, "weights": 0.25, "bias": 0.0, "theta": 0.5}
    fc1 = layers["fc1"]["weights"]
    assert fc1.shape == (5, 3, 3, 3)
    np.testing.assert_array_equal(fc1[2, 1, 0, 2], params["fc1"]["w"][2, (1 * 3 + 0) * 3 + 2])
    np.testing.assert_array_equal(layers["fc1"]["bias"], params["fc1"]["b"])
    assert layers["out"]["kind"] == "readout" and layers["out"]["weights"].shape == (3, 5)
    with pytest.raises(ConfigError, match="topology"):
        sg.export_static_layers(params)


@pytest.mark.data
def test_if_network_equals_the_integer_network_on_real_recordings(nmnist_folder):
    topo = T.build_topology("34x34x2-8C5-P2-16C5-P2-32", 10)
    options = sg.SpikeGradOptions(theta=2.0)
    for seed, index in enumerate((0, 400, 799)):
        events, _ = nmnist_folder[index]
        params = random_params(topo, seed, bias_std=1.0)
        with jax.enable_x64(True):
            ann = sg.integer_activations(params, count_frames(events, (34, 34, 2))[None].astype(np.float64),
                                         topo, options)
        result = sg.simulate_if(params, events, topo, options)
        assert result.input_spikes == len(events) > 1000
        for layer in topo.hidden:
            np.testing.assert_array_equal(result.counts[layer.name], ann[layer.name][0])
        assert ann["fc1"].sum() > 0  # spikes reach the top: the comparison covers every layer
