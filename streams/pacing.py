"""A recording or a labelled stream played in-process as if it came live, at ``speed`` x real time.

:class:`PacedSource` has the consumer-side interface of :class:`streams.live.UDPReceiver`
(``start``/``stop``/context manager, ``now_us``, ``poll``, ``counters``) plus ``poll_marks`` for
the labels, so a live loop (``stdpnet live --source RECORDING``) runs unchanged on a file, with no
socket in between. Where :class:`streams.RealTimeReplay` releases whole chunks and makes the
consumer wait, a paced source never waits: each :meth:`PacedSource.poll` returns what has fallen
due since the last one, as a sensor would have produced it.

Time base: stream microseconds since the source's origin (the first event of a recording, the
first sample's start of a stream). ``now_us()`` is the wall time since :meth:`PacedSource.start`
times ``speed``; an event at stream time ``t`` falls due when ``now_us() >= t - origin``, and
comes out of :meth:`PacedSource.poll` with ``t - origin``. So at any ``speed`` the events keep
their own spacing (ticks of ``dt`` mean the same stream time) and only the wall clock runs faster.

Due events wait in a bounded ring buffer (:class:`streams.live.EventRing`, ``buffer_events``,
``on_full``) like a receiver's: a consumer that falls behind loses the oldest (or newest) input,
counted as ``dropped_by_buffer``, and memory stays flat (one ring, one sample at a time).
Label marks (:data:`streams.live.MARK_DTYPE`) fall due the same way: one at each sample's start,
and a ``label = -1`` mark where a silent gap or the end of the stream follows a sample.
"""
from __future__ import annotations

import time
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np

from .events import EVENT_DTYPE, EventStreamError, SensorSize, as_events
from .live.labels import MARK_DTYPE, NO_LABEL, make_marks
from .live.ring import DROP_NEWEST, DROP_OLDEST, EventRing
from .stream import Segment


def _segments_of_recording(events: np.ndarray) -> Iterator[Segment]:
    if len(events):
        yield Segment(NO_LABEL, NO_LABEL, int(events["t"][0]), int(events["t"][-1]) + 1, events)


