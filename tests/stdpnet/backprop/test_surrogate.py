"""Surrogate-gradient LIF network: dynamics by hand, surrogate derivatives, BPTT vs finite differences."""
import numpy as np
import pytest

jax = pytest.importorskip("jax")

from stdpnet.backprop import surrogate as sr  # noqa: E402
from stdpnet.backprop import topology as T  # noqa: E402
from stdpnet.errors import ConfigError, ParameterError  # noqa: E402

from . import reference  # noqa: E402
from .conftest import random_params  # noqa: E402


def one_neuron_net(w_hidden, w_out):
    """1x1x1 input -> fc1 (1 LIF neuron) -> readout (2 LIF neurons), biases 0."""
    topo = T.build_topology("1x1x1-1", 2)
    params = {"fc1": {"w": np.array([[w_hidden]]), "b": np.zeros(1)},
              "out": {"w": np.array([[w_out[0]], [w_out[1]]]), "b": np.zeros(2)}}
    return topo, params


def run(topo, params, bins, **options):
    x = np.asarray(bins, np.float64).reshape(1, -1, 1, 1, 1)
    with jax.enable_x64(True):
        logits, stats = sr.forward(params, x, topo, sr.SurrogateOptions(**options))
    return np.asarray(logits[0]), {k: float(v[0]) for k, v in stats["spikes"].items()}, float(stats["ops"][0])


def test_lif_subtract_reset_by_hand():
    # beta 0.5, w 0.6, input 1,1,1,0,1:
    # U = 0.6, 0.9, 1.05 (spike), 0.525 - 1 = -0.475, -0.2375 + 0.6 = 0.3625  -> one spike at t = 2
    # readout w (2.0, 0.5): U0 = 0, 0, 2 (spike), 1 - 1 = 0, 0; U1 peaks at 0.5 -> counts (1, 0)
    topo, params = one_neuron_net(0.6, (2.0, 0.5))
    counts, spikes, n_ops = run(topo, params, [1, 1, 1, 0, 1], beta=0.5)
    np.testing.assert_array_equal(counts, [1, 0])
    assert spikes == {"fc1": 1.0, "out": 1.0}
    assert n_ops == 4 * 1 + 1 * 2  # 4 input events x fan-out 1, one fc1 spike x fan-out 2


@pytest.mark.parametrize("reset, expected", [("subtract", 4.0), ("zero", 2.0)])
def test_reset_rules_by_hand(reset, expected):
    # beta 0.5, w 1.5, input 1,1,1,1. subtract: U = 1.5 S, 0.75+1.5-1 = 1.25 S, 1.125 S, 1.0625 S
    # zero: U = 1.5 S, (0.75 + 1.5) * 0 = 0, 1.5 S, 0  -> 4 and 2 spikes
    topo, params = one_neuron_net(1.5, (0.0, 0.0))
    _, spikes, _ = run(topo, params, [1, 1, 1, 1], beta=0.5, reset=reset)
    assert spikes["fc1"] == expected


