"""Replay events over UDP as aestream would send them live, at ``speed`` times real time.

Events go out as aestream's 32-bit words (:mod:`streams.live.words`), at most 128 words per
datagram. Pacing: the event at stream time ``t`` is due on the wall clock at
``wall_start + (t - t_origin) / speed``, ``t_origin`` being the first event's time (or the first
sample's start). Events are grouped into batches of those due within the same millisecond of wall
time; the sender sleeps until the due time of a batch's last event, then sends the batch, split
into datagrams of at most 128 words (64 events with timestamps). So nothing is sent early and
nothing is late by more than about a millisecond plus scheduling jitter, and the sender wakes at
most 1000 times per second whatever ``speed``. ``speed=math.inf`` sends as fast as possible in
full datagrams. A batch that falls due while the sender is still busy is sent at once and counted
``late_batches`` (more than 1 ms behind); the sender never skips events to catch up.

:func:`send_stream` plays a labelled stream (:class:`streams.LabelledStream` segments) and sends
label marks on a second port (:mod:`streams.live.labels`), each paced like the events.
Memory is bounded by one slab of ``slab_events`` events (or one segment), whatever the stream length.
"""
from __future__ import annotations

import math
import socket
import time
from typing import Callable, Dict, Iterable, Optional, Tuple, Union

import numpy as np

from ..events import EventStreamError, SensorSize
from .labels import NO_LABEL, encode_mark
from .words import MAX_WORDS, check_wire_sensor, encode_words

Address = Union[Tuple[str, int], str]
_BATCH_NS = 1_000_000  # events due within the same wall-clock millisecond go out together
_LATE_NS = 1_000_000


def parse_address(address: Address) -> Tuple[str, int]:
    """``(host, port)`` from a tuple, ``"host:port"`` or ``"udp://host:port"``."""
    if isinstance(address, str):
        text = address[len("udp://"):] if address.startswith("udp://") else address
        host, sep, port = text.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"address must be 'host:port' or 'udp://host:port', got {address!r}")
        return host, int(port)
    host, port = address
    return str(host), int(port)


class _Pacer:
    """Sends event batches and label marks at their due wall-clock times (see module docstring)."""

    def __init__(self, address, sensor_size, speed, with_timestamps, clock, sleep, sock, label_address=None):
        if not (speed > 0):
            raise ValueError(f"speed must be > 0 (math.inf: as fast as possible), got {speed}")
        self.address = parse_address(address)
        self.label_address = None if label_address is None else parse_address(label_address)
        self.sensor_size = check_wire_sensor(sensor_size)
        self.speed = float(speed)
        self.with_timestamps = bool(with_timestamps)
        self.clock, self.sleep = clock, sleep
        self.own_socket = sock is None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM) if sock is None else sock
        self.origin_us: Optional[int] = None
        self.last_t_us: Optional[int] = None
        self.wall_start_ns: Optional[int] = None
        self.counts = dict(sent=0, datagrams=0, batches=0, late_batches=0, marks=0)
        self.max_lag_ns = 0

    def start(self, origin_us: int) -> None:
        if self.origin_us is None:
            self.origin_us = int(origin_us)
            self.wall_start_ns = int(self.clock())

    def due_offset_ns(self, t_us: np.ndarray) -> np.ndarray:
        """Wall-clock nanoseconds after the start at which stream times ``t_us`` fall due."""
        relative = np.asarray(t_us, dtype=np.int64) - self.origin_us
        if math.isinf(self.speed):
            return np.zeros(relative.shape, dtype=np.int64)
        return np.floor(relative * (1000.0 / self.speed)).astype(np.int64)

    def wait_until(self, offset_ns: int) -> None:
        if math.isinf(self.speed):
            return
        lag = int(self.clock()) - (self.wall_start_ns + int(offset_ns))
        if lag < 0:
            self.sleep(-lag / 1e9)
        else:
            self.max_lag_ns = max(self.max_lag_ns, lag)
            self.counts["late_batches"] += lag > _LATE_NS

    def send_events(self, events: np.ndarray) -> None:
        if not len(events):
            return
        self.start(int(events["t"][0]))
        words = encode_words(events, self.sensor_size, self.with_timestamps)
        words_per_event = 2 if self.with_timestamps else 1
        per_datagram = MAX_WORDS // words_per_event * words_per_event
        due = self.due_offset_ns(events["t"])
        if math.isinf(self.speed):
            batch_ends = np.array([len(events)])
        else:
            window = due // _BATCH_NS
            batch_ends = np.append(np.flatnonzero(np.diff(window)) + 1, len(events))
        start = 0
        sendto, address = self.sock.sendto, self.address
        for end in batch_ends.tolist():
            self.wait_until(due[end - 1])
            batch = words[start * words_per_event:end * words_per_event]
            for first in range(0, len(batch), per_datagram):
                sendto(batch[first:first + per_datagram], address)
                self.counts["datagrams"] += 1
            self.counts["batches"] += 1
            self.counts["sent"] += end - start
            start = end
        self.last_t_us = int(events["t"][-1])

    def send_mark(self, t_us: int, label: int, index: int) -> None:
        if self.label_address is None:
            return
        self.start(t_us)
        self.wait_until(int(self.due_offset_ns(np.array([t_us]))[0]))
        self.sock.sendto(encode_mark(t_us, label, index), self.label_address)
        self.counts["marks"] += 1
        self.last_t_us = max(int(t_us), self.last_t_us if self.last_t_us is not None else int(t_us))

    def report(self) -> Dict[str, float]:
        wall_ns = 0 if self.wall_start_ns is None else int(self.clock()) - self.wall_start_ns
        stream_us = 0 if self.last_t_us is None else self.last_t_us - self.origin_us
        return dict(self.counts, max_lag_s=self.max_lag_ns / 1e9, wall_s=wall_ns / 1e9, stream_s=stream_us / 1e6)

    def close(self) -> None:
        if self.own_socket:
            self.sock.close()


