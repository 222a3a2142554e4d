"""Clock ticks: the unit of time of the simulator (SPEC section 1).

Stream time is cut into ticks of ``dt_us`` microseconds: tick ``k`` covers
``[k * dt_us, (k + 1) * dt_us)`` and receives every event with ``t // dt_us == k``. Ticks run from
tick 0 without holes; ticks in silent gaps are included, with no events. A tick belongs to the
sample (stream position) whose ``[t_start, t_end)`` contains the tick's START, or to none (-1).

:func:`tick_chunks` turns a stream of :class:`streams.Segment` into :class:`TickChunk` batches (the
form the simulator consumes); :func:`ticks` yields the same ticks one :class:`Tick` at a time.
Both are vectorised with ``np.searchsorted`` (no loop over events) and lazy (memory bounded by
one chunk, whatever the stream length).

No sample vanishes: a segment whose interval contains no tick start (shorter than a tick, or
squeezed between two tick starts) would own no tick and its label would reach no chunk. Given a
:class:`streams.LabelledStream` without ``dt_us``, :func:`tick_chunks` lays it out with its own
``dt_us`` (``stream.with_dt_us``), which delays such a sample to the next tick boundary so that it
owns a tick; any other segment that owns no tick is an error. Absurd silences are refused too: a stream given raw absolute timestamps (microseconds
since 1970) would otherwise be cut into ~1e12 empty ticks, years of simulation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, List, Optional, Tuple

import numpy as np

from .events import EVENT_DTYPE, EventStreamError

#: Default longest silence (us) :func:`tick_chunks` accepts in a stream: one hour.
MAX_GAP_US = 3_600_000_000


@dataclass
class TickChunk:
    """A run of consecutive ticks of ``dt_us`` microseconds, in compressed form.

    Tick ``k`` covers stream time ``[k*dt_us, (k+1)*dt_us)``. ``events[offsets[i]:offsets[i+1]]``
    are the events of tick ``start_tick + i`` (EVENT_DTYPE, stream time, sorted).
    ``sample[i]`` is the index (in the stream) of the sample whose interval contains the tick's
    start, -1 in a silent gap; ``label[i]`` its label, -1 where there is none.
    """

    start_tick: int
    dt_us: int
    events: np.ndarray
    offsets: np.ndarray
    sample: np.ndarray
    label: np.ndarray

    @property
    def n_ticks(self) -> int:
        return len(self.offsets) - 1


@dataclass(frozen=True)
class Tick:
    """One tick: ``index`` k, ``t_start = k * dt_us`` (microseconds), its ``events`` (sorted,
    stream time), and the stream position ``sample`` and ``label`` of the sample containing
    ``t_start`` (-1 in a gap)."""

    index: int
    t_start: int
    events: np.ndarray
    sample: int
    label: int


class _PendingTicks:
    """Events and sample intervals received but not yet emitted as ticks."""

    def __init__(self, dt_us: int):
        self.dt_us = dt_us
        self.next_tick = 0
        self.event_arrays: List[np.ndarray] = []
        self.intervals: List[Tuple[int, int, int, int]] = []  # (t_start, t_end, index, label)

    def add(self, t_start: int, t_end: int, index: int, label: int, events: np.ndarray) -> None:
        if len(events):
            self.event_arrays.append(events)
        self.intervals.append((t_start, t_end, index, label))

    def emit(self, end_tick: int, max_ticks: int) -> Iterator[TickChunk]:
        """Yield ticks ``[next_tick, end_tick)`` as chunks of at most ``max_ticks`` ticks."""
        if end_tick <= self.next_tick:
            return
        dt = self.dt_us
        if len(self.event_arrays) == 1:
            events = self.event_arrays[0]
        elif self.event_arrays:
            events = np.concatenate(self.event_arrays)
        else:
            events = np.zeros(0, dtype=EVENT_DTYPE)
        times = events["t"]
        interval_table = np.asarray(self.intervals, dtype=np.int64).reshape(-1, 4)
        starts, ends, indices, labels = interval_table.T
        first_event = 0
        for chunk_start in range(self.next_tick, end_tick, max_ticks):
            chunk_end = min(chunk_start + max_ticks, end_tick)
            tick_edges_us = np.arange(chunk_start, chunk_end + 1, dtype=np.int64) * dt
            edges = np.searchsorted(times, tick_edges_us, side="left")
            tick_starts_us = tick_edges_us[:-1]
            owner = np.searchsorted(starts, tick_starts_us, side="right") - 1
            owner_clipped = np.maximum(owner, 0)
            inside = (owner >= 0) & (tick_starts_us < ends[owner_clipped])
            yield TickChunk(
                start_tick=chunk_start,
                dt_us=dt,
                events=events[edges[0]:edges[-1]],
                offsets=edges - edges[0],
                sample=np.where(inside, indices[owner_clipped], -1),
                label=np.where(inside, labels[owner_clipped], -1),
            )
            first_event = int(edges[-1])
        self.next_tick = end_tick
        remaining = events[first_event:]
        self.event_arrays = [remaining.copy()] if len(remaining) else []
        horizon_us = end_tick * dt  # intervals ending by then cannot own later ticks
        self.intervals = [iv for iv in self.intervals if iv[1] > horizon_us]


def _duration_text(us: int) -> str:
    seconds = us / 1e6
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def _check_segment(segment, previous_end: int, last_activity: int, dt_us: int, max_gap_us) -> int:
    """Check one segment (see :func:`tick_chunks`); returns the time of the stream's last event
    so far (or ``last_activity`` if the segment has none)."""
    t_start, t_end, events = int(segment.t_start), int(segment.t_end), segment.events
    where = f"stream segment {segment.index}"
    if t_start < previous_end or t_end < t_start:
        raise EventStreamError(
            f"{where}: interval [{t_start}, {t_end}) us overlaps the previous segment (ending at "
            f"{previous_end} us) or is reversed; segments must follow each other in time."
        )
    times = events["t"]
    # one pass gives both the order check and the silences: gaps between the last activity, the
    # events and the segment's end
    points = np.concatenate([[last_activity], times, [t_end]]).astype(np.int64)
    gaps = np.diff(points)
    if len(times) and (times[0] < t_start or times[-1] >= t_end or gaps[1:-1].min(initial=0) < 0):
        raise EventStreamError(
            f"{where}: events must be sorted and within [{t_start}, {t_end}) us, got "
            f"[{times.min()}, {times.max()}] us."
        )
    first_tick_start = -(-t_start // dt_us) * dt_us
    if first_tick_start >= t_end:
        raise EventStreamError(
            f"{where} (label {segment.label}): its interval [{t_start}, {t_end}) us holds no tick start "
            f"at dt_us={dt_us}, so no tick would carry its label and the sample would vanish. Lay the "
            f"stream out with LabelledStream(..., dt_us={dt_us}): every sample then owns a tick."
        )
    if max_gap_us is not None:
        i = int(np.argmax(gaps))
        if gaps[i] > max_gap_us:
            silence = int(gaps[i])
            raise EventStreamError(
                f"{where} (label {segment.label}): {silence} us ({_duration_text(silence)}) without any "
                f"event, up to t = {int(points[i + 1])} us: cutting it would simulate {silence // dt_us} "
                "empty ticks. The timestamps look absolute (microseconds since 1970) or corrupt: re-base "
                "every sample to its first event (LabelledStream's default align='zero'), or pass "
                f"max_gap_us= (now {max_gap_us} us; None: no limit) to allow long silences."
            )
    return int(times[-1]) if len(times) else last_activity


def tick_chunks(
    segments: Iterable,
    dt_us: int = 1000,
    max_ticks: int = 1000,
    min_ticks: int = 1,
    start_tick: int = 0,
    max_gap_us: Optional[int] = MAX_GAP_US,
) -> Iterator[TickChunk]:
    """Cut a stream of segments into :class:`TickChunk` batches of consecutive ticks.

    ``segments``: :class:`streams.Segment` objects (e.g. a :class:`streams.LabelledStream`) in
    stream order, non-overlapping. Chunks cover ticks ``start_tick, start_tick + 1, ...`` without
    gaps (a later pass over data can continue a network's clock: segments must then start at or
    after ``start_tick * dt_us``), up to the tick
    containing the last segment's end. A chunk ends where a sample ends (at tick
    ``t_end // dt_us``: the tick that straddles a sample's end goes with the next chunk, as later
    events may still fall in it) once at least ``min_ticks`` ticks are waiting; chunks longer than
    ``max_ticks`` are split. So with the defaults, one chunk per sample (split if longer than
    ``max_ticks``); raise ``min_ticks`` to batch several short samples per chunk.

    A :class:`streams.LabelledStream` built without ``dt_us`` is laid out with this ``dt_us``, so
    every sample, even one shorter than a tick or empty, owns at least one tick (see the module
    docstring). Raises :class:`EventStreamError` (before emitting anything past the problem) for
    segments that overlap or hold events outside their interval, for a segment that owns no tick,
    and for a silence (no event) longer than ``max_gap_us`` microseconds (default
    :data:`MAX_GAP_US`, one hour; ``None`` disables the check).
    """
    dt_us, max_ticks, min_ticks = int(dt_us), int(max_ticks), int(min_ticks)
    if dt_us <= 0 or max_ticks <= 0 or min_ticks <= 0:
        raise ValueError(f"dt_us, max_ticks and min_ticks must be positive, got {dt_us}, {max_ticks}, {min_ticks}")
    if getattr(segments, "dt_us", 0) is None and hasattr(segments, "with_dt_us"):
        segments = segments.with_dt_us(dt_us)  # a LabelledStream: every sample then owns a tick
    pending = _PendingTicks(dt_us)
    start_tick = int(start_tick)
    if start_tick < 0:
        raise ValueError(f"start_tick must be >= 0, got {start_tick}")
    pending.next_tick = start_tick
    previous_end = start_tick * dt_us
    last_activity = previous_end
    max_gap_us = None if max_gap_us is None else int(max_gap_us)
    for segment in segments:
        last_activity = _check_segment(segment, previous_end, last_activity, dt_us, max_gap_us)
        previous_end = int(segment.t_end)
        pending.add(int(segment.t_start), previous_end, int(segment.index), int(segment.label), segment.events)
        complete_ticks = previous_end // dt_us  # no later segment can add events to these
        if complete_ticks - pending.next_tick >= min_ticks:
            yield from pending.emit(complete_ticks, max_ticks)
    last_tick = -(-previous_end // dt_us)  # every tick starting before the end of the stream
    yield from pending.emit(last_tick, max_ticks)


def ticks(segments: Iterable, dt_us: int = 1000, max_gap_us: Optional[int] = MAX_GAP_US) -> Iterator[Tick]:
    """Yield the stream's ticks one at a time (same ticks and checks as :func:`tick_chunks`)."""
    for chunk in tick_chunks(segments, dt_us=dt_us, max_ticks=4096, max_gap_us=max_gap_us):
        offsets = chunk.offsets
        for i in range(chunk.n_ticks):
            k = chunk.start_tick + i
            yield Tick(
                index=k,
                t_start=k * chunk.dt_us,
                events=chunk.events[offsets[i]:offsets[i + 1]],
                sample=int(chunk.sample[i]),
                label=int(chunk.label[i]),
            )
