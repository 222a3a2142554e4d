"""Ticks and tick chunks against a naive per-tick reference; chunk sizing; flat memory."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import streams
from streams import EventStreamError, LabelledStream, Segment, TickChunk, make_events, tick_chunks, ticks


def reference_ticks(segments, dt_us):
    """Naive definition: (events, sample, label) of every tick 0 .. ceil(end / dt) - 1."""
    events = np.concatenate([s.events for s in segments])
    end = segments[-1].t_end
    out = []
    for k in range(-(-end // dt_us)):
        start = k * dt_us
        owner = [s for s in segments if s.t_start <= start < s.t_end]
        sample, label = (owner[0].index, owner[0].label) if owner else (-1, -1)
        out.append((events[events["t"] // dt_us == k], sample, label))
    return out


def segment(index, label, t_start, t_end, times):
    n = len(times)
    return Segment(index, label, t_start, t_end, make_events(np.zeros(n, int), np.zeros(n, int), times, np.zeros(n, int)))


@pytest.fixture
def handmade_segments():
    # starts after a silent lead-in, ends mid-tick, gaps of various sizes, a sample shorter than a
    # tick (2: it holds the start of tick 6 at dt = 1 ms, so it owns that tick); every sample holds
    # a tick start for dt <= 1000 us
    return [
        segment(0, 4, 1500, 3200, [1500, 1999, 2000, 3199]),
        segment(1, 2, 3200, 4100, [3200, 3650, 4050]),
        segment(2, 8, 6000, 6400, [6000, 6399]),
        segment(3, 1, 9050, 12000, [9050, 11999]),
    ]


def flatten(chunks):
    """Per-tick (index, events, sample, label) from TickChunks, checking they are gap-free."""
    out = []
    expected_start = 0
    for chunk in chunks:
        assert isinstance(chunk, TickChunk)
        assert chunk.start_tick == expected_start
        assert chunk.offsets[0] == 0 and chunk.offsets[-1] == len(chunk.events)
        assert len(chunk.sample) == len(chunk.label) == chunk.n_ticks
        for i in range(chunk.n_ticks):
            tick_events = chunk.events[chunk.offsets[i]:chunk.offsets[i + 1]]
            out.append((chunk.start_tick + i, tick_events, int(chunk.sample[i]), int(chunk.label[i])))
        expected_start += chunk.n_ticks
    return out


@pytest.mark.parametrize("dt_us", [1, 7, 100, 1000])
@pytest.mark.parametrize("max_ticks", [1, 3, 1000])
def test_chunks_match_reference(handmade_segments, dt_us, max_ticks):
    reference = reference_ticks(handmade_segments, dt_us)
    got = flatten(tick_chunks(handmade_segments, dt_us=dt_us, max_ticks=max_ticks))
    assert len(got) == len(reference)
    for (k, events, sample, label), (ref_events, ref_sample, ref_label) in zip(got, reference):
        np.testing.assert_array_equal(events, ref_events)
        assert (sample, label) == (ref_sample, ref_label), k


def test_ticks_match_chunks_and_reference(handmade_segments):
    reference = reference_ticks(handmade_segments, 1000)
    got = list(ticks(handmade_segments, dt_us=1000))
    assert [t.index for t in got] == list(range(12))
    assert [t.t_start for t in got] == [1000 * k for k in range(12)]
    # a tick belongs to the sample containing its start: sample 1 (3200-4100 us) owns tick 4 only
    assert [t.sample for t in got] == [-1, -1, 0, 0, 1, -1, 2, -1, -1, -1, 3, 3]
    assert [t.label for t in got] == [-1, -1, 4, 4, 2, -1, 8, -1, -1, -1, 1, 1]
    for tick, (ref_events, _, _) in zip(got, reference):
        np.testing.assert_array_equal(tick.events, ref_events)
    from_chunks = flatten(tick_chunks(handmade_segments, dt_us=1000, max_ticks=5))
    assert [(t.index, t.sample, t.label) for t in got] == [(k, s, l) for k, _, s, l in from_chunks]


def test_chunk_boundaries_at_sample_ends(handmade_segments):
    chunks = list(tick_chunks(handmade_segments, dt_us=1000, max_ticks=1000))
    # ends at t_end // dt: 3 (sample 0), 4, 6, 12; final flush none
    assert [(c.start_tick, c.n_ticks) for c in chunks] == [(0, 3), (3, 1), (4, 2), (6, 6)]


def test_max_and_min_ticks():
    bars = streams.SyntheticBars(n_samples=10, duration_us=20_000)
    stream = LabelledStream(bars, gap_us=5_000)
    sizes = [c.n_ticks for c in tick_chunks(stream, dt_us=1000, max_ticks=7)]
    assert max(sizes) <= 7 and sum(sizes) == 245
    per_sample = [c.n_ticks for c in tick_chunks(stream, dt_us=1000)]
    assert per_sample == [20] + [25] * 9  # one chunk per sample: its ticks and the gap before it
    batched = [c.n_ticks for c in tick_chunks(stream, dt_us=1000, min_ticks=60, max_ticks=1000)]
    assert batched == [70, 75, 75, 25]
    with pytest.raises(ValueError):
        list(tick_chunks(stream, dt_us=0))


def test_every_event_in_its_tick_real_stream():
    bars = streams.SyntheticBars(n_samples=30, duration_us=15_300)
    stream = LabelledStream(bars, gap_us=2_345, time_scale=(0.5, 1.5), seed=1)
    segments = list(stream)
    dt = 1000
    reference = reference_ticks(segments, dt)
    got = flatten(tick_chunks(segments, dt_us=dt, max_ticks=16))
    assert len(got) == len(reference)
    total = 0
    for (k, events, sample, label), (ref_events, ref_sample, ref_label) in zip(got, reference):
        assert np.all(events["t"] // dt == k)
        np.testing.assert_array_equal(events, ref_events)
        assert (sample, label) == (ref_sample, ref_label)
        total += len(events)
    assert total == sum(len(s.events) for s in segments)


def test_overlapping_segments_rejected():
    overlapping = [segment(0, 0, 0, 100, [5]), segment(1, 0, 50, 200, [60])]
    with pytest.raises(EventStreamError, match="stream segment 1: interval \\[50, 200\\) us overlaps"):
        list(tick_chunks(overlapping))
    outside = [segment(0, 0, 0, 100, [150])]
    with pytest.raises(EventStreamError, match="within \\[0, 100\\)"):
        list(tick_chunks(outside))


def test_empty_stream():
    assert list(tick_chunks([])) == []
    assert list(ticks([])) == []


def test_memory_stays_flat_over_long_stream():
    """5,000 samples (~2.5 M events, ~40 MB if materialised): peak traced memory stays small."""
    bars = streams.SyntheticBars(n_samples=5000, duration_us=10_000)
    stream = LabelledStream(bars, gap_us=1000)
    tracemalloc.start()
    try:
        n_events = n_ticks = 0
        for chunk in tick_chunks(stream, dt_us=1000):
            n_events += len(chunk.events)
            n_ticks += chunk.n_ticks
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    materialised = n_events * streams.EVENT_DTYPE.itemsize
    assert n_ticks == 5000 * 11 - 1
    assert n_events > 2_000_000
    assert peak < 2_000_000, f"peak {peak} B for a stream of {materialised} B of events"


def test_tick_chunks_can_continue_a_clock_from_start_tick():
    from streams import LabelledStream, SyntheticBars, tick_chunks

    data = SyntheticBars(n_samples=3, seed=0)
    chunks = list(tick_chunks(LabelledStream(data, start_us=7_000), dt_us=1000, start_tick=7))
    assert chunks[0].start_tick == 7
    assert all(b.start_tick == a.start_tick + a.n_ticks for a, b in zip(chunks, chunks[1:]))
    assert chunks[0].sample[0] == 0


def test_segments_before_start_tick_are_refused():
    import pytest as _pytest
    from streams import EventStreamError, LabelledStream, SyntheticBars, tick_chunks

    with _pytest.raises(EventStreamError, match="overlaps"):
        list(tick_chunks(LabelledStream(SyntheticBars(n_samples=2)), dt_us=1000, start_tick=5))
