"""The label side channel: sample starts of a labelled stream, sent beside the events.

aestream's words carry no labels, so a sender playing a labelled data set
(:func:`streams.live.send_stream`) sends them on a second UDP port, one tiny ASCII datagram per
mark, at the moment (paced like the events) the mark falls due::

    LBL <t_us> <label> <index>

``t_us``: stream time (sender's clock, microseconds) from which ``label`` holds; ``index``: the
sample's position in the stream (0, 1, 2, ...). A mark with ``label = -1`` and ``index = -1``
says "no sample from here" (a silent gap between samples, or the end of the stream). The current
label is the one of the latest mark, so a learner pairs every tick with the mark in force at its
start, as :mod:`streams.ticks` does for recorded streams.

:class:`LabelReceiver` stamps each mark with its arrival time on the event receiver's time base,
which is what pairs marks with arrival-stamped events: a mark is sent just before the first events
of its sample. Marks come out as :data:`MARK_DTYPE` arrays.
"""
from __future__ import annotations

import collections
import select
import threading
import time
from typing import Callable, Dict, Optional

import numpy as np

from ..events import EventStreamError
from .sockets import TIMESTAMP_ANCILLARY_BYTES, arrival_ns, kernel_clock_offset, open_udp_socket
from .words import DEFAULT_PORT

#: Default label port: 3333 is aestream's event port and 3334 spif's second event pipe.
DEFAULT_LABEL_PORT = DEFAULT_PORT + 2
#: ``t``: when the mark holds from, on the consumer's time base (arrival time for
#: :class:`LabelReceiver`); ``t_stream``: the sender's stream time; ``label`` (-1: none);
#: ``index``: sample position in the stream (-1: a gap).
MARK_DTYPE = np.dtype([("t", "<i8"), ("t_stream", "<i8"), ("label", "<i8"), ("index", "<i8")])
NO_LABEL = -1
_PREFIX = b"LBL"
_MAX_MARK_BYTES = 96
_WAIT_S = 0.05


def encode_mark(t_us: int, label: int, index: int) -> bytes:
    """The datagram of one mark: ``b"LBL <t_us> <label> <index>"``."""
    return b"LBL %d %d %d" % (int(t_us), int(label), int(index))


def decode_mark(data: bytes) -> Optional[tuple]:
    """``(t_us, label, index)`` from a mark datagram, or ``None`` if it is not one."""
    fields = bytes(data).split()
    if len(fields) != 4 or fields[0] != _PREFIX:
        return None
    try:
        t_us, label, index = (int(f) for f in fields[1:])
    except ValueError:
        return None
    return t_us, label, index


def make_marks(t, t_stream, label, index) -> np.ndarray:
    """A :data:`MARK_DTYPE` array from four equally long sequences."""
    marks = np.empty(len(t), dtype=MARK_DTYPE)
    marks["t"], marks["t_stream"], marks["label"], marks["index"] = t, t_stream, label, index
    return marks


class LabelReceiver:
    """Receive label marks on ``udp://host:port`` (format in the module docstring).

    A thread stamps each mark with ``(clock() - origin_ns) // 1000``, microseconds on the event
    receiver's time base: get one with :meth:`streams.live.UDPReceiver.open_labels`, which shares
    that receiver's clock and origin. :meth:`poll` returns and removes the marks received so far
    (:data:`MARK_DTYPE`, arrival order). At most ``capacity`` marks wait; older ones are dropped and
    counted. ``counters()``: ``received``, ``rejected`` (datagrams that are not marks),
    ``dropped_by_buffer``, ``missing`` (sample indices skipped: marks lost on the way).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_LABEL_PORT,
        *,
        clock: Callable[[], int] = time.monotonic_ns,
        origin_ns: Optional[int] = None,
        capacity: int = 1 << 16,
    ):
        self.clock = clock
        self.origin_ns = origin_ns
        self._sock = open_udp_socket(host, port, rcvbuf_bytes=None, what="labels")
        self._kernel_offset_ns = kernel_clock_offset(self._sock, clock)
        self.host, self.port = self._sock.getsockname()[:2]
        self._marks: collections.deque = collections.deque(maxlen=int(capacity))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None
        self._last_index = -1
        self._counts = dict(received=0, rejected=0, dropped_by_buffer=0, missing=0)

    def start(self) -> "LabelReceiver":
        if self._thread is None:
            if self.origin_ns is None:
                self.origin_ns = int(self.clock())
            self._thread = threading.Thread(target=self._serve, name=f"label-receiver-{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._sock.close()

    def __enter__(self) -> "LabelReceiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def poll(self) -> np.ndarray:
        if self._error is not None:
            raise EventStreamError(
                f"udp://{self.host}:{self.port}: the label receiver thread failed ({self._error!r}); "
                "this is a bug, please report it"
            ) from self._error
        with self._lock:
            rows = list(self._marks)
            self._marks.clear()
        if not rows:
            return np.zeros(0, dtype=MARK_DTYPE)
        return np.array(rows, dtype=MARK_DTYPE)

    def counters(self) -> Dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    data, ancillary, _, _ = self._sock.recvmsg(_MAX_MARK_BYTES, TIMESTAMP_ANCILLARY_BYTES)
                except (BlockingIOError, InterruptedError):
                    select.select([self._sock], [], [], _WAIT_S)
                    continue
                arrival = arrival_ns(ancillary, self._kernel_offset_ns, int(self.clock()))
                self._add(data, (arrival - self.origin_ns) // 1000)
        except BaseException as exc:  # surfaced by poll()
            if not (isinstance(exc, OSError) and self._stop.is_set()):
                self._error = exc

    def _add(self, data: bytes, arrival_us: int) -> None:
        mark = decode_mark(data)
        with self._lock:
            if mark is None:
                self._counts["rejected"] += 1
                return
            t_stream, label, index = mark
            if index >= 0:
                self._counts["missing"] += max(0, index - self._last_index - 1)
                self._last_index = max(self._last_index, index)
            if len(self._marks) == self._marks.maxlen:
                self._counts["dropped_by_buffer"] += 1
            self._marks.append((arrival_us, t_stream, label, index))
            self._counts["received"] += 1


def check_marks(marks: np.ndarray, source: str = "marks") -> np.ndarray:
    """Check that ``marks`` is a :data:`MARK_DTYPE` array (raises :class:`EventStreamError`)."""
    marks = np.asarray(marks)
    if marks.dtype != MARK_DTYPE:
        raise EventStreamError(f"{source}: expected a MARK_DTYPE array (t, t_stream, label, index), got {marks.dtype}")
    return marks
