"""SyntheticBars: determinism, format, and that its classes really differ."""
from __future__ import annotations

import time

import numpy as np
import pytest

from streams import EVENT_DTYPE, SyntheticBars


def test_format_and_labels():
    bars = SyntheticBars(n_samples=200, seed=1)
    assert len(bars) == 200 and bars.sensor_size == (16, 16, 2)
    assert bars.classes == [0, 1, 2, 3]
    assert set(bars.labels.tolist()) == {0, 1, 2, 3}
    for i in (0, 57, 199):
        events, label = bars[i]
        assert label == bars.labels[i]
        assert events.dtype == EVENT_DTYPE
        assert np.all(np.diff(events["t"]) >= 0)
        assert events["t"].min() >= 0 and events["t"].max() < bars.duration_us
        assert events["x"].max() < 16 and events["y"].max() < 16
        assert set(np.unique(events["p"]).tolist()) == {0, 1}
        assert 400 < len(events) < 600  # 2 x 256 pixels, minus 5 % dropped, plus ~10 noise


def test_deterministic_whatever_the_order():
    bars = SyntheticBars(n_samples=50, seed=3)
    forward = [bars[i][0] for i in range(50)]
    fresh = SyntheticBars(n_samples=50, seed=3)
    for i in reversed(range(50)):
        np.testing.assert_array_equal(fresh[i][0], forward[i])
    other = SyntheticBars(n_samples=50, seed=4)
    assert not np.array_equal(other[0][0], forward[0])


def on_time_map(events, size=16):
    """Mean ON-event time per pixel (NaN where none)."""
    on = events[events["p"] == 1]
    total = np.zeros((size, size))
    count = np.zeros((size, size))
    np.add.at(total, (on["y"], on["x"]), on["t"])
    np.add.at(count, (on["y"], on["x"]), 1)
    with np.errstate(invalid="ignore"):
        return total / count


def test_classes_are_oriented_sweeps():
    """The ON wave front is a line at the class's orientation: its time is constant along it."""
    bars = SyntheticBars(n_samples=40, noise_events=0.0, drop_probability=0.0, jitter_us=0.0, seed=0)
    for i in range(8):
        events, label = bars[i]
        times = on_time_map(events)
        along_row = np.nanstd(times, axis=1).mean()  # constant along rows: horizontal bar
        along_col = np.nanstd(times, axis=0).mean()  # constant along columns: vertical bar
        diag = np.mean([np.nanstd(np.diagonal(times, k)) for k in range(-8, 9)])  # 135 deg
        anti = np.mean([np.nanstd(np.diagonal(times[:, ::-1], k)) for k in range(-8, 9)])  # 45 deg
        spreads = {0: along_row, 45: anti, 90: along_col, 135: diag}
        expected = int(bars.orientations_deg[label])
        assert min(spreads, key=spreads.get) == expected, (i, label, spreads)


def test_off_follows_on_at_each_pixel():
    bars = SyntheticBars(n_samples=4, noise_events=0.0, drop_probability=0.0, jitter_us=0.0)
    events, _ = bars[0]
    on = on_time_map(events)
    off_events = events[events["p"] == 0]
    off = np.zeros((16, 16))
    off[off_events["y"], off_events["x"]] = off_events["t"]
    assert np.all(off > on)


def test_configurable_classes_and_sensor():
    bars = SyntheticBars(n_samples=30, sensor_size=(24, 10, 2), orientations_deg=(0, 60, 120), duration_us=20_000)
    assert bars.classes == [0, 1, 2]
    events, label = bars[0]
    assert events["x"].max() < 24 and events["y"].max() < 10 and events["t"].max() < 20_000
    with pytest.raises(ValueError, match=r"\(W, H, 2\)"):
        SyntheticBars(sensor_size=(16, 16, 1))


def test_fast():
    bars = SyntheticBars(n_samples=2000)
    start = time.perf_counter()
    for i in range(2000):
        bars[i]
    assert time.perf_counter() - start < 2.0  # about 80 us per sample measured
