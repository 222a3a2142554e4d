"""STDP (thesis eq. 3.4) and R-STDP on winners, with hand-computed expectations (SPEC 3, 7)."""
import math

import numpy as np
import pytest

from stdpnet import Network, ParameterError, STDPParams
from stdpnet.rules import stdp_update_reference

from .conftest import feed, set_weights


def three_input_neuron(weights, alpha_minus=-0.01, **stdp):
    net = Network.from_spec("3x1x1-1", layers={"fc1": {
        "theta_learn": 0.5, "theta_infer": 100.0, "stdp": {"alpha_minus": alpha_minus, **stdp}}})
    set_weights(net.layer("fc1"), np.asarray(weights, float).reshape(1, 1, 1, 3))
    return net, net.layer("fc1")


def test_default_alpha_plus_is_minus_eight_alpha_minus():
    assert STDPParams(alpha_minus=-0.01).alpha_plus == pytest.approx(0.08)


def test_potentiation_since_t_ref_including_same_tick_and_depression_otherwise():
    net, fc = three_input_neuron([0.2, 0.5, 0.9])
    # tick 0: input 0 -> V = 0.2; tick 2: input 1 -> V = 0.7 >= 0.5: learning spike at tick 2
    feed(net, [[(0, 0, 0)], [], [(1, 0, 0)]])
    w = fc.weights.ravel()
    assert w[0] == pytest.approx(0.2 + 0.08 * math.exp(-3 * 0.2), abs=1e-15)  # causal (earlier tick)
    assert w[1] == pytest.approx(0.5 + 0.08 * math.exp(-3 * 0.5), abs=1e-15)  # causal (same tick)
    assert w[2] == pytest.approx(0.9 - 0.01, abs=1e-15)  # never active: depressed
    assert fc.t_ref[0] == 2
    w_before = w.copy()
    # tick 3: input 2 alone crosses; inputs 0 and 1 last spiked at or before t_ref = 2: depressed
    feed(net, [[(2, 0, 0)]])
    w = fc.weights.ravel()
    assert w[0] == pytest.approx(w_before[0] - 0.01, abs=1e-15)
    assert w[1] == pytest.approx(w_before[1] - 0.01, abs=1e-15)
    assert w[2] == pytest.approx(w_before[2] + 0.08 * math.exp(-3 * w_before[2]), abs=1e-15)


def test_weights_are_clipped_to_unit_interval():
    net, fc = three_input_neuron([0.005, 0.999, 0.7], alpha_minus=-0.05)
    feed(net, [[(1, 0, 0)]])  # input 1 (0.999) crosses alone: +0.4 exp(-3) -> clipped at 1
    w = fc.weights.ravel()
    assert w[0] == 0.0 and w[1] == 1.0 and w[2] == pytest.approx(0.65)


def test_general_form_with_beta_minus_and_weight_range():
    p = STDPParams(alpha_minus=-0.01, beta_minus=1.0, w_min=-1.0, w_max=1.0)
    w = np.array([0.3, 0.3])
    out = stdp_update_reference(w, np.array([True, False]), p)
    assert out[0] == pytest.approx(0.3 + 0.08 * math.exp(-3 * 1.3 / 2))
    assert out[1] == pytest.approx(0.3 - 0.01 * math.exp(-1 * 0.7 / 2))
    net, fc = three_input_neuron([0.3, 0.6, 0.3], alpha_minus=-0.01, beta_minus=1.0, w_min=-1.0, w_max=1.0)
    feed(net, [[(1, 0, 0)]])
    expected = stdp_update_reference(np.array([0.3, 0.6, 0.3]), np.array([False, True, False]), p)
    np.testing.assert_allclose(fc.weights.ravel(), expected, rtol=0, atol=1e-15)


def test_equilibrium_weight_matches_ln_8p_over_1_minus_p_over_3():
    """A neuron that fires every tick sees input j as causal exactly when j is active in that tick,
    so weights settle where p a+ exp(-3w) + (1-p) a- = 0."""
    n, p_low, p_high = 200, 0.3, 0.6
    net = Network.from_spec(f"{n}x1x1-1", seed=3, layers={"fc1": {
        "theta_learn": 1e-6, "theta_infer": 1e9, "stdp": {"alpha_minus": -0.002}}})
    rng = np.random.default_rng(0)
    p = np.where(np.arange(n) < n // 2, p_low, p_high)
    ticks = [[(int(j), 0, 0) for j in np.flatnonzero(rng.random(n) < p)] for _ in range(6000)]
    feed(net, ticks, record=False)
    w = net.layer("fc1").weights.ravel()
    params = STDPParams(alpha_minus=-0.002)
    for sel, prob in ((slice(0, n // 2), p_low), (slice(n // 2, n), p_high)):
        expected = math.log(8 * prob / (1 - prob)) / 3
        assert expected == pytest.approx(params.equilibrium_weight(prob))
        assert w[sel].mean() == pytest.approx(expected, abs=0.02)


def test_kernel_update_uses_the_receptive_field_of_the_winning_position():
    net = Network.from_spec("4x1x1-1C1", layers={"conv1": {"theta_learn": 0.5, "stdp": {"alpha_minus": -0.01}}})
    # 1x1 kernel shared by 4 positions; the winner at x=2 sees its own input as causal
    conv = net.layer("conv1")
    set_weights(conv, 0.6)
    feed(net, [[(2, 0, 0)]])
    assert conv.weights.ravel()[0] == pytest.approx(0.6 + 0.08 * math.exp(-1.8))


def rstdp_net(decision, label):
    net = Network.from_spec("2x1x1-2", layers={"fc1": {
        "theta_learn": 0.5, "theta_infer": 100.0, "rule": "rstdp",
        "rstdp": {"soft_bound": False, "w_min": 0.0, "w_max": 1.0}}})
    fc = net.layer("fc1")
    fc.set_decision_map(decision)
    w = np.zeros((2, 1, 1, 2))
    w[0, 0, 0] = [0.6, 0.5]  # neuron 0 wins on input 0
    w[1, 0, 0] = [0.1, 0.1]
    set_weights(fc, w)
    feed(net, [[(0, 0, 0)]], labels=[label])
    return fc.weights[0].ravel()


def test_rstdp_rewards_the_right_class_and_punishes_the_wrong_one():
    rewarded = rstdp_net([0, 1], label=0)
    assert rewarded == pytest.approx([0.6 + 0.004, 0.5 - 0.003])
    punished = rstdp_net([1, 0], label=0)
    assert punished == pytest.approx([0.6 - 0.004, 0.5 + 0.0005])
    no_label = rstdp_net([0, 1], label=-1)
    assert no_label == pytest.approx([0.6, 0.5])


def test_rstdp_soft_bound_scales_by_w_one_minus_w():
    net = Network.from_spec("1x1x1-1", layers={"fc1": {
        "theta_learn": 0.5, "rule": "rstdp", "rstdp": {"w_min": 0.0, "w_max": 1.0}}})
    fc = net.layer("fc1")
    fc.set_decision_map([3])
    set_weights(fc, 0.6)
    feed(net, [[(0, 0, 0)]], labels=[3])
    assert fc.weights.ravel()[0] == pytest.approx(0.6 + 0.004 * 0.6 * 0.4)


@pytest.mark.parametrize("bad", [{"alpha_minus": float("nan")}, {"alpha_minus": 0.01},
                                 {"beta_plus": -1.0}, {"w_min": 1.0, "w_max": 0.0}])
def test_bad_stdp_parameters_are_refused(bad):
    with pytest.raises(ParameterError):
        STDPParams(**bad)
