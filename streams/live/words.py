"""The 32-bit event words of aestream's and SpiNNaker spif's UDP output.

One event is one little-endian 32-bit word::

    bit  31     : 1 = no timestamp follows, 0 = the next word is this event's timestamp
    bits 30..16 : x (15 bits)
    bit  15     : polarity
    bits 14..0  : y (15 bits)

This is the layout of aestream's ``DVSToUDP`` (``src/output/dvs_to_udp.cpp``) and of spif's
``spiffer`` (port 3333 feeds pipe 0, 3334 pipe 1). aestream writes the words in host byte order
(little-endian on x86 and ARM) without ``htonl``, so little-endian it is. It sends datagrams of at
most 512 bytes (``UDP_max_bytesize``): 128 words without timestamps; with ``include_timestamp``
each event word (bit 31 clear) is followed by one word holding the event's timestamp in
microseconds, truncated to 32 bits (it wraps every 71.6 minutes). aestream never mixes the two
forms in one datagram, so a datagram's form is read from its first word: bit 31 set means every
word is a timestamp-less event, bit 31 clear means (event, timestamp) pairs.

What decoding does not accept (counted, never raised, so a live run survives a bad sender):

* a **malformed datagram** (length not a multiple of 4 bytes, more than 128 words, or an odd
  number of words in the paired form) is rejected whole; it counts as
  ``ceil(bytes / bytes_per_event)`` rejected events, ``bytes_per_event`` being 4, or 8 in the
  paired form;
* an **event outside the sensor** (x >= W, y >= H or polarity >= P) is rejected;
* a word whose bit 31 contradicts the datagram's form (a mixed datagram) is rejected.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from ..events import EVENT_DTYPE, EventStreamError, SensorSize

#: Words per datagram at most (aestream's 512-byte ``UDP_max_bytesize``).
MAX_WORDS = 128
#: Bytes per datagram at most.
MAX_DATAGRAM_BYTES = 4 * MAX_WORDS
#: aestream's and spif's default UDP port.
DEFAULT_PORT = 3333

WORD_DTYPE = np.dtype("<u4")
NO_TIMESTAMP = np.uint32(1 << 31)
X_SHIFT, P_SHIFT = 16, 15
COORD_MASK = 0x7FFF
MAX_COORD = COORD_MASK + 1  # x and y take 15 bits


@dataclass(frozen=True)
class DecodedWords:
    """Events decoded from one or more datagrams.

    ``events``: the accepted events, in arrival order; ``has_timestamp[i]``: event ``i`` came with a
    timestamp word (its ``t`` is that word, a 32-bit microsecond count), otherwise its ``t`` is the
    arrival time of its datagram; ``datagram[i]``: which datagram of the batch it came in. ``n_rejected``: events that could not be used (see the module
    docstring); ``n_malformed``: datagrams rejected whole.
    """

    events: np.ndarray
    has_timestamp: np.ndarray
    datagram: np.ndarray
    n_rejected: int
    n_malformed: int


def check_wire_sensor(sensor_size: SensorSize) -> Tuple[int, int, int]:
    """``(W, H, P)`` as ints, checked to fit the word: 15-bit x and y, one polarity bit."""
    try:
        width, height, polarities = (int(v) for v in sensor_size)
    except (TypeError, ValueError):
        raise ValueError(f"sensor_size must be (W, H, P), got {sensor_size!r}") from None
    if not (0 < width <= MAX_COORD and 0 < height <= MAX_COORD and polarities in (1, 2)):
        raise ValueError(
            f"sensor {sensor_size!r} does not fit the UDP event word: W and H must be in 1..{MAX_COORD} "
            "(15 bits) and P 1 or 2 (one polarity bit)"
        )
    return width, height, polarities


def encode_words(events: np.ndarray, sensor_size: SensorSize, with_timestamps: bool = False) -> np.ndarray:
    """Encode events as little-endian 32-bit words (``<u4``), as aestream sends them.

    ``word = (x << 16) | (p << 15) | y``, plus bit 31 when there is no timestamp. With
    ``with_timestamps`` every event word is followed by ``t mod 2**32`` (microseconds), which is how
    aestream's ``include_timestamp`` mode sends them. Events outside ``sensor_size`` raise
    :class:`EventStreamError` (the sender's data is wrong: better said before anything is sent).
    """
    width, height, polarities = check_wire_sensor(sensor_size)
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64)
    p = events["p"].astype(np.int64)
    outside = (x < 0) | (x >= width) | (y < 0) | (y >= height) | (p < 0) | (p >= polarities)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise EventStreamError(
            f"encode_words: event {i} (x={x[i]}, y={y[i]}, p={p[i]}) is outside the sensor "
            f"{width}x{height}x{polarities}; {int(outside.sum())} such event(s). Crop or filter the "
            "events (or give the right sensor_size) before sending."
        )
    word = (x.astype(np.uint32) << X_SHIFT) | (p.astype(np.uint32) << P_SHIFT) | y.astype(np.uint32)
    if not with_timestamps:
        return (word | NO_TIMESTAMP).astype(WORD_DTYPE)
    words = np.empty(2 * len(word), dtype=WORD_DTYPE)
    words[0::2] = word
    words[1::2] = (events["t"].astype(np.int64) & 0xFFFFFFFF).astype(np.uint32)
    return words


def decode_words(buf, sensor_size: SensorSize, arrival_us: int = 0) -> Tuple[np.ndarray, int]:
    """Decode one datagram's bytes; returns ``(events, n_rejected)``.

    Events without a timestamp word get ``t = arrival_us``; events with one get the raw 32-bit
    timestamp. Rejections (malformed datagram, events outside the sensor, mixed forms) are counted
    in ``n_rejected`` as described in the module docstring, never raised.
    """
    return decode_datagram(buf, sensor_size, arrival_us)[0:2]


def decode_datagram(buf, sensor_size: SensorSize, arrival_us: int = 0) -> Tuple[np.ndarray, int, bool]:
    """:func:`decode_words` plus whether the datagram was malformed: ``(events, n_rejected, malformed)``."""
    data = memoryview(buf).cast("B")
    n_bytes = len(data)
    slot = np.zeros((1, MAX_WORDS), dtype=WORD_DTYPE)
    head = min(n_bytes // 4, MAX_WORDS)
    slot[0, :head] = np.frombuffer(data[: 4 * head], dtype=WORD_DTYPE)
    decoded = decode_slots(slot, np.array([n_bytes]), np.array([arrival_us], dtype=np.int64), sensor_size)
    return decoded.events, decoded.n_rejected, bool(decoded.n_malformed)


def decode_slots(slots: np.ndarray, n_bytes: np.ndarray, arrival_us: np.ndarray, sensor_size: SensorSize) -> DecodedWords:
    """Decode a batch of datagrams at once (the receiver's hot path, vectorised over all words).

    ``slots``: ``(n, 128)`` words, datagram ``i`` in row ``i``; ``n_bytes[i]``: its real length in
    bytes (may exceed 512: then the row holds only its first 512 bytes, and it is malformed);
    ``arrival_us[i]``: its arrival time, stamped on its events that carry no timestamp.
    """
    width, height, polarities = check_wire_sensor(sensor_size)
    n_bytes = np.asarray(n_bytes, dtype=np.int64)
    n_words = n_bytes // 4
    first = slots[:, 0]
    paired = (n_bytes >= 4) & ((first & NO_TIMESTAMP) == 0)
    malformed = (n_bytes % 4 != 0) | (n_bytes > MAX_DATAGRAM_BYTES) | (paired & (n_words % 2 == 1))
    bytes_per_event = np.where(paired, 8, 4)
    n_rejected = int((-(-n_bytes[malformed] // bytes_per_event[malformed])).sum())

    position = np.arange(MAX_WORDS)
    is_event_word = (position < n_words[:, None]) & ~malformed[:, None]
    is_event_word &= ~paired[:, None] | (position % 2 == 0)
    rows, cols = np.nonzero(is_event_word)  # row-major: arrival order, then order in the datagram
    word = slots[rows, cols]
    has_timestamp = paired[rows]
    form_ok = ((word & NO_TIMESTAMP) == 0) == has_timestamp
    x = ((word >> X_SHIFT) & COORD_MASK).astype(np.int64)
    y = (word & COORD_MASK).astype(np.int64)
    p = ((word >> P_SHIFT) & 1).astype(np.int64)
    keep = form_ok & (x < width) & (y < height) & (p < polarities)
    n_rejected += int(len(keep) - np.count_nonzero(keep))

    rows, cols, x, y, p, has_timestamp = rows[keep], cols[keep], x[keep], y[keep], p[keep], has_timestamp[keep]
    events = np.empty(len(rows), dtype=EVENT_DTYPE)
    events["x"], events["y"], events["p"] = x, y, p
    timestamp_col = np.minimum(cols + 1, MAX_WORDS - 1)
    events["t"] = np.where(has_timestamp, slots[rows, timestamp_col].astype(np.int64), np.asarray(arrival_us)[rows])
    return DecodedWords(events, has_timestamp, rows, n_rejected, int(np.count_nonzero(malformed)))
