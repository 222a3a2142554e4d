"""Layers: parameters as values (assignment takes effect at once), the rule as one value chosen at
build time (STDP, R-STDP, static), static layers with real weights and a bias, checked state."""
import numpy as np
import pytest

from stdpnet import CheckpointError, LayerParams, Network, ParameterError, RSTDPParams, STDPParams
from stdpnet import kernels as K

from .conftest import feed, set_weights


def test_assigning_a_parameter_takes_effect_at_the_next_tick_without_refresh():
    net = Network.from_spec("2x1x1-1", layers={"fc1": {"theta_learn": 100.0, "theta_infer": 100.0}})
    fc = net.top
    set_weights(fc, 1.0)
    out = feed(net, [[(0, 0, 0), (1, 0, 0)]])  # V = 2 < 100: silent
    assert len(out.top_neurons) == 0 and fc.v_infer[0] == 2.0
    fc.params = fc.params.updated(theta_infer=2.5)
    out = feed(net, [[(0, 0, 0)]])  # V = 3 >= 2.5: fires with the new threshold
    assert list(out.top_neurons) == [0] and fc.v_infer[0] == 0.0
    assert fc.const(net.dt_us).theta_infer == 2.5


def test_set_learning_switches_the_compiled_flag():
    net = Network.from_spec("2x1x1-1", layers={"fc1": {"theta_learn": 1.0}})
    net.set_learning(False)
    assert net.top.const(net.dt_us).learning == 0
    out = feed(net, [[(0, 0, 0), (1, 0, 0)]])
    assert out.counts[0, 0] == 0  # no learning spike
    net.set_learning(True)
    out = feed(net, [[(0, 0, 0), (1, 0, 0)]])
    assert out.counts[0, 0] == 1


@pytest.mark.parametrize("bad", ["no", 1, None])
def test_set_learning_refuses_anything_but_a_bool(bad):
    net = Network.from_spec("2x1x1-1")
    with pytest.raises(ParameterError, match="True or False"):
        net.set_learning(bad)


@pytest.mark.parametrize("key, value", [("theta_learn", True), ("theta_learn", "8"), ("theta_learn", float("nan")),
                                        ("init_std", -0.1), ("learning", "yes"), ("r_learn", 1.5)])
def test_bad_parameter_values_are_parameter_errors_naming_the_key(key, value):
    with pytest.raises(ParameterError, match=key):
        LayerParams().updated(**{key: value})


def test_unknown_parameter_names_the_valid_ones():
    with pytest.raises(ParameterError, match="unknown layer parameter.*theta_lern"):
        LayerParams().updated(theta_lern=3)
    with pytest.raises(ParameterError, match="unknown stdp parameter.*alpha"):
        LayerParams().updated(stdp={"alpha": -0.1})


def test_rule_is_one_value_and_round_trips_through_the_config_form():
    p = LayerParams().updated(stdp={"alpha_minus": -0.004})
    assert isinstance(p.rule, STDPParams) and p.rule.alpha_plus == pytest.approx(0.032)
    assert LayerParams.from_dict(p.to_dict()) == p
    r = LayerParams().updated(rule="rstdp", rstdp={"a_r_plus": 0.01}, stdp={"alpha_minus": -0.5})
    assert isinstance(r.rule, RSTDPParams) and r.rule.a_r_plus == 0.01  # the stdp table is not in force
    assert r.to_dict()["rule"] == "rstdp" and "stdp" not in r.to_dict()
    assert LayerParams.from_dict(r.to_dict()) == r
    s = LayerParams().updated(rule="static")
    assert s.rule is None and s.to_dict()["rule"] == "static"
    assert LayerParams.from_dict(s.to_dict()) == s
    with pytest.raises(ParameterError, match="rule must be one of"):
        LayerParams().updated(rule="hebb")


def test_the_rule_cannot_be_swapped_on_a_built_layer():
    net = Network.from_spec("2x1x1-2")
    with pytest.raises(ParameterError, match="chosen when the network is built"):
        net.top.params = net.top.params.updated(rule="rstdp")


