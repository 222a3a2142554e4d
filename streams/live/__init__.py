"""Live event input: aestream / spif UDP datagrams in, simulator ticks on the wall clock out.

The pieces, in the order events flow::

    sender (send_events / send_stream)  --UDP words-->  UDPReceiver  --poll()-->  WallClockTicker  --> TickChunks
                                        --UDP marks-->  LabelReceiver --poll()--/

* :mod:`~streams.live.words`: the 32-bit event word of aestream and spif, encoded and decoded
  with numpy (no per-event Python).
* :class:`UDPReceiver`: a socket thread filling a bounded ring buffer; every loss counted
  (kernel queue, ring buffer, rejected words).
* :func:`send_events` / :func:`send_stream`: replay a recording or a labelled stream over UDP at
  ``speed`` times real time, byte-compatible with aestream; labels go on a second port
  (:mod:`~streams.live.labels`).
* :class:`WallClockTicker`: closes ticks of ``dt`` on the wall clock, jumps over silence in O(1),
  and applies the reduction policy (downsample, one spike per pixel and tick, rate cap) when input
  outruns the simulator, counting each stage.

A consumer loop (what ``stdpnet live`` runs)::

    with UDPReceiver("0.0.0.0", 3333, sensor_size=(640, 480, 2)) as rx, rx.open_labels() as labels:
        ticker = WallClockTicker(1000, rx.sensor_size, (64, 48, 2), max_events_per_tick=30, seed=0)
        while running:
            ticker.push_marks(labels.poll())    # marks first: the ticks closed next carry them
            for chunk in ticker.feed(rx):       # drain + close every tick the input has completed
                net.run(chunk)

:class:`streams.pacing.PacedSource` has the same ``drain`` / ``poll`` / ``now_us`` / ``counters``
interface (and ``poll_marks`` for its labels), for a recording or a data set replayed in-process.
"""
from .labels import DEFAULT_LABEL_PORT, MARK_DTYPE, LabelReceiver, decode_mark, encode_mark, make_marks
from .ring import DROP_NEWEST, DROP_OLDEST, EventRing
from .sender import send_events, send_stream
from .ticker import WallClockTicker
from .udp import UDPReceiver
from .words import DEFAULT_PORT, MAX_WORDS, decode_words, encode_words

__all__ = [
    "DEFAULT_LABEL_PORT",
    "DEFAULT_PORT",
    "DROP_NEWEST",
    "DROP_OLDEST",
    "EventRing",
    "LabelReceiver",
    "MARK_DTYPE",
    "MAX_WORDS",
    "UDPReceiver",
    "WallClockTicker",
    "decode_mark",
    "decode_words",
    "encode_mark",
    "encode_words",
    "make_marks",
    "send_events",
    "send_stream",
]
