"""Neuron dynamics and winner-take-all inhibition, with hand-computed expectations (SPEC 2, 4)."""
import math

import numpy as np
import pytest

from stdpnet import Network
from stdpnet.kernels import KIND_INFER, KIND_LEARN

from .conftest import feed, set_weights

NO_LEARNING_RATE = {"alpha_minus": 0.0}  # learning path active, weights frozen


def spikes(result, layer, kind):
    r = result.record
    sel = (r[:, 1] == layer) & (r[:, 2] == kind)
    return [(int(t), int(n)) for t, n in r[sel][:, [0, 3]]]


def test_both_accumulators_receive_the_same_weighted_input():
    net = Network.from_spec("3x3x1-1C3", layers={"conv1": {"theta_learn": 100, "stdp": NO_LEARNING_RATE}})
    layer = net.layer("conv1")
    w = np.arange(1, 10, dtype=float).reshape(1, 1, 3, 3) / 100
    set_weights(layer, w)
    feed(net, [[(0, 0, 0), (2, 1, 0)], [(2, 1, 0)]])
    expected = 0.01 + 2 * 0.06  # w[ky=0,kx=0] + 2 * w[ky=1,kx=2]
    assert layer.v_learn[0] == pytest.approx(expected, abs=1e-15)
    assert layer.v_infer[0] == pytest.approx(expected, abs=1e-15)
    assert net.counters[0, 2] == 3  # synaptic operations: 3 input spikes x 1 neuron


def test_crossings_reset_only_their_own_accumulator():
    net = Network.from_spec("1x1x1-1C1", layers={"conv1": {
        "theta_learn": 1.0, "theta_infer": 1.5, "stdp": NO_LEARNING_RATE}})
    layer = net.layer("conv1")
    set_weights(layer, 0.6)
    r = feed(net, [[(0, 0, 0)]] * 3)
    # tick 0: 0.6/0.6; tick 1: V_learn 1.2 >= 1 -> learning spike, V_infer 1.2; tick 2: V_infer 1.8 -> spike
    assert spikes(r, 0, KIND_LEARN) == [(1, 0)]
    assert spikes(r, 0, KIND_INFER) == [(2, 0)]
    assert layer.v_learn[0] == pytest.approx(0.6)
    assert layer.v_infer[0] == 0.0
    assert layer.t_ref[0] == 1


def test_learning_spike_propagates_nothing():
    net = Network.from_spec("1x1x1-1C1-1", layers={
        "conv1": {"theta_learn": 0.5, "theta_infer": 100.0, "stdp": NO_LEARNING_RATE}, "fc1": {"theta_learn": 100}})
    set_weights(net.layer("conv1"), 0.6)
    feed(net, [[(0, 0, 0)]] * 5)
    assert net.counters[0, 0] == 5  # five learning spikes in conv1
    assert net.counters[1, 2] == 0  # fc1 received no synaptic event


def test_inference_spike_learns_nothing_and_propagates():
    net = Network.from_spec("1x1x1-1C1-1", layers={
        "conv1": {"theta_learn": 100.0, "theta_infer": 0.5, "stdp": {"alpha_minus": -0.1}}, "fc1": {"theta_learn": 100}})
    conv = net.layer("conv1")
    set_weights(conv, 0.6)
    feed(net, [[(0, 0, 0)]] * 5)
    assert net.counters[0, 1] == 5 and net.counters[0, 0] == 0
    assert np.all(conv.weights == 0.6)
    assert conv.t_ref[0] == -1
    assert net.counters[1, 2] == 5  # each inference spike reached fc1


def test_intra_map_inhibition_reaches_every_position():
    net = Network.from_spec("5x5x1-1C3", layers={"conv1": {
        "theta_learn": 0.25, "theta_infer": 100.0, "stdp": NO_LEARNING_RATE}})
    layer = net.layer("conv1")
    set_weights(layer, 0.1)
    # the centre pixel feeds all 3x3 outputs; pixel (0, 0) only output (0, 0)
    r = feed(net, [[(2, 2, 0), (2, 2, 0), (0, 0, 0)]])
    assert spikes(r, 0, KIND_LEARN) == [(0, 0)]
    assert np.all(layer.v_learn == 0.0)
    assert np.all(layer.t_ref == 0)
    v_infer = layer.neuron_view(layer.v_infer)[0]
    assert v_infer[0, 0] == pytest.approx(0.3) and v_infer[1, 1] == pytest.approx(0.2)


@pytest.mark.parametrize("radius", [0, 1, 2])
def test_inter_map_inhibition_exactly_within_radius(radius):
    net = Network.from_spec("7x7x2-2C1", layers={"conv1": {
        "theta_learn": 0.9, "theta_infer": 100.0, "r_learn": radius, "stdp": NO_LEARNING_RATE}})
    layer = net.layer("conv1")
    w = np.zeros((2, 2, 1, 1))
    w[0, 0] = 1.0  # map 0 listens to channel 0
    w[1, 1] = 0.5  # map 1 listens to channel 1, never crosses alone
    set_weights(layer, w)
    everywhere_ch1 = [(x, y, 1) for y in range(7) for x in range(7)]
    feed(net, [everywhere_ch1, [(3, 3, 0)]])  # tick 1: map 0 wins at (x=3, y=3)
    v1 = layer.neuron_view(layer.v_learn)[1]
    t1 = layer.neuron_view(layer.t_ref)[1]
    yy, xx = np.mgrid[0:7, 0:7]
    inside = (abs(yy - 3) <= radius) & (abs(xx - 3) <= radius)
    assert np.all(v1[inside] == 0.0) and np.all(t1[inside] == 1)
    assert np.all(v1[~inside] == 0.5) and np.all(t1[~inside] == -1)
    assert np.all(layer.neuron_view(layer.v_infer)[1] == 0.5)  # inference accumulators untouched