def test_static_layer_takes_any_real_weights_a_bias_and_never_learns():
    net = Network.from_spec("3x1x1-2", layers={"fc1": {"rule": "static", "theta_learn": 1.0, "r_infer": None,
                                                       "reset": "subtract"}})
    fc = net.top
    w = np.array([[2.5, -1.0, 0.5], [-0.25, 1.5, 3.0]]).reshape(2, 1, 1, 3)
    fc.set_weights(w, bias=[0.5, -0.5])
    net.set_learning(True)  # no effect on a static layer
    assert fc.const(net.dt_us).learning == 0 and fc.const(net.dt_us).rule == K.RULE_STATIC
    net.reset_state()
    np.testing.assert_array_equal(fc.v_infer, [0.5, -0.5])  # V(0) = b
    # inputs 0 and 2: neuron 0 gets 0.5 + 2.5 + 0.5 = 3.5 -> spikes, 2.5 left (subtract);
    # neuron 1 gets -0.5 - 0.25 + 3.0 = 2.25 -> spikes, 1.25 left
    out = feed(net, [[(0, 0, 0), (2, 0, 0)]])
    assert sorted(out.top_neurons) == [0, 1] and out.counts[0, 0] == 0
    np.testing.assert_allclose(fc.v_infer, [2.5, 1.25])
    np.testing.assert_array_equal(fc.weights, w)  # unchanged: no rule
    with pytest.raises(ParameterError, match="bias"):
        Network.from_spec("3x1x1-2").top.set_weights(np.full((2, 1, 1, 3), 0.5), bias=[0.0, 0.0])
    with pytest.raises(ParameterError, match="range"):
        Network.from_spec("3x1x1-2").top.set_weights(w)  # an STDP layer's weights stay in [0, 1]


def test_labels_reach_only_rstdp_layers_and_can_be_withheld():
    net = Network.from_spec("4x1x1-2", layers={"fc1": {"theta_learn": 0.9, "theta_infer": 100.0, "rule": "rstdp"}})
    net.top.set_decision_map(np.array([0, 1]))
    set_weights(net.top, 0.5)
    before = net.top.weights.copy()
    from .conftest import chunk_of

    net.run(chunk_of([[(0, 0, 0), (1, 0, 0)]], net.now, labels=[0]), labels=np.array([-1]))
    np.testing.assert_array_equal(net.top.weights, before)  # withheld: no reward, no learning
    net.run(chunk_of([[(0, 0, 0), (1, 0, 0)]], net.now, labels=[0]))
    assert not np.array_equal(net.top.weights, before)


def test_checkpoint_state_is_validated_field_by_field():
    net = Network.from_spec("4x4x1-2C3-3", seed=0)
    state = net.state_dict()
    bad = net.state_dict()
    bad["layers"]["conv1"]["v_learn"] = bad["layers"]["conv1"]["v_learn"].copy()
    bad["layers"]["conv1"]["v_learn"][0] = np.nan
    with pytest.raises(CheckpointError, match="conv1.*v_learn.*NaN"):
        net.load_state_dict(bad)
    bad = net.state_dict()
    bad["layers"]["fc1"]["w"][0] = 1.5
    with pytest.raises(CheckpointError, match="fc1.*range"):
        net.load_state_dict(bad)
    bad = net.state_dict()
    bad["layers"]["fc1"]["t_ref"] = bad["layers"]["fc1"]["t_ref"].astype(float)
    with pytest.raises(CheckpointError, match="t_ref.*dtype"):
        net.load_state_dict(bad)
    other = Network.from_spec("4x4x1-2C3-3", layers={"fc1": {"rule": "rstdp"}})
    with pytest.raises(CheckpointError, match="rule"):
        other.load_state_dict(state)
    net.load_state_dict(state)  # the good one still loads


def test_neuron_orders_convert_both_ways():
    hwf = np.arange(24)
    fhw = K.hwf_to_fhw(hwf, 4, 6)
    assert sorted(fhw) == list(range(24))
    np.testing.assert_array_equal(K.fhw_to_hwf(fhw, 4, 6), hwf)
    assert K.hwf_to_fhw(np.array([5]), 4, 6)[0] == 1 * 6 + 1  # pos 1, map 1
