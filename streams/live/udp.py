"""Receive aestream / spif UDP event datagrams into a bounded buffer, counting every loss.

A receiver thread reads datagrams from a non-blocking socket in batches (up to
``batch_datagrams`` at a time, each into its own 512-byte slot of one preallocated array),
decodes each batch at once (:func:`streams.live.words.decode_slots`) and appends the events to a
bounded ring buffer (:class:`streams.live.ring.EventRing`). The consumer drains it with
:meth:`UDPReceiver.poll`, which never blocks. Memory is flat: the slots, the ring and nothing else.

Time base: microseconds since :meth:`UDPReceiver.start`, on ``clock`` (``time.monotonic_ns`` by
default; :meth:`UDPReceiver.now_us` reads it). An event without a timestamp word is stamped with
the arrival time of its datagram (read right after ``recvmsg`` returns it). With
``timestamps="sensor"`` (default) an event that carries a timestamp keeps the sender's clock,
unwrapped across 32-bit wrap-arounds and shifted once so that the first timestamped event falls on
its own arrival time; ``timestamps="arrival"`` ignores timestamp words and stamps every event on
arrival.

Where events are lost, and the counter that says so (:meth:`UDPReceiver.counters`):

* ``dropped_by_kernel``: **datagrams** the kernel dropped because the socket's receive queue was
  full. Linux reports its cumulative drop count (``SO_RXQ_OVFL``, socket option 40) in the
  ancillary data of each datagram read, as it stood when that datagram was queued, so the count
  lags until the next datagram arrives. It counts datagrams, not events: how many events a dropped
  datagram held is unknowable (128 when the sender fills every datagram, as aestream does under
  load).
* ``dropped_by_buffer``: events decoded but discarded because the ring buffer was full
  (``on_full="drop-oldest"``, the default: the oldest buffered events make room, so the consumer
  gets the freshest input; ``"drop-newest"``: incoming events that do not fit are discarded).
* ``rejected``: events that could not be used: outside the sensor, malformed datagrams
  (``malformed`` counts those datagrams), mixed word forms; see :mod:`streams.live.words`.
* ``received``: events that reached the buffer and were not dropped from it since:
  ``delivered`` (handed out by :meth:`poll`) plus ``buffered`` (waiting).

So for a sender of whole datagrams of ``k`` events, once every datagram is accounted for
(``datagrams + dropped_by_kernel`` equals the datagrams sent):
``sent = received + rejected + dropped_by_buffer + k * dropped_by_kernel``, exactly.
"""
from __future__ import annotations

import select
import socket
import threading
import time
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from ..events import EventStreamError, SensorSize
from .labels import DEFAULT_LABEL_PORT, LabelReceiver
from .ring import DROP_OLDEST, EventRing, check_capacity
from .sockets import TIMESTAMP_ANCILLARY_BYTES, kernel_clock_offset, open_udp_socket
from .sockets import arrival_ns as stamp_of
from .words import DEFAULT_PORT, MAX_DATAGRAM_BYTES, MAX_WORDS, WORD_DTYPE, check_wire_sensor, decode_slots

#: Linux socket options not named by Python's socket module.
SO_RXQ_OVFL = 40
_ANCILLARY_BYTES = socket.CMSG_SPACE(4) + TIMESTAMP_ANCILLARY_BYTES
_WAIT_S = 0.05  # how long the thread sleeps on an idle socket before checking for stop()
_TIMESTAMP_MODES = ("sensor", "arrival")


