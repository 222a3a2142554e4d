"""R-STDP readout (SPEC section 7): decision maps, attaching the rule, reward vs punishment."""
import numpy as np
import pytest

from stdpnet import Network, ParameterError, RSTDPParams, STDPParams
from stdpnet import kernels as K
from stdpnet.readouts import RSTDPReadout, decision_map, make_readout

from .conftest import readout_chunk as chunk, readout_result as result, feed, set_weights


@pytest.mark.parametrize("n, c", [(10, 2), (1024, 10), (7, 3), (3, 3)])
def test_decision_maps_give_equal_shares(n, c):
    for kind in ("blocks", "interleaved"):
        d = decision_map(n, c, kind)
        shares = np.bincount(d, minlength=c)
        assert shares.sum() == n and shares.max() - shares.min() <= 1
    np.testing.assert_array_equal(decision_map(6, 3, "blocks"), [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(decision_map(6, 3, "interleaved"), [0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError):
        decision_map(2, 3)


def test_attach_gives_the_rstdp_top_layer_its_decision_map_and_rewrites_nothing():
    net = Network.from_spec("4x1x1-3C1-6", layers={"fc1": {"init_mean": 0.95, "rule": "rstdp",
                                                            "rstdp": {"a_r_plus": 0.01}}})
    top = net.top
    params_before = top.params
    ro = make_readout("rstdp", net, 3, assignment="interleaved")
    assert top.params is params_before  # a readout never rewrites a layer
    assert isinstance(top.rule, RSTDPParams) and top.rule.a_r_plus == 0.01
    assert isinstance(net.learning_layers[0].rule, STDPParams)
    np.testing.assert_array_equal(top.decision_map, [0, 1, 2, 0, 1, 2])
    const = top.const(net.dt_us)
    assert const.rule == K.RULE_RSTDP and const.alpha_plus == 0.01
    assert top.w.max() <= top.rule.w_max  # initial weights drawn inside the R-STDP range
    assert isinstance(ro, RSTDPReadout)
    plain = Network.from_spec("4x1x1-3C1-6")
    with pytest.raises(ParameterError, match="rule"):
        make_readout("rstdp", plain, 3)


def rstdp_net():
    net = Network.from_spec("4x1x1-2", layers={"fc1": {"theta_learn": 0.9, "theta_infer": 100.0, "rule": "rstdp"}})
    make_readout("rstdp", net, 2)  # blocks: neuron 0 -> class 0, neuron 1 -> class 1
    fc = net.top
    w = np.empty((2, 1, 1, 4))
    w[0], w[1] = 0.5, 0.3
    set_weights(fc, w)
    return net, fc


def test_reward_and_punishment_move_weights_in_opposite_directions():
    changes = {}
    for label in (0, 1):
        net, fc = rstdp_net()
        before = fc.weights.copy()
        # inputs 0 and 1 in one tick: V_learn of neuron 0 = 1.0 >= 0.9, neuron 1 = 0.6
        feed(net, [[(0, 0, 0), (1, 0, 0)]], labels=[label])
        changes[label] = (fc.weights - before)[:, 0, 0, :]
        assert not changes[label][1].any()  # the loser is untouched
    reward, punish = changes[0][0], changes[1][0]
    assert (reward[:2] > 0).all() and (reward[2:] < 0).all()  # causal up, others down
    assert (punish[:2] < 0).all() and (punish[2:] > 0).all()  # anti-STDP
    # no label: no learning at all
    net, fc = rstdp_net()
    before = fc.weights.copy()
    feed(net, [[(0, 0, 0), (1, 0, 0)]], labels=[-1])
    np.testing.assert_array_equal(fc.weights, before)


def test_prediction_is_the_class_of_the_most_active_neuron():
    net = Network.from_spec("4x1x1-4", layers={"fc1": {"rule": "rstdp"}})
    ro = make_readout("rstdp", net, 2)  # [0, 0, 1, 1]
    ch = chunk([0, 0, 0, 1, 1], [1, 1, 1, 0, 0])
    net.top.v_infer[:] = [0.0, 0.2, 0.0, 0.0]  # read at the chunk's end, where sample 1 is open
    out = ro.process(result(ch, [(0, 2), (1, 3), (2, 3), (3, 0), (4, 1)]), ch, net, True)
    assert [(o.sample, o.winner, o.predicted, o.correct) for o in out] == [(0, 3, 1, True)]
    net.top.v_infer[:] = 0.0
    ch = chunk([2], [1], 5)
    out = ro.process(result(ch, []), ch, net, True)
    # sample 1: neurons 0 and 1 spiked once each; the tie goes to the larger V_infer (neuron 1)
    assert out[0].winner == 1 and out[0].predicted == 0 and out[0].correct
    out = ro.flush(net)
    assert out[0].silent and out[0].predicted == -1


def test_conv_top_layer_neurons_carry_their_maps_class():
    net = Network.from_spec("3x1x1-2C1", layers={"conv1": {"rule": "rstdp"}})  # public index f*3 + x
    ro = RSTDPReadout(2, 2)
    ro.attach(net)
    ch = chunk([0, 0], [1, 1])
    ro.process(result(ch, [(0, 4), (1, 4), (1, 0)]), ch, net, False)
    out = ro.flush(net)
    assert out[0].winner == 4 and out[0].predicted == 1
    state = ro.state_dict()
    other = RSTDPReadout(2, 2, assignment="interleaved")
    other.attach(Network.from_spec("3x1x1-2C1", layers={"conv1": {"rule": "rstdp"}}))
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.decision_map, ro.decision_map)
