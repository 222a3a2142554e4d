"""Domain transforms: each checked on hand-made events against a hand-computed result."""
from __future__ import annotations

import numpy as np
import pytest

from streams import EventStreamError, make_events
from streams.transforms import (
    Compose,
    Mirror,
    PolaritySwap,
    Rotate180,
    TimeScale,
    Transpose,
    UniformNoise,
    transformed_duration,
)

# tonic's DVS dtype: fields in another order and wider types; transforms must keep it
TONIC_DTYPE = np.dtype([("x", "<i8"), ("y", "<i8"), ("p", "<i8"), ("t", "<i8")])


def events(x, y, t, p):
    return make_events(x, y, t, p)


def test_time_scale_multiplies_time_relative_to_the_first_event():
    ev = events([0, 1, 2, 3], [0, 0, 1, 1], [1000, 1001, 1003, 1010], [0, 1, 0, 1])
    assert TimeScale(2.0)(ev)["t"].tolist() == [1000, 1002, 1006, 1020]
    # floor(0.25 * [0, 1, 3, 10]) = [0, 0, 0, 2]
    assert TimeScale(0.25)(ev)["t"].tolist() == [1000, 1000, 1000, 1002]
    out = TimeScale(3.0)(ev)
    assert out["x"].tolist() == [0, 1, 2, 3] and out["p"].tolist() == [0, 1, 0, 1]
    assert ev["t"].tolist() == [1000, 1001, 1003, 1010]  # input untouched


def test_time_scale_with_a_fixed_origin_and_its_duration():
    ev = events([0, 0], [0, 0], [3, 10], [0, 0])
    assert TimeScale(0.5, origin_us=0)(ev)["t"].tolist() == [1, 5]
    assert TimeScale(0.5).transformed_duration(301) == 151  # ceil(150.5)
    assert TimeScale(2).transformed_duration(301) == 602
    assert transformed_duration(None, 301) == 301
    assert transformed_duration(Mirror((4, 4, 2)), 301) == 301


@pytest.mark.parametrize("factor", [0, -1.0, float("nan"), float("inf"), True, "2"])
def test_time_scale_rejects_bad_factors(factor):
    with pytest.raises(EventStreamError, match="factor"):
        TimeScale(factor)


def test_polarity_swap():
    ev = events([0, 1, 2], [0, 0, 0], [0, 1, 2], [0, 1, 1])
    out = PolaritySwap()(ev)
    assert out["p"].tolist() == [1, 0, 0]
    assert out["x"].tolist() == [0, 1, 2] and out["t"].tolist() == [0, 1, 2]
    with pytest.raises(EventStreamError, match="nothing to swap"):
        PolaritySwap(1)
    with pytest.raises(EventStreamError, match="polarities span"):
        PolaritySwap(2)(events([0], [0], [0], [2]))


def test_mirror_rotate_transpose_on_a_small_sensor():
    ev = events([0, 3, 1], [0, 1, 2], [5, 6, 7], [1, 0, 1])
    mirrored = Mirror((4, 3, 2))(ev)
    assert mirrored["x"].tolist() == [3, 0, 2] and mirrored["y"].tolist() == [0, 1, 2]
    rotated = Rotate180((4, 3, 2))(ev)
    assert rotated["x"].tolist() == [3, 0, 2] and rotated["y"].tolist() == [2, 1, 0]
    square = events([0, 2, 1], [2, 0, 1], [5, 6, 7], [1, 0, 1])
    transposed = Transpose((3, 3, 2))(square)
    assert transposed["x"].tolist() == [2, 0, 1] and transposed["y"].tolist() == [0, 2, 1]
    for out in (mirrored, rotated, transposed):
        assert out["t"].tolist() == [5, 6, 7] and out["p"].tolist() == [1, 0, 1]