class _SensorClockRebase:
    """Unwrap 32-bit sensor timestamps and shift them onto the receiver's time base (see module)."""

    def __init__(self, align_us: int = 1):
        self.last_raw: Optional[int] = None
        self.wraps = 0
        self.offset: Optional[int] = None
        self.align_us = max(1, int(align_us))

    def __call__(self, raw: np.ndarray, arrival_us: np.ndarray) -> np.ndarray:
        previous = raw[0] if self.last_raw is None else self.last_raw
        steps = np.diff(raw, prepend=previous)
        wraps = self.wraps + np.cumsum(steps < -(1 << 31))  # a jump back by more than half the range
        unwrapped = raw + (wraps << 32)
        if self.offset is None:  # rounded up to a whole tick: ticks keep the sender's grouping
            shift = int(arrival_us[0] - unwrapped[0])
            self.offset = -(-shift // self.align_us) * self.align_us
        self.last_raw, self.wraps = int(raw[-1]), int(wraps[-1])
        return unwrapped + self.offset


class UDPReceiver:
    """Listen for aestream / spif event datagrams on ``udp://host:port`` (see the module docstring).

    Use as a context manager (``with UDPReceiver(...) as rx:`` starts the thread, and stops it and
    closes the socket on exit), or call :meth:`start` and :meth:`stop`. The socket is bound at
    construction, so ``port=0`` can be resolved (``rx.port``) before anything is sent.

    ``buffer_events``: ring buffer capacity in events; ``on_full``: ``"drop-oldest"`` (default) or
    ``"drop-newest"``; ``rcvbuf_bytes``: kernel receive buffer requested (``rx.rcvbuf_bytes`` is
    what the kernel granted; raise ``net.core.rmem_max`` to get more); ``timestamps``:
    ``"sensor"`` or ``"arrival"``; ``clock``: nanoseconds, monotonic; ``batch_datagrams``:
    datagrams read before a batch is decoded and made available (a batch is also flushed as soon
    as the socket is empty).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        sensor_size: SensorSize = (128, 128, 2),
        buffer_events: int = 1 << 20,
        *,
        on_full: str = DROP_OLDEST,
        timestamps: str = "sensor",
        rcvbuf_bytes: Optional[int] = 8 << 20,
        clock: Callable[[], int] = time.monotonic_ns,
        batch_datagrams: int = 256,
        timestamp_align_us: int = 1,
    ):
        self.sensor_size = check_wire_sensor(sensor_size)
        if timestamps not in _TIMESTAMP_MODES:
            raise ValueError(f"timestamps must be one of {_TIMESTAMP_MODES}, got {timestamps!r}")
        self.timestamps = timestamps
        self.clock = clock
        self._ring = EventRing(buffer_events, on_full)
        self._batch = check_capacity(batch_datagrams, "batch_datagrams")
        self._sock = open_udp_socket(host, port, rcvbuf_bytes)
        self._sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
        # arrival = the kernel's stamp when the clock is the default monotonic one (tests inject others)
        self._kernel_offset_ns = kernel_clock_offset(self._sock, clock)
        self.host, self.port = self._sock.getsockname()[:2]
        self.rcvbuf_bytes = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self._slots = np.zeros((self._batch, MAX_WORDS), dtype=WORD_DTYPE)
        raw = memoryview(self._slots).cast("B")
        self._slot_buffers = [[raw[i * MAX_DATAGRAM_BYTES:(i + 1) * MAX_DATAGRAM_BYTES]] for i in range(self._batch)]
        self._n_bytes = np.zeros(self._batch, dtype=np.int64)
        self._arrival_ns = np.zeros(self._batch, dtype=np.int64)
        self._rebase = _SensorClockRebase(timestamp_align_us)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None
        self.origin_ns: Optional[int] = None
        self._complete_ns: Optional[int] = None  # every event stamped before this is in the ring
        self._counts = dict(datagrams=0, malformed=0, rejected=0, dropped_by_buffer=0, dropped_by_kernel=0, delivered=0)

    # ---- life cycle -----------------------------------------------------------------------------
    def start(self) -> "UDPReceiver":
        """Start the receiver thread; the time base starts now (once, on the first call)."""
        if self._thread is None:
            if self._sock.fileno() < 0:
                raise EventStreamError(f"udp://{self.host}:{self.port}: this receiver was stopped; make a new one")
            if self.origin_ns is None:
                self.origin_ns = int(self.clock())
                self._complete_ns = self.origin_ns
            self._thread = threading.Thread(target=self._serve, name=f"udp-receiver-{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close the socket. Buffered events can still be polled."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._sock.close()

    def __enter__(self) -> "UDPReceiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def stream_to_local_us(self):
        """The shift from the sender's stream time to this receiver's time base, known once an event
        with a timestamp word has arrived (``None`` before, or when events carry no timestamps):
        a label mark's ``t_stream`` plus it lines up with the events' ``t`` exactly."""
        return None if self.timestamps != "sensor" else self._rebase.offset

    def open_labels(self, port: int = DEFAULT_LABEL_PORT, host: Optional[str] = None) -> LabelReceiver:
        """A started :class:`LabelReceiver` on this receiver's time base (call after :meth:`start`);
        the caller stops it (or uses it in a ``with`` block)."""
        if self.origin_ns is None:
            raise EventStreamError("open_labels() needs the receiver's time base: call start() first")
        labels = LabelReceiver(self.host if host is None else host, port, clock=self.clock, origin_ns=self.origin_ns)
        return labels.start()

    # ---- consumer side --------------------------------------------------------------------------
    def now_us(self) -> int:
        """Microseconds since :meth:`start` on the receiver's clock (the events' time base)."""
        if self.origin_ns is None:
            raise EventStreamError("the receiver has no time base before start(); use it as a context manager")
        return (int(self.clock()) - self.origin_ns) // 1000

    def poll(self, max_events: Optional[int] = None) -> np.ndarray:
        """Remove and return the oldest buffered events (at most ``max_events``); never blocks."""
        self._raise_thread_error()
        with self._lock:
            events = self._ring.pop(max_events)
            self._counts["delivered"] += len(events)
        return events

    def drain(self, max_events: Optional[int] = None) -> Tuple[np.ndarray, int]:
        """:meth:`poll`, plus the time (us) until which the input is complete: ``(events, until_us)``.

        Every event stamped on arrival before ``until_us`` has been returned by now (by this call
        or an earlier one), so a tick ending by then can be closed for good: this is what
        :meth:`streams.live.WallClockTicker.feed` uses as "now". (Reading the clock after
        polling instead would close ticks whose last events are still being decoded.)
        """
        self._raise_thread_error()
        with self._lock:
            events = self._ring.pop(max_events)
            self._counts["delivered"] += len(events)
            complete_ns = self._complete_ns
            truncated = self._ring.size > 0 and len(events) > 0
        if complete_ns is None:
            raise EventStreamError("the receiver has no time base before start(); use it as a context manager")
        until_us = (complete_ns - self.origin_ns) // 1000
        if truncated:  # the rest is newer: complete only up to what came out
            until_us = min(until_us, int(events["t"].max()))
        return events, until_us

    def counters(self) -> Dict[str, int]:
        """A snapshot of the counts described in the module docstring (events unless stated)."""
        with self._lock:
            counts = dict(self._counts)
            counts["buffered"] = self._ring.size
        counts["received"] = counts["delivered"] + counts["buffered"]
        return counts

    def _raise_thread_error(self) -> None:
        if self._error is not None:
            raise EventStreamError(
                f"udp://{self.host}:{self.port}: the receiver thread failed ({self._error!r}); "
                "this is a bug, please report it"
            ) from self._error

    # ---- receiver thread ------------------------------------------------------------------------
    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                # nothing stamped is waiting outside the ring now: every later event is stamped later
                batch_start_ns = int(self.clock())
                n = self._read_batch()
                if n:
                    if n == self._batch:  # more may wait in the kernel: complete only up to the last read
                        batch_start_ns = min(batch_start_ns, int(self._arrival_ns[n - 1]))
                    self._flush(n, batch_start_ns)
                else:
                    with self._lock:
                        self._complete_ns = batch_start_ns
                    select.select([self._sock], [], [], _WAIT_S)
        except BaseException as exc:  # surfaced by poll(): a dead thread must not look like silence
            if not (isinstance(exc, OSError) and self._stop.is_set()):  # else: closed by stop()
                self._error = exc

    def _read_batch(self) -> int:
        """Read up to one batch of datagrams without blocking; returns how many."""
        sock, clock = self._sock, self.clock
        n_bytes, arrival_ns = self._n_bytes, self._arrival_ns
        kernel_drops = -1
        n = 0
        while n < self._batch:
            try:
                size, ancillary, _, _ = sock.recvmsg_into(self._slot_buffers[n], _ANCILLARY_BYTES, socket.MSG_TRUNC)
            except (BlockingIOError, InterruptedError):
                break
            arrival_ns[n] = stamp_of(ancillary, self._kernel_offset_ns, clock())
            n_bytes[n] = size  # with MSG_TRUNC: the real length, even beyond the 512-byte slot
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL:
                    kernel_drops = int.from_bytes(data[:4], "little")
            n += 1
        if kernel_drops >= 0:
            with self._lock:  # cumulative: the newest value is the count
                self._counts["dropped_by_kernel"] = max(self._counts["dropped_by_kernel"], kernel_drops)
        return n

    def _flush(self, n: int, batch_start_ns: int) -> None:
        arrival_us = (self._arrival_ns[:n] - self.origin_ns) // 1000
        decoded = decode_slots(self._slots[:n], self._n_bytes[:n], arrival_us, self.sensor_size)
        events = decoded.events
        stamped = decoded.has_timestamp
        if stamped.any():
            arrival_of_stamped = arrival_us[decoded.datagram[stamped]]
            if self.timestamps == "sensor":
                events["t"][stamped] = self._rebase(events["t"][stamped], arrival_of_stamped)
            else:
                events["t"][stamped] = arrival_of_stamped
        with self._lock:
            self._complete_ns = batch_start_ns
            self._counts["dropped_by_buffer"] += self._ring.push(events)
            self._counts["datagrams"] += n
            self._counts["malformed"] += decoded.n_malformed
            self._counts["rejected"] += decoded.n_rejected