def send_events(
    events: Union[np.ndarray, Iterable[np.ndarray]],
    sensor_size: SensorSize,
    address: Address = ("127.0.0.1", 3333),
    speed: float = 1.0,
    *,
    with_timestamps: bool = False,
    clock: Callable[[], int] = time.monotonic_ns,
    sleep: Callable[[float], None] = time.sleep,
    sock: Optional[socket.socket] = None,
    slab_events: int = 1 << 20,
) -> Dict[str, float]:
    """Send ``events`` (:data:`EVENT_DTYPE`, sorted by time) to ``address`` at ``speed`` x real time.

    ``events`` may also be an iterable of such arrays (slabs of one long stream, in time order,
    e.g. generated on the fly): they share one schedule. Returns ``{"sent": events, "datagrams":
    ..., "batches": ..., "late_batches": ..., "max_lag_s": worst delay behind schedule, "wall_s":
    wall duration, "stream_s": stream time covered (first to last event), "marks": 0}``;
    ``stream_s / wall_s`` is the speed achieved. ``clock`` (nanoseconds) and ``sleep`` (seconds) are injectable for
    tests; ``sock`` reuses a socket. Events outside ``sensor_size`` or out of time order raise
    :class:`EventStreamError` before their slab is sent.
    """
    if isinstance(events, np.ndarray):
        slab = int(slab_events)
        slabs: Iterable[np.ndarray] = (events[first:first + slab] for first in range(0, len(events), slab))
    else:
        slabs = events
    pacer = _Pacer(address, sensor_size, speed, with_timestamps, clock, sleep, sock)
    last_t: Optional[int] = None
    try:
        for slab_of_events in slabs:
            times = slab_of_events["t"]
            if len(times) and ((last_t is not None and times[0] < last_t) or np.any(np.diff(times) < 0)):
                raise EventStreamError("send_events: events must be sorted by time (np.sort(events, order='t'))")
            if len(times):
                last_t = int(times[-1])
            pacer.send_events(slab_of_events)
        return pacer.report()
    finally:
        pacer.close()


def send_stream(
    segments: Iterable,
    sensor_size: SensorSize,
    address: Address = ("127.0.0.1", 3333),
    label_address: Optional[Address] = None,
    speed: float = 1.0,
    *,
    with_timestamps: bool = False,
    clock: Callable[[], int] = time.monotonic_ns,
    sleep: Callable[[float], None] = time.sleep,
    sock: Optional[socket.socket] = None,
) -> Dict[str, float]:
    """Send a labelled stream (``streams.Segment`` objects, e.g. a :class:`streams.LabelledStream`).

    Events go to ``address`` as in :func:`send_events`; if ``label_address`` is given, a mark
    ``LBL <t_start> <label> <index>`` goes there when each sample starts, and ``LBL <t_end> -1 -1``
    when a silent gap or the end of the stream follows a sample. Stream time 0 of the pacing is
    the first segment's start. Returns the counts of :func:`send_events`, ``marks`` included.
    """
    pacer = _Pacer(address, sensor_size, speed, with_timestamps, clock, sleep, sock, label_address)
    previous_end: Optional[int] = None
    try:
        for segment in segments:
            t_start, t_end = int(segment.t_start), int(segment.t_end)
            if previous_end is not None and t_start > previous_end:
                pacer.send_mark(previous_end, NO_LABEL, NO_LABEL)
            pacer.start(t_start)
            pacer.send_mark(t_start, int(segment.label), int(segment.index))
            pacer.send_events(segment.events)
            previous_end = t_end
        if previous_end is not None:
            pacer.send_mark(previous_end, NO_LABEL, NO_LABEL)
        return pacer.report()
    finally:
        pacer.close()
