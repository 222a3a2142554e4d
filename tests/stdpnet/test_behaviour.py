"""Behavioural check: a conv layer trained online on moving oriented bars learns oriented edges."""
import numpy as np

import streams
from stdpnet import Network


def edge_coherence(kernel):
    """Coherence of the gradient structure tensor of a 2-D kernel, in [0, 1] (1: a straight edge),
    and the dominant gradient orientation in degrees [0, 180)."""
    gy, gx = np.gradient(kernel)
    j = np.array([[(gx * gx).sum(), (gx * gy).sum()], [(gx * gy).sum(), (gy * gy).sum()]])
    low, high = np.linalg.eigvalsh(j)
    coherence = ((high - low) / (high + low + 1e-12)) ** 2
    angle = np.degrees(0.5 * np.arctan2(2 * j[0, 1], j[0, 0] - j[1, 1])) % 180
    return coherence, angle


def test_conv_kernels_become_oriented_edge_detectors():
    bars = streams.SyntheticBars(n_samples=800, seed=1)
    net = Network.from_spec("16x16x2-8C5", seed=0,
                            layers={"conv1": {"theta_learn": 8.0, "stdp": {"alpha_minus": -0.005}}})
    before = net.layer("conv1").weights.copy()
    for chunk in streams.tick_chunks(streams.LabelledStream(bars), dt_us=net.dt_us):
        net.run(chunk)
    after = net.layer("conv1").weights
    # ON minus OFF: the leading edge of a bar is ON, its trailing edge OFF
    initial = [edge_coherence(k[1] - k[0])[0] for k in before]
    learned = [edge_coherence(k[1] - k[0]) for k in after]
    coherence = np.array([c for c, _ in learned])
    assert np.mean(initial) < 0.15
    assert coherence.mean() > 0.4
    assert (coherence > 0.5).sum() >= 5
    angles = np.array([a for c, a in learned if c > 0.5])
    spread = np.abs(((angles[:, None] - angles[None, :]) + 90) % 180 - 90).max()
    assert spread >= 45  # edges of at least two clearly different orientations
