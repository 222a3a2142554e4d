"""Operation counts and energy estimates, by hand and from a real network's counters."""
from __future__ import annotations

import numpy as np
import pytest

from stdpnet import Network
from stdpnet.errors import ParameterError
from stdpnet.metrics import PassStats, RunningAccuracy, confusion_matrix, peak_rss_mb  # still importable
from stdpnet.metrics.ops import (
    ENERGY_NOTE,
    PJ_PER_AC,
    PJ_PER_MAC,
    conv2d_macs,
    dense_macs,
    energy_estimate_uj,
    synaptic_ops,
)
from streams import LabelledStream, SyntheticBars, tick_chunks


def test_energy_estimate_by_hand():
    assert (PJ_PER_AC, PJ_PER_MAC) == (0.9, 4.6)
    assert energy_estimate_uj(1_000_000, 0) == pytest.approx(0.9)
    assert energy_estimate_uj(0, 1_000_000) == pytest.approx(4.6)
    assert energy_estimate_uj(1000, 500) == pytest.approx((900 + 2300) * 1e-6)  # 3200 pJ
    assert "estimate" in ENERGY_NOTE
    for bad in (-1, float("nan"), "5", True):
        with pytest.raises(ParameterError, match="acs"):
            energy_estimate_uj(bad, 0)


def test_synaptic_ops_from_counter_arrays():
    counts = np.array([[5, 7, 100], [1, 2, 30]])  # (learning, inference, synops) per layer
    ops = synaptic_ops(counts, ["conv1", "fc1"], samples=10)
    assert ops.per_layer == {"conv1": 100, "fc1": 30} and ops.total == 130 and ops.per_sample == 13.0
    assert ops.acs == 130
    figures = ops.to_dict()
    assert figures["synops_per_layer_per_sample"] == {"conv1": 10.0, "fc1": 3.0}
    assert figures["energy_estimate_uj"] == pytest.approx(130 * 0.9e-6)
    assert figures["effective_macs"] == 0 and figures["energy_note"] == ENERGY_NOTE
    both = synaptic_ops([100, 30], samples=10, acs_per_synop=2)
    assert both.per_layer == {"layer0": 100, "layer1": 30} and both.acs == 260
    assert synaptic_ops({"conv1": {"synops": 4, "learning_spikes": 1}, "readout": 6}).total == 10


@pytest.mark.parametrize("args, message", [
    ((np.zeros((2, 4)),), "shape"),
    ((np.zeros((2, 3)), ["a"]), "1 layer names for 2 layers"),
    (({"conv1": {"spikes": 1}},), "no 'synops' entry"),
    (([-1],), ">= 0"),
])
def test_synaptic_ops_errors(args, message):
    with pytest.raises(ParameterError, match=message):
        synaptic_ops(*args)


def test_synaptic_ops_of_a_real_network_run():
    net = Network.from_spec("synthetic", seed=0)
    data = SyntheticBars(n_samples=2, sensor_size=net.sensor_size, seed=0)
    for chunk in tick_chunks(LabelledStream(data)):
        net.run(chunk)
    ops = synaptic_ops(net.counter_dict(), samples=2)
    assert ops.total == int(net.counters[:, 2].sum()) > 0
    assert ops.per_layer == synaptic_ops(net.counters, [l.name for l in net.learning_layers]).per_layer


def test_mac_counts():
    assert dense_macs(784, 100) == 78_400
    assert conv2d_macs(2, 16, 5, 30, 30) == 2 * 25 * 16 * 900
    with pytest.raises(ParameterError, match="kernel"):
        conv2d_macs(2, 16, -5, 30, 30)