class PacedSource:
    """Yield the events of ``source`` as they fall due on the wall clock (see the module docstring).

    ``source``: an :data:`EVENT_DTYPE` array (a recording; no labels), or an iterable of
    :class:`streams.Segment` (e.g. a :class:`streams.LabelledStream`; labels become marks).
    ``speed``: stream time per wall time (> 0, finite). ``sensor_size``: defaults to the
    source's ``sensor_size`` attribute if it has one. ``clock``: nanoseconds, monotonic.
    """

    def __init__(
        self,
        source: Union[np.ndarray, Iterable[Segment]],
        speed: float = 1.0,
        *,
        sensor_size: Optional[SensorSize] = None,
        buffer_events: int = 1 << 20,
        on_full: str = DROP_OLDEST,
        clock: Callable[[], int] = time.monotonic_ns,
    ):
        if not (0 < speed < float("inf")):
            raise ValueError(f"speed must be a positive finite factor, got {speed}")
        self.speed = float(speed)
        self.clock = clock
        if sensor_size is None:
            sensor_size = getattr(source, "sensor_size", None)
        self.sensor_size = None if sensor_size is None else tuple(int(v) for v in sensor_size)
        if isinstance(source, np.ndarray):
            events = as_events(source, source="PacedSource recording")
            if len(events) > 1 and np.any(np.diff(events["t"]) < 0):
                raise EventStreamError("PacedSource: the recording's events must be sorted by time")
            self._segments: Iterator[Segment] = _segments_of_recording(events)
            self._recording_times = np.ascontiguousarray(events["t"])
            self.labelled = False
        else:
            self._segments = iter(source)
            self.labelled = True
        self._ring = EventRing(buffer_events, on_full)
        self._origin_us: Optional[int] = None
        self.origin_ns: Optional[int] = None
        self._current: Optional[Segment] = None
        self._times = np.zeros(0, dtype=np.int64)
        self._position = 0  # next event of the current segment not yet due
        self._previous_end: Optional[int] = None
        self._exhausted = False
        self._marks: List[tuple] = []  # (t, t_stream, label, index), not yet due
        self._due_marks: List[tuple] = []
        self._counts = dict(datagrams=0, malformed=0, rejected=0, dropped_by_kernel=0, dropped_by_buffer=0, delivered=0)

    # ---- life cycle -----------------------------------------------------------------------------
    def start(self) -> "PacedSource":
        if self.origin_ns is None:
            self.origin_ns = int(self.clock())
        return self

    def stop(self) -> None:
        pass

    def __enter__(self) -> "PacedSource":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- consumer side --------------------------------------------------------------------------
    def now_us(self) -> int:
        """Stream microseconds since the origin that have elapsed at ``speed`` x wall time."""
        if self.origin_ns is None:
            raise EventStreamError("PacedSource has no time base before start(); use it as a context manager")
        return int((int(self.clock()) - self.origin_ns) * self.speed) // 1000

    def poll(self, max_events: Optional[int] = None) -> np.ndarray:
        """Remove and return the oldest due events (at most ``max_events``), on the source's time base."""
        self._advance(self.now_us())
        events = self._ring.pop(max_events)
        self._counts["delivered"] += len(events)
        return events

    def drain(self, max_events: Optional[int] = None) -> Tuple[np.ndarray, int]:
        """``(events, until_us)``: :meth:`poll`, and the stream time up to which every due event has
        been returned (as :meth:`streams.live.UDPReceiver.drain`)."""
        now = self.now_us()
        self._advance(now)
        events = self._ring.pop(max_events)
        self._counts["delivered"] += len(events)
        if self._ring.size and len(events):
            now = min(now, int(events["t"].max()))
        return events, now

    def poll_marks(self) -> np.ndarray:
        """Label marks fallen due since the last call (:data:`streams.live.MARK_DTYPE`)."""
        self._advance(self.now_us())
        due, self._due_marks = self._due_marks, []
        if not due:
            return np.zeros(0, dtype=MARK_DTYPE)
        t, t_stream, label, index = zip(*due)
        return make_marks(t, t_stream, label, index)

    @property
    def finished(self) -> bool:
        """Every event has fallen due and been polled."""
        return self._exhausted and self._current is None and not self._marks and self._ring.size == 0

    def counters(self) -> Dict[str, int]:
        """The counts of :meth:`streams.live.UDPReceiver.counters` (no socket: those stay 0)."""
        counts = dict(self._counts)
        counts["buffered"] = self._ring.size
        counts["received"] = counts["delivered"] + counts["buffered"]
        return counts

    # ---- pacing ---------------------------------------------------------------------------------
    def _advance(self, now_us: int) -> None:
        """Move every event and mark due by ``now_us`` into the ring / the due marks."""
        while True:
            if self._current is None and not self._next_segment():
                break
            segment, times = self._current, self._times
            due_end = int(np.searchsorted(times, now_us + self._origin_us, side="right"))
            if due_end > self._position:
                first, last = self._position, due_end
                # the ring would keep only part of a large slice: copy just that part
                room = self._ring.capacity - (self._ring.size if self._ring.on_full == DROP_NEWEST else 0)
                if last - first > room:
                    self._counts["dropped_by_buffer"] += last - first - room
                    first, last = (first, first + room) if self._ring.on_full == DROP_NEWEST else (last - room, last)
                due = segment.events[first:last].copy()
                due["t"] -= self._origin_us
                self._counts["dropped_by_buffer"] += self._ring.push(due)
                self._position = due_end
            if self._position < len(times):
                break
            self._current = None
            if segment.t_end - self._origin_us > now_us:
                break  # the next sample cannot have started yet
        while self._marks and self._marks[0][0] <= now_us:
            self._due_marks.append(self._marks.pop(0))

    def _next_segment(self) -> bool:
        if self._exhausted:
            return False
        segment = next(self._segments, None)
        if segment is None:
            self._exhausted = True
            if self.labelled and self._previous_end is not None:
                self._add_mark(self._previous_end, NO_LABEL, NO_LABEL)
            return False
        if self._origin_us is None:
            self._origin_us = int(segment.t_start)
        if self.labelled:
            if self._previous_end is not None and segment.t_start > self._previous_end:
                self._add_mark(self._previous_end, NO_LABEL, NO_LABEL)
            self._add_mark(int(segment.t_start), int(segment.label), int(segment.index))
        self._previous_end = int(segment.t_end)
        events = np.asarray(segment.events)
        if events.dtype != EVENT_DTYPE:
            events = as_events(events, source=f"segment {segment.index}")
        self._current = Segment(segment.index, segment.label, int(segment.t_start), int(segment.t_end), events)
        # searchsorted on the strided field would copy it on every call; a recording's times were
        # copied before start(), so the copy does not delay the first poll
        self._times = self._recording_times if segment.index == NO_LABEL and not self.labelled else np.ascontiguousarray(events["t"])
        self._position = 0
        return True

    def _add_mark(self, t_stream: int, label: int, index: int) -> None:
        self._marks.append((t_stream - self._origin_us, t_stream, label, index))