def test_geometric_transforms_are_involutions_and_keep_the_dtype():
    rng = np.random.default_rng(0)
    ev = np.zeros(50, TONIC_DTYPE)
    ev["x"], ev["y"] = rng.integers(0, 5, 50), rng.integers(0, 5, 50)
    ev["t"], ev["p"] = np.arange(50), rng.integers(0, 2, 50)
    for transform in (Mirror((5, 5, 2)), Rotate180((5, 5, 2)), Transpose((5, 5, 2)), PolaritySwap()):
        out = transform(ev)
        assert out.dtype == TONIC_DTYPE
        assert np.array_equal(transform(out), ev)


def test_geometric_transforms_reject_events_outside_their_sensor():
    with pytest.raises(EventStreamError, match="outside the 4x3 sensor"):
        Mirror((4, 3, 2))(events([4], [0], [0], [0]))
    with pytest.raises(EventStreamError, match="not square"):
        Transpose((4, 3, 2))


def test_uniform_noise_within_sensor_window_sorted_and_keeps_the_originals():
    ev = events([1, 2, 3], [1, 1, 1], [1000, 5000, 21000], [0, 1, 0])
    noise = UniformNoise((10, 8, 2), rate_hz=500.0, seed=3)
    out = noise(ev)
    # mean = 500 Hz * 80 pixels * 20001 us * 1e-6 = 800.04 events
    assert 700 < len(out) - len(ev) < 900
    assert np.all(np.diff(out["t"]) >= 0)
    assert out["t"].min() == 1000 and out["t"].max() == 21000  # within [t_first, t_last]
    assert out["x"].min() >= 0 and out["x"].max() < 10 and out["y"].max() < 8
    assert set(np.unique(out["p"]).tolist()) == {0, 1}
    originals = {tuple(e) for e in ev.tolist()}
    assert originals <= {tuple(e) for e in out.tolist()}
    assert np.array_equal(noise(ev), out)  # same sample, same noise
    assert not np.array_equal(UniformNoise((10, 8, 2), 500.0, seed=4)(ev), out)
    other = events([1, 2, 3], [1, 1, 2], [1000, 5000, 21000], [0, 1, 0])
    assert not np.array_equal(noise(other)[["t"]], out[["t"]])  # another sample, other noise


def test_uniform_noise_rate_is_per_pixel():
    ev = events([0, 0], [0, 0], [0, 999_999], [0, 0])  # a 1 s window
    counts = [len(UniformNoise((w, h, 2), rate_hz=20.0, seed=0)(ev)) - 2 for w, h in ((10, 10), (20, 20))]
    # 20 Hz/px * 100 px * 1 s = 2000 and 20 Hz/px * 400 px * 1 s = 8000 (Poisson sd 45 and 89)
    assert abs(counts[0] - 2000) < 5 * 45 and abs(counts[1] - 8000) < 5 * 89
    out = UniformNoise((10, 10, 2), rate_hz=20.0, seed=0)(ev)
    per_pixel = np.bincount(out["y"].astype(int) * 10 + out["x"], minlength=100)
    assert per_pixel.min() > 0 and per_pixel.max() < 3 * per_pixel.mean()


def test_uniform_noise_with_a_fixed_duration_and_edge_cases():
    ev = events([0], [0], [50], [0])
    out = UniformNoise((4, 4, 1), rate_hz=10_000.0, seed=1, duration_us=1000)(ev)
    assert out["t"].min() >= 0 and out["t"].max() < 1000 and out["t"].min() < 50
    assert set(np.unique(out["p"]).tolist()) == {0}
    assert np.array_equal(UniformNoise((4, 4, 2), 0.0)(ev), ev)
    empty = events([], [], [], [])
    assert len(UniformNoise((4, 4, 2), 100.0)(empty)) == 0
    with pytest.raises(EventStreamError, match="rate_hz"):
        UniformNoise((4, 4, 2), -1.0)


def test_compose_applies_in_order_and_composes_durations():
    ev = events([0, 3], [0, 0], [100, 110], [0, 1])
    composed = Compose((Mirror((4, 4, 2)), TimeScale(2.0), PolaritySwap()))
    out = composed(ev)
    assert out["x"].tolist() == [3, 0] and out["t"].tolist() == [100, 120] and out["p"].tolist() == [1, 0]
    assert composed.transformed_duration(11) == 22
