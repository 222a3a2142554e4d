"""PacedSource on a fake clock: what falls due when, its bounded buffer, marks, and the ticker on top."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import streams
from streams.live import DROP_NEWEST, DROP_OLDEST, WallClockTicker
from streams.pacing import PacedSource

from .live.conftest import FakeClock


def recording(times, t0=1_000_000):
    n = len(times)
    return streams.make_events(np.arange(n) % 10, np.zeros(n, int), t0 + np.asarray(times), np.zeros(n, int))


@pytest.mark.parametrize("speed", [1.0, 2.5])
def test_events_fall_due_at_speed_times_wall_time(speed):
    clock = FakeClock(10**9)
    source = PacedSource(recording([0, 400, 1000, 1001, 5000]), speed, clock=clock).start()
    assert source.poll()["t"].tolist() == [0]  # stream time since the first event
    clock.advance(round(1000 / speed * 1000))  # 1000 us of stream time
    assert source.now_us() == 1000
    assert source.poll()["t"].tolist() == [400, 1000]
    clock.advance(round(10_000 / speed * 1000))
    assert source.poll(max_events=1)["t"].tolist() == [1001]
    assert source.poll()["t"].tolist() == [5000]
    assert source.poll_marks().size == 0  # a recording has no labels
    assert source.finished
    assert source.counters()["delivered"] == source.counters()["received"] == 5


@pytest.mark.parametrize("on_full, kept", [(DROP_OLDEST, [7, 8, 9]), (DROP_NEWEST, [0, 1, 2])])
def test_a_slow_consumer_loses_what_the_buffer_cannot_hold(on_full, kept):
    clock = FakeClock(0)
    source = PacedSource(recording(np.arange(10) * 100), clock=clock, buffer_events=3, on_full=on_full).start()
    clock.advance(2_000_000)  # everything is due; the consumer polls only now
    assert (source.poll()["t"] // 100).tolist() == kept
    counts = source.counters()
    assert counts["dropped_by_buffer"] == 7 and counts["received"] == 3


def test_labelled_stream_marks_and_ticks_match_the_offline_stream():
    bars = streams.SyntheticBars(n_samples=4, duration_us=6_000)
    stream = streams.LabelledStream(bars, gap_us=3_000)
    clock = FakeClock(0)
    source = PacedSource(stream, speed=4.0, clock=clock).start()
    ticker = WallClockTicker(1000, stream.sensor_size, stream.sensor_size, clock=source.now_us)
    chunks, marks = [], []
    for _ in range(200):  # a consumer waking every 0.3 ms of wall time (1.2 ms of stream time)
        clock.advance(300_000)
        new_marks = source.poll_marks()
        marks.append(new_marks)
        ticker.push_marks(new_marks)
        chunks += ticker.step(source.poll())
    assert source.finished
    marks = np.concatenate(marks)
    segments = list(stream)
    expected = []
    for s in segments:
        expected += [(s.t_start, s.label, s.index), (s.t_end, -1, -1)]
    assert list(zip(marks["t"].tolist(), marks["label"].tolist(), marks["index"].tolist())) == expected

    # the live ticks with events are exactly the offline ticks with events, labels included
    def nonempty(chunk_list):
        out = {}
        for c in chunk_list:
            for i in range(c.n_ticks):
                events = c.events[c.offsets[i]:c.offsets[i + 1]]
                if len(events):
                    out[c.start_tick + i] = (events.tolist(), int(c.sample[i]), int(c.label[i]))
        return out

    offline = nonempty(streams.tick_chunks(streams.LabelledStream(bars, gap_us=3_000), dt_us=1000))
    assert nonempty(chunks) == offline
    counts = ticker.counters()
    assert counts["late"] == counts["early"] == counts["dropped_by_lag"] == 0


def test_memory_stays_flat_over_a_long_stream():
    def peak_bytes(n_samples):
        bars = streams.SyntheticBars(n_samples=n_samples, duration_us=5_000)
        clock = FakeClock(0)
        source = PacedSource(streams.LabelledStream(bars, gap_us=1_000), clock=clock, buffer_events=5_000).start()
        ticker = WallClockTicker(1000, bars.sensor_size, bars.sensor_size, clock=source.now_us)
        tracemalloc.start()
        n_events = 0
        while not source.finished:
            clock.advance(20_000_000)  # the consumer wakes every 20 ms
            ticker.push_marks(source.poll_marks())
            n_events += sum(len(c.events) for c in ticker.step(source.poll()))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert n_events > 0
        return peak

    peak_bytes(40)  # warm-up: one-time allocations (caches, compiled kernels) are not the stream's
    short, long = peak_bytes(40), peak_bytes(400)  # 400 samples: ~200 k events, ~5 MB if they piled up
    assert long < 1.3 * short + 50_000


def test_bad_speed():
    with pytest.raises(ValueError, match="speed"):
        PacedSource(recording([0]), speed=float("inf"))


class TickingClock(FakeClock):
    """A clock that moves 0.7 ms every time it is read: time passes while the consumer works."""

    def __call__(self):
        self.advance(700_000)
        return super().__call__()


def test_feed_closes_only_what_the_source_has_completed():
    bars = streams.SyntheticBars(n_samples=3, duration_us=6_000)
    offline = [c for c in streams.tick_chunks(streams.LabelledStream(bars), dt_us=1000)]
    offline_events = np.concatenate([c.events for c in offline])

    def run(use_feed):
        clock = TickingClock(0)
        source = PacedSource(streams.LabelledStream(bars), clock=clock).start()
        ticker = WallClockTicker(1000, bars.sensor_size, bars.sensor_size, settle_us=0, clock=source.now_us)
        chunks = []
        while not source.finished:
            ticker.push_marks(source.poll_marks())
            chunks += ticker.feed(source) if use_feed else ticker.step(source.poll())
        chunks += ticker.close(source.now_us() + 10_000)
        return np.concatenate([c.events for c in chunks]), ticker.counters()

    events, counts = run(use_feed=True)
    assert counts["late"] == 0
    np.testing.assert_array_equal(events, offline_events)
    _, racy = run(use_feed=False)  # reading "now" after polling closes ticks still being delivered
    assert racy["late"] > 0
