"""WallClockTicker on explicit wall times: closing, silence, lag, re-timing, reduction counts, labels."""
from __future__ import annotations

import time

import numpy as np
import pytest

import streams
from streams.live import WallClockTicker, make_marks

DT = 1000


def ev(x, y, t, p):
    return streams.make_events(x, y, t, p)


def per_tick(chunks):
    """{tick: [(x, y, p), ...]} over every tick the chunks cover (silent ticks included)."""
    out = {}
    for c in chunks:
        for i in range(c.n_ticks):
            out[c.start_tick + i] = c.events[c.offsets[i]:c.offsets[i + 1]][["x", "y", "p"]].tolist()
    return out


def test_ticks_close_one_settle_period_after_they_end():
    ticker = WallClockTicker(DT, (10, 10, 2), (10, 10, 2))  # settle_us = dt
    ticker.push(ev([1, 2, 3], [0, 0, 0], [100, 900, 1500], [0, 0, 0]))
    assert ticker.close(1999) == []  # tick 0 ends at 1000; closes once now - 1000 >= 1000
    [chunk] = ticker.close(2000)
    assert (chunk.start_tick, chunk.n_ticks, chunk.offsets.tolist()) == (0, 1, [0, 2])
    assert ticker.counters()["pending"] == 1  # t = 1500: tick 1 is still open
    ticker.push(ev([4], [0], [4200], [0]))
    [chunk] = ticker.close(6000)  # ticks 1..4: events in ticks 1 and 4, the silent ones between kept
    assert (chunk.start_tick, chunk.offsets.tolist()) == (1, [0, 1, 1, 1, 2])
    assert chunk.events["t"].tolist() == [1500, 4200]
    assert chunk.sample.tolist() == chunk.label.tolist() == [-1] * 4
    counts = ticker.counters()
    assert counts["ticks_closed"] == 5 and counts["ticks_emitted"] == 5 and counts["pending"] == 0