@pytest.mark.parametrize("kind, slope, derivative", [
    ("fast_sigmoid", 25.0, lambda x: 1.0 / (1.0 + 25.0 * np.abs(x)) ** 2),
    ("atan", 2.0, lambda x: 1.0 / (1.0 + (np.pi * x) ** 2)),  # (a/2) / (1 + (pi a x / 2)^2), a = 2
])
def test_spike_function_is_a_step_with_the_surrogate_derivative(kind, slope, derivative):
    spike = sr.spike_function(sr.SurrogateOptions(surrogate=kind, slope=slope))
    x = np.array([-0.5, -0.01, 0.0, 0.02, 0.7])
    with jax.enable_x64(True):
        np.testing.assert_array_equal(spike(x), [0, 0, 0, 1, 1])
        grads = jax.vmap(jax.grad(spike))(x)
    np.testing.assert_allclose(grads, derivative(x), rtol=1e-12)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_layer_by_layer_forward_equals_stepping_every_layer_bin_by_bin(reset):
    # forward() runs each conv once over all bins and scans only the membranes; a loop over bins
    # through all layers (reference.lif_network, numpy) must give the same spikes and potentials
    topo = T.build_topology("8x8x2-3C3-P2-4", 3)
    params = random_params(topo, seed=5, bias_std=0.2)
    params = {k: {"w": 1.5 * p["w"], "b": p["b"]} for k, p in params.items()}  # spikes reach the readout
    x = np.random.default_rng(2).poisson(0.8, size=(3, 6, 2, 8, 8)).astype(np.float64)
    options = sr.SurrogateOptions(beta=0.7, reset=reset)
    with jax.enable_x64(True):
        logits, stats = sr.forward(params, x, topo, options)
    fired = 0.0
    for i in range(len(x)):
        counts, u_sum, totals = reference.lif_network(params, x[i], topo, 0.7, 1.0, reset)
        np.testing.assert_array_equal(np.asarray(logits[i]), counts)
        np.testing.assert_allclose(np.asarray(stats["scores"][i]), counts + 0.5 * np.tanh(u_sum / 6), rtol=1e-12)
        for name, total in totals.items():
            assert float(stats["spikes"][name][i]) == total
        fired += totals["out"]
    assert fired > 0


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_backprop_through_time_matches_finite_differences(reset):
    # With a smooth spike function (and the reset kept in the graph) the network is
    # differentiable: jax.grad through lax.scan must equal central finite differences.
    topo = T.build_topology("5x5x2-2C2-P2-3", 2)
    params = random_params(topo, seed=7, bias_std=0.3)
    x = np.random.default_rng(1).poisson(0.6, size=(2, 4, 2, 5, 5)).astype(np.float64)
    labels = np.array([0, 1])
    options = sr.SurrogateOptions(beta=0.8, reset=reset, detach_reset=False)

    def smooth_spike(v):
        return jax.nn.sigmoid(4.0 * v)

    def loss(p):
        logits, _ = sr.forward(p, x, topo, options, spike_fn=smooth_spike)
        return -jax.nn.log_softmax(logits)[np.arange(2), labels].sum()

    with jax.enable_x64(True):
        grads = jax.grad(loss)(params)
        loss = jax.jit(loss)
        for name in params:
            for key in ("w", "b"):
                numeric = np.zeros_like(params[name][key])
                for index in np.ndindex(numeric.shape):
                    h = 1e-6
                    shifted = []
                    for sign in (1, -1):
                        p = {k: {kk: vv.copy() for kk, vv in v.items()} for k, v in params.items()}
                        p[name][key][index] += sign * h
                        shifted.append(float(loss(p)))
                    numeric[index] = (shifted[0] - shifted[1]) / (2 * h)
                np.testing.assert_allclose(np.asarray(grads[name][key]), numeric, rtol=1e-5, atol=1e-8,
                                           err_msg=f"{name}.{key}")


def test_detached_reset_changes_only_the_gradient():
    topo = T.build_topology("5x5x2-2C2-P2-3", 2)
    params = random_params(topo, seed=3, bias_std=0.3, dtype=np.float32)
    params = {k: {"w": 0.4 * np.abs(p["w"]), "b": p["b"]} for k, p in params.items()}  # spikes reach the readout
    x = np.random.default_rng(2).poisson(2.0, size=(1, 6, 2, 5, 5)).astype(np.float32)
    outputs, grads = [], []
    for detach in (True, False):
        options = sr.SurrogateOptions(detach_reset=detach)
        f = lambda p: sr.forward(p, x, topo, options)[0].sum()
        outputs.append(np.asarray(sr.forward(params, x, topo, options)[0]))
        grads.append(np.asarray(jax.grad(f)(params)["fc1"]["w"]))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert 0 < outputs[0].sum() < 2 * 6  # readout active, not saturated
    assert not np.allclose(grads[0], grads[1], rtol=1e-2, atol=0)


def test_options_are_checked():
    with pytest.raises(ParameterError, match="beta"):
        sr.SurrogateOptions(beta=1.5)
    with pytest.raises(ParameterError, match="surrogate must be one of"):
        sr.SurrogateOptions(surrogate="sigmoid")
    with pytest.raises(ConfigError, match="known: beta"):
        sr.resolve_options({"decay": 0.9})
