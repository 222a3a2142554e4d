"""RealTimeReplay on a fake clock: no real sleeping."""
from __future__ import annotations

import numpy as np
import pytest

import streams
from streams import LabelledStream, RealTimeReplay, tick_chunks


class FakeClock:
    """A clock that only moves when slept on (or when work is simulated with advance())."""

    def __init__(self, start=100.0):
        self.now = start
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds):
        self.now += seconds


def make_chunks(n_samples=4, duration_us=20_000):
    bars = streams.SyntheticBars(n_samples=n_samples, duration_us=duration_us)
    return list(tick_chunks(LabelledStream(bars), dt_us=1000))


@pytest.mark.parametrize("speed", [1.0, 4.0, 0.5])
def test_items_released_at_their_stream_end(speed):
    chunks = make_chunks()
    clock = FakeClock()
    released = []
    for chunk in RealTimeReplay(chunks, speed=speed, clock=clock, sleep=clock.sleep):
        released.append(clock.now - 100.0)
    ends_s = np.array([(c.start_tick + c.n_ticks) * c.dt_us * 1e-6 for c in chunks])
    np.testing.assert_allclose(released, ends_s / speed)
    assert sum(clock.sleeps) == pytest.approx(ends_s[-1] / speed)


def test_slow_consumer_is_not_delayed_further():
    chunks = make_chunks()
    clock = FakeClock()
    replay = RealTimeReplay(chunks, clock=clock, sleep=clock.sleep)
    for i, _ in enumerate(replay):
        if i == 0:
            clock.advance(0.05)  # 50 ms of work on a 20 ms chunk: the next chunks are late
    assert replay.late_items == 2
    assert replay.max_lag_s == pytest.approx(0.03)


def test_segments_can_be_paced_too():
    segments = list(LabelledStream(streams.SyntheticBars(n_samples=3, duration_us=10_000), gap_us=5_000))
    clock = FakeClock(0.0)
    times = [clock.now for _ in RealTimeReplay(segments, speed=2.0, clock=clock, sleep=clock.sleep)]
    assert times == pytest.approx([0.005, 0.0125, 0.02])


def test_bad_speed_and_items():
    with pytest.raises(ValueError, match="speed"):
        RealTimeReplay([], speed=0)
    with pytest.raises(TypeError, match="cannot pace int"):
        list(RealTimeReplay([3], clock=lambda: 0.0, sleep=lambda s: None))
