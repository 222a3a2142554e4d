"""AEDAT 4.0 files: our own check of the container, then the ``aedat`` decoder, guarded.

The ``aedat`` package (Rust) reads the file's IOHeader with an *unchecked* flatbuffer accessor
(``root_as_ioheader_unchecked``). On corrupt header bytes it panics (seen: "range start index
1000000 out of range for slice"; a pyo3 ``PanicException``, which derives from ``BaseException``
so ``except Exception`` misses it, with a Rust backtrace printed on stderr) or, on a description
that is not UTF-8, aborts the whole process (SIGABRT, "panic in a destructor during cleanup":
nothing can catch that). It also allocates whatever a corrupt length field asks for (up to
4 GiB per packet) before reading it. So :func:`check_container` validates everything the decoder
trusts before it is called:

* magic ``#!AER-DAT4.0\\r\\n``, then a little-endian uint32 IOHeader length that fits the file;
* the IOHeader flatbuffer (table ``Ioheader {compression: int32; file_data_position: int64;
  description: string}``): root offset, vtable, every field and the description string lie
  inside the buffer, the description is valid UTF-8, the compression is a known one (0 none,
  1 LZ4, 2 LZ4 high, 3 Zstd, 4 Zstd high) and ``file_data_position`` is -1 or after the header
  (past the end of the file means the file was cut);
* the packet framing (uint32 stream id, uint32 byte size, payload) up to ``file_data_position``
  (or the end of the file when it is -1): every packet must fit.

A file cut inside its packets is an error, or with ``on_bad="drop"`` a partial read of the whole
packets before the cut, with a warning. The decoder then only sees checked framing; it verifies
each packet's own flatbuffer itself. Any exception it still raises, including pyo3's
``PanicException`` (a ``BaseException``), becomes an :class:`EventStreamError` naming the file.
What remains unchecked: the content of a compressed packet (a crafted LZ4/Zstd stream can still
decompress to a very large buffer).
"""
from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from .events import EventStreamError, EventStreamWarning, SensorSize, as_events, make_events

MAGIC = b"#!AER-DAT4.0\r\n"
COMPRESSIONS = ("none", "LZ4", "LZ4 high", "Zstd", "Zstd high")
_HEADER_PREFIX = len(MAGIC) + 4  # magic + IOHeader length


@dataclass(frozen=True)
class Container:
    """What :func:`check_container` learnt: where packets are and how many are whole."""

    compression: str
    packets_start: int
    packets_end: int    # file_data_position, or the end of the file when it is -1
    n_packets: int      # whole packets before packets_end (or before a cut)
    cut_at: int = -1    # byte offset of an incomplete packet, -1 if none


def _corrupt(path: Path, what: str) -> EventStreamError:
    return EventStreamError(
        f"{path}: corrupt AEDAT4 header: {what}. The file is damaged; re-export it from DV."
    )


def _check_ioheader(path: Path, buffer: bytes, file_size: int) -> Tuple[int, int]:
    """Validate the IOHeader flatbuffer; returns ``(compression, file_data_position)``."""
    size = len(buffer)

    def u16(at: int) -> int:
        return struct.unpack_from("<H", buffer, at)[0]

    def u32(at: int) -> int:
        return struct.unpack_from("<I", buffer, at)[0]

    if size < 8:
        raise _corrupt(path, f"the IOHeader has {size} bytes, too few for a flatbuffer")
    table = u32(0)
    if table + 4 > size:
        raise _corrupt(path, f"IOHeader root offset {table} points outside its {size} bytes")
    vtable = table - struct.unpack_from("<i", buffer, table)[0]
    if not 0 <= vtable <= size - 4:
        raise _corrupt(path, f"IOHeader vtable offset {vtable} is outside its {size} bytes")
    vtable_size, table_size = u16(vtable), u16(vtable + 2)
    if vtable_size < 4 or vtable_size % 2 or vtable + vtable_size > size or table + table_size > size:
        raise _corrupt(path, "the IOHeader vtable sizes do not fit the header")

    def field(index: int, width: int) -> Optional[int]:
        slot = 4 + 2 * index
        if slot + 2 > vtable_size:
            return None
        offset = u16(vtable + slot)
        if offset == 0:
            return None
        if offset + width > table_size:
            raise _corrupt(path, f"IOHeader field {index} lies outside its table")
        return table + offset

    at = field(0, 4)
    compression = struct.unpack_from("<i", buffer, at)[0] if at is not None else 0
    if not 0 <= compression < len(COMPRESSIONS):
        raise _corrupt(path, f"unknown compression code {compression} (known: 0..{len(COMPRESSIONS) - 1})")
    at = field(1, 8)
    data_position = struct.unpack_from("<q", buffer, at)[0] if at is not None else -1
    if data_position != -1 and data_position < _HEADER_PREFIX + size:
        raise _corrupt(path, f"file data position {data_position} lies inside the header")
    at = field(2, 4)
    if at is None:
        raise _corrupt(path, "the IOHeader has no stream description")
    string = at + u32(at)
    if string + 4 > size or string + 4 + u32(string) >= size or buffer[string + 4 + u32(string)] != 0:
        raise _corrupt(path, "the stream description string lies outside the IOHeader")
    try:
        buffer[string + 4: string + 4 + u32(string)].decode("utf-8")
    except UnicodeDecodeError as error:
        raise _corrupt(path, f"the stream description is not UTF-8 ({error.reason} at byte {error.start})") from None
    return compression, data_position