def two_maps_one_position(w_map0, w_map1, seed=1, **params):
    net = Network.from_spec("1x1x2-2C1", seed=seed, layers={"conv1": {
        "theta_learn": 1.0, "theta_infer": 1.0, "r_learn": 0, "stdp": NO_LEARNING_RATE, **params}})
    w = np.zeros((2, 2, 1, 1))
    w[0, :, 0, 0] = w_map0
    w[1, :, 0, 0] = w_map1
    set_weights(net.layer("conv1"), w)
    return net


def test_same_tick_conflict_goes_to_the_larger_potential():
    net = two_maps_one_position([0.6, 0.5], [0.5, 0.6])
    r = feed(net, [[(0, 0, 0), (0, 0, 0), (0, 0, 1)]])  # map 0: 1.7, map 1: 1.6
    assert spikes(r, 0, KIND_LEARN) == [(0, 0)]
    assert spikes(r, 0, KIND_INFER) == [(0, 0)]  # r_infer = 0: same position, other map inhibited
    layer = net.layer("conv1")
    assert layer.v_learn[1] == 0.0 and layer.v_infer[1] == 0.0


def test_without_inference_inhibition_both_maps_fire():
    net = two_maps_one_position([0.6, 0.5], [0.5, 0.6], r_infer=None)
    r = feed(net, [[(0, 0, 0), (0, 0, 0), (0, 0, 1)]])
    assert sorted(spikes(r, 0, KIND_INFER)) == [(0, 0), (0, 1)]
    assert spikes(r, 0, KIND_LEARN) == [(0, 0)]


def test_exact_ties_are_broken_by_the_seeded_rng():
    winners = []
    for seed in range(24):
        net = two_maps_one_position([1.0, 0.0], [1.0, 0.0], seed=seed)
        r = feed(net, [[(0, 0, 0)]])
        (won,) = spikes(r, 0, KIND_LEARN)
        again = two_maps_one_position([1.0, 0.0], [1.0, 0.0], seed=seed)
        assert spikes(feed(again, [[(0, 0, 0)]]), 0, KIND_LEARN) == [won]
        winners.append(won[1])
    assert set(winners) == {0, 1}


def test_leak_decays_exponentially_between_inputs():
    net = Network.from_spec("1x1x1-1C1", layers={"conv1": {
        "theta_learn": 100.0, "leak_tau_us": 10_000.0, "stdp": NO_LEARNING_RATE}})
    layer = net.layer("conv1")
    set_weights(layer, 1.0)
    feed(net, [[(0, 0, 0)]] + [[]] * 9 + [[(0, 0, 0)]])  # inputs at ticks 0 and 10, tau = 10 ticks
    assert layer.v_infer[0] == pytest.approx(math.exp(-1.0) + 1.0, rel=1e-12)
    assert layer.v_learn[0] == pytest.approx(math.exp(-1.0) + 1.0, rel=1e-12)


def test_refractory_period_ignores_input():
    net = Network.from_spec("1x1x1-1C1", layers={"conv1": {
        "theta_learn": 100.0, "theta_infer": 1.5, "refractory_us": 3000.0, "stdp": NO_LEARNING_RATE}})
    layer = net.layer("conv1")
    set_weights(layer, 1.0)
    r = feed(net, [[(0, 0, 0)]] * 5)
    # tick 1: V = 2 -> spike; ticks 2, 3 refractory (1 and 2 ticks after); tick 4 integrates
    assert spikes(r, 0, KIND_INFER) == [(1, 0)]
    assert layer.v_infer[0] == 1.0


def test_reset_by_subtraction_keeps_the_surplus():
    net = Network.from_spec("1x1x1-1C1", layers={"conv1": {
        "theta_learn": 100.0, "theta_infer": 1.5, "reset": "subtract", "stdp": NO_LEARNING_RATE}})
    layer = net.layer("conv1")
    set_weights(layer, 1.0)
    r = feed(net, [[(0, 0, 0)]] * 3)  # 1.0; 2.0 -> spike -> 0.5; 1.5 -> spike -> 0.0
    assert spikes(r, 0, KIND_INFER) == [(1, 0), (2, 0)]
    assert layer.v_infer[0] == 0.0


def test_pooling_forwards_every_spike_and_floors_the_size():
    net = Network.from_spec("5x5x1-1C1-P2-1", layers={
        "conv1": {"theta_learn": 100.0, "theta_infer": 0.5, "r_infer": None, "stdp": NO_LEARNING_RATE},
        "fc1": {"theta_learn": 100.0, "stdp": NO_LEARNING_RATE}})
    set_weights(net.layer("conv1"), 1.0)
    fc = net.layer("fc1")
    assert fc.in_shape == (1, 2, 2)
    feed(net, [[(x, y, 0) for y in range(5) for x in range(5)]])
    assert net.counters[0, 1] == 25
    # 25 conv spikes; the 9 in row 4 or column 4 fall outside the 2x2 pooled map: 16 arrive, 4 per unit
    assert net.counters[1, 2] == 16
    assert fc.v_infer[0] == pytest.approx(4 * fc.w.sum())