def test_long_silences_split_chunks_and_cost_nothing():
    ticker = WallClockTicker(DT, (10, 10, 2), (10, 10, 2), max_silent_ticks=3)
    ticker.push(ev([1, 1, 1], [1, 1, 1], [0, 4500, 9000], [0, 0, 0]))  # ticks 0, 4, 9
    chunks = ticker.close(11_000)
    assert [(c.start_tick, c.n_ticks) for c in chunks] == [(0, 5), (9, 1)]  # gap of 3 kept, gap of 4 jumped

    hour_us = 3_600 * 10**6
    started = time.perf_counter()
    for second in range(1, 3_601):  # a consumer that wakes once a second through an hour of silence
        assert ticker.close(second * 10**6) == []
    ticker.push(ev([2], [2], [hour_us + 10], [1]))
    [chunk] = ticker.close(hour_us + 2 * DT)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0
    assert (chunk.start_tick, chunk.n_ticks, len(chunk.events)) == (hour_us // DT, 1, 1)
    assert ticker.counters()["ticks_closed"] == hour_us // DT + 1


def test_reduction_stages_on_handmade_input():
    # sensor 8x8x2 -> network 4x4x1: factor 2, polarities merged; cap 2 events per tick
    ticker = WallClockTicker(DT, (8, 8, 2), (4, 4, 1), max_events_per_tick=2, seed=3)
    ticker.push(ev(
        [0, 1, 1, 4,   0, 2, 4, 6, 6,   3, 3],
        [0, 1, 0, 4,   0, 0, 0, 0, 6,   5, 5],
        [0, 1, 2, 3,   1000, 1001, 1002, 1003, 1004,   2000, 2001],
        [0, 1, 0, 0,   0, 0, 0, 0, 1,   1, 1],
    ))
    ticks = per_tick(ticker.close(4000))
    # tick 0: (0,0) x3 and (2,2): 4 > cap, so one spike per pixel: (0,0), (2,2); now within the cap
    assert ticks[0] == [(0, 0, 0), (2, 2, 0)]
    # tick 1: five distinct pixels > cap: two of them, chosen at random, in time order
    candidates = [(0, 0, 0), (1, 0, 0), (2, 0, 0), (3, 0, 0), (3, 3, 0)]
    assert len(ticks[1]) == 2 and all(e in candidates for e in ticks[1])
    assert candidates.index(ticks[1][0]) < candidates.index(ticks[1][1])
    # tick 2: a duplicate, but only 2 events: within the cap, nothing removed
    assert ticks[2] == [(1, 2, 0), (1, 2, 0)]
    counts = ticker.counters()
    assert counts["closed"] == counts["after_downsample"] == 11
    assert counts["after_one_per_pixel"] == 2 + 5 + 2
    assert counts["after_rate_cap"] == 2 + 2 + 2
    assert counts["ticks_over_cap"] == 2


def test_reduction_options():
    events = ev([0, 0, 9, 1], [0, 0, 0, 1], [0, 1, 2, 3], [0, 0, 1, 1])
    always = WallClockTicker(DT, (10, 10, 2), (4, 4, 2), factor=1, one_spike_per_pixel="always")
    always.push(events)
    assert per_tick(always.close(3000))[0] == [(0, 0, 0), (1, 1, 1)]  # x = 9 cropped, duplicate removed
    c = always.counters()
    assert (c["closed"], c["after_downsample"], c["after_one_per_pixel"], c["after_rate_cap"]) == (4, 3, 2, 2)
    never = WallClockTicker(DT, (10, 10, 2), (4, 4, 2), max_events_per_tick=2, factor=(1, 1), one_spike_per_pixel="never")
    never.push(events)
    assert len(per_tick(never.close(3000))[0]) == 2  # straight to the random cap


def test_same_seed_same_output():
    rng = np.random.default_rng(0)
    n = 5000
    events = ev(rng.integers(0, 64, n), rng.integers(0, 48, n), np.sort(rng.integers(0, 20_000, n)), rng.integers(0, 2, n))

    def run(seed):
        ticker = WallClockTicker(DT, (64, 48, 2), (16, 12, 2), max_events_per_tick=30, seed=seed)
        out = []
        for now in range(2_000, 24_000, 3_000):
            out += ticker.step(events[(events["t"] >= now - 3_000) & (events["t"] < now)], now)
        return np.concatenate([c.events for c in out])

    first, again, other = run(1), run(1), run(2)
    np.testing.assert_array_equal(first, again)
    assert len(first) == len(other) and not np.array_equal(first, other)


def test_lag_bound_drops_the_oldest_ticks():
    ticker = WallClockTicker(DT, (10, 10, 2), (10, 10, 2), max_lag_us=1_000_000)
    ticker.push(ev([1] * 4, [1] * 4, [0, 5_000, 2_500_000, 2_900_000], [0] * 4))
    chunks = ticker.close(3_400_000)  # ticks ending before 2.4 s are more than 1 s old
    assert [c.start_tick for c in chunks] == [2_500]
    counts = ticker.counters()
    assert counts["dropped_by_lag"] == 2 and counts["closed"] == 2
    assert counts["lag_us"] == 3_400_000 - 2_501_000  # now minus the end of the oldest tick handed out
    assert counts["max_lag_us"] == counts["lag_us"]


def test_late_and_early_events_are_retimed_and_counted():
    ticker = WallClockTicker(DT, (10, 10, 2), (10, 10, 2), max_ahead_us=0)
    ticker.push(ev([1], [1], [500], [0]))
    ticker.close(5_000)  # ticks 0..3 closed
    ticker.push(ev([2, 3], [2, 3], [1_200, 9_000], [0, 0]))  # 1 200: tick 1, closed; 9 000: after now
    [chunk] = ticker.close(6_000)
    assert (chunk.start_tick, chunk.events["t"].tolist()) == (4, [4_000])  # the late one, in tick 4
    counts = ticker.counters()
    assert counts["late"] == 1 and counts["early"] == 1 and counts["pending"] == 1
    [chunk] = ticker.close(8_000)
    assert (chunk.start_tick, chunk.events["t"].tolist()) == (6, [6_000])  # the early one, clamped to now


def test_events_slightly_ahead_keep_their_tick():
    """Rebased sender timestamps land up to a tick ahead of arrival: they wait in their own tick
    (exact timing) instead of being clamped to now; beyond max_ahead_us they are clamped."""
    ticker = WallClockTicker(DT, (10, 10, 2), (10, 10, 2), max_ahead_us=1_500)
    ticker.push(ev([1, 2], [1, 2], [6_400, 7_900], [0, 0]))  # now 5 000: 1 400 and 2 900 ahead
    assert ticker.close(5_000) == []
    counts = ticker.counters()
    assert counts["early"] == 1 and counts["pending"] == 2
    [chunk] = ticker.close(9_000)  # ticks up to 7 closed
    assert chunk.events["t"].tolist() == [6_400, 6_500]  # kept as stamped; clamped to now + 1 500
    assert [chunk.start_tick, chunk.n_ticks] == [6, 1]


def test_marks_label_the_ticks():
    ticker = WallClockTicker(DT, (10, 10, 2), (10, 10, 2), clock=lambda: 7_000)
    ticker.push_marks(make_marks([0, 2_500, 4_000], [100, 2_600, 4_100], [3, -1, 5], [0, -1, 1]))
    ticker.push(ev([1] * 6, [1] * 6, [100, 1_100, 2_100, 3_100, 4_100, 5_100], [0] * 6))
    [chunk] = ticker.close()  # now = 7 000 from the clock
    assert chunk.label.tolist() == [3, 3, 3, -1, 5, 5]  # the mark in force at each tick's start
    assert chunk.sample.tolist() == [0, 0, 0, -1, 1, 1]
    ticker.push(ev([1], [1], [6_500], [0]))
    [chunk] = ticker.close(9_000)
    assert (chunk.sample.tolist(), chunk.label.tolist()) == ([1], [5])  # still in force
    ticker.push_marks(make_marks([3_000], [3_100], [9], [7]))  # older than the mark in force: ignored
    ticker.push(ev([1], [1], [8_100], [0]))
    assert ticker.close(10_000)[0].label.tolist() == [5]


def test_bad_settings():
    with pytest.raises(ValueError, match="input channel"):
        WallClockTicker(DT, (10, 10, 2), (5, 5, 3))
    with pytest.raises(ValueError, match="max_lag_us > settle_us"):
        WallClockTicker(DT, (10, 10, 2), (5, 5, 2), max_lag_us=500)
    with pytest.raises(ValueError, match="no clock"):
        WallClockTicker(DT, (10, 10, 2), (5, 5, 2)).close()