def check_container(path: Path, on_bad: str = "raise") -> Container:
    """Validate the AEDAT4 container of ``path`` (see the module docstring) without decoding it."""
    file_size = path.stat().st_size
    with open(path, "rb") as f:
        prefix = f.read(_HEADER_PREFIX)
        if not prefix.startswith(MAGIC):
            if MAGIC.startswith(prefix):
                raise EventStreamError(f"{path}: the file ends inside its AEDAT4 header ({file_size} bytes).")
            raise _corrupt(path, f"it must start with {MAGIC!r}, found {prefix[:len(MAGIC)]!r}")
        if len(prefix) < _HEADER_PREFIX:
            raise EventStreamError(f"{path}: the file ends inside its AEDAT4 header ({file_size} bytes).")
        header_size = struct.unpack_from("<I", prefix, len(MAGIC))[0]
        if _HEADER_PREFIX + header_size > file_size:
            raise EventStreamError(
                f"{path}: the file ends inside its AEDAT4 header (the IOHeader needs {header_size} "
                f"bytes, {file_size - _HEADER_PREFIX} remain): truncated or corrupt."
            )
        compression, data_position = _check_ioheader(path, f.read(header_size), file_size)
        start = _HEADER_PREFIX + header_size
        # packets run up to the file data table, or to the end of the file when there is none (-1)
        end = file_size if data_position == -1 else min(data_position, file_size)
        # walk the packet headers (8 bytes each) without reading payloads
        position, n_packets, cut_at = start, 0, -1
        while position < end:
            f.seek(position)
            frame = f.read(8)
            if len(frame) < 8 or position + 8 > end:
                cut_at = position
                break
            _, size = struct.unpack("<II", frame)
            if position + 8 + size > end:
                cut_at = position
                break
            position += 8 + size
            n_packets += 1
    if data_position > file_size:
        what = (f"the file ends at byte {file_size}, before the file data table its header places at "
                f"byte {data_position}")
        if cut_at >= 0:
            what += f" (the packet at byte {cut_at} is incomplete)"
    elif cut_at >= 0:
        limit = "the end of the file" if data_position == -1 else f"the file data table at byte {end}"
        what = f"the packet at byte {cut_at} runs past {limit}"
    else:
        what = ""
    if what:
        if on_bad != "drop":
            raise EventStreamError(
                f"{path}: truncated or corrupt AEDAT4 file: {what}. Re-export or re-copy the recording, "
                "or pass on_bad='drop' to read the whole packets before the cut."
            )
        warnings.warn(
            f"{path}: truncated AEDAT4 file: {what}; read the {n_packets} whole packet(s) before it",
            EventStreamWarning,
            stacklevel=3,
        )
    return Container(COMPRESSIONS[compression], start, end, n_packets, cut_at)


def decode(path: Path, on_bad: str = "raise") -> Tuple[np.ndarray, SensorSize]:
    """Polarity events of the lowest-numbered ``events`` stream and that stream's sensor size."""
    import aedat

    container = check_container(path, on_bad)
    try:
        decoder = aedat.Decoder(str(path))
        streams = decoder.id_to_stream()
        event_ids = [i for i, s in streams.items() if s.get("type") == "events"]
        if not event_ids:
            raise EventStreamError(
                f"{path}: the AEDAT4 file has no 'events' stream (streams: {streams}); it holds no DVS events."
            )
        stream_id = min(event_ids)
        packets = []
        for _, packet in zip(range(container.n_packets), decoder):  # whole packets only
            if packet["stream_id"] == stream_id and "events" in packet:
                packets.append(packet["events"])
    except EventStreamError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # noqa: BLE001 - aedat raises RuntimeError, OSError or pyo3 panics
        raise EventStreamError(
            f"{path}: cannot decode AEDAT4 file ({type(error).__name__}: {error}); it is corrupt."
        ) from error
    width, height = int(streams[stream_id]["width"]), int(streams[stream_id]["height"])
    if packets:
        events = as_events(np.concatenate(packets), source=str(path))
    else:
        events = make_events([], [], [], [], source=str(path))
    return events, (width, height, 2)
