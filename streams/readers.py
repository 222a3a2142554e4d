"""Event file readers: one plain function per file format, plus a dispatcher.

Every reader returns ``(events, sensor_size)`` where ``events`` is an :data:`EVENT_DTYPE` array in
file order (timestamps in microseconds, as recorded: not shifted to start at 0) and
``sensor_size`` is ``(W, H, P)`` as far as the file itself tells, or ``None`` when it does not.
:func:`read_events` is the entry point: it detects the format, resolves the sensor size and checks
every event against it (coordinates inside the sensor, timestamps never going backwards).

Supported formats (:func:`detect_format` names):

========  ===========  ============================================================================
name      extension    layout
========  ===========  ============================================================================
nmnist    ``.bin``     N-MNIST / N-Caltech101: 5-byte records (x, y, polarity bit + 23-bit time)
aedat4    ``.aedat4``  AEDAT 4.0 (DV, iniVation; also as ``.aedat``), decoded by ``aedat``
aedat2    ``.aedat``   AEDAT 2.0 (jAER), DVS128 addresses, big-endian int32 address + int32 time
evt2      ``.raw``     Prophesee EVT 2.0, decoded by ``expelliarmus``
evt3      ``.raw``     Prophesee EVT 3.0, decoded by ``expelliarmus``
dat       ``.dat``     Prophesee .dat ``Event2D``/``EventCD`` (N-CARS, ATIS), 8-byte events
npy       ``.npy``     a structured array with fields x, y, t, p (see :func:`save_events`)
npz       ``.npz``     key ``events`` (as .npy) and optional key ``sensor_size``
========  ===========  ============================================================================

The per-format readers take ``on_bad``: with ``"drop"`` an incomplete record at the end of a
truncated file is ignored (with an :class:`EventStreamWarning`) instead of raising; everything
else about bad events is :func:`read_events`'s job.
"""
from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from typing import BinaryIO, Dict, List, Optional, Tuple, Union

import numpy as np

from .events import (
    EVENT_DTYPE,
    EventStreamError,
    EventStreamWarning,
    SensorSize,
    as_events,
    check_events,
    make_events,
)

PathLike = Union[str, Path]
ReadResult = Tuple[np.ndarray, Optional[SensorSize]]

NMNIST_SENSOR_SIZE: SensorSize = (34, 34, 2)
DVS128_SENSOR_SIZE: SensorSize = (128, 128, 2)

#: Sensor sizes of Prophesee camera generations, matched against the ``% plugin_name`` header
#: line of a .raw file when it has no explicit geometry. Checked in order (``gen31`` before ``gen3``).
PROPHESEE_PLUGIN_SENSOR_SIZES: Tuple[Tuple[str, SensorSize], ...] = (
    ("gen41", (1280, 720, 2)),
    ("imx636", (1280, 720, 2)),
    ("gen31", (640, 480, 2)),
    ("gen3", (640, 480, 2)),
)

_EXTENSIONS = {
    ".bin": "nmnist",
    ".aedat4": "aedat4",
    ".aedat": "aedat",
    ".raw": "raw",
    ".dat": "dat",
    ".npy": "npy",
    ".npz": "npz",
}
FORMATS = ("nmnist", "aedat4", "aedat2", "evt2", "evt3", "dat", "npy", "npz")


# --------------------------------------------------------------------------------------------
# File checks and header parsing
# --------------------------------------------------------------------------------------------
def _checked_file(path: PathLike) -> Path:
    """Return ``path`` as a Path after checking that it names an existing, non-empty file."""
    path = Path(path)
    if not path.exists():
        raise EventStreamError(f"{path}: file not found. Check the path (relative to {Path.cwd()}).")
    if not path.is_file():
        raise EventStreamError(f"{path}: is a directory, not an event file.")
    if path.stat().st_size == 0:
        raise EventStreamError(f"{path}: empty file (0 bytes); the recording is missing or was not written.")
    return path


def _read_text_header(f: BinaryIO, prefix: bytes, end_line: Optional[bytes] = None) -> List[str]:
    """Read the lines of ``f`` that start with ``prefix`` and leave ``f`` at the first data byte.

    Reading stops at the first line that does not start with ``prefix`` or right after a line equal
    to ``end_line`` (e.g. Prophesee's ``% end``). Returns the lines decoded as latin-1, stripped.
    """
    lines = []
    while True:
        position = f.tell()
        if f.read(len(prefix)) != prefix:
            f.seek(position)
            return lines
        f.seek(position)
        line = f.readline()
        text = line.decode("latin-1").strip()
        lines.append(text)
        if end_line is not None and line.rstrip(b"\r\n") == end_line:
            return lines


def _truncation_error(
    path: Path, n_bytes: int, record_bytes: int, what: str, droppable: bool = True
) -> EventStreamError:
    remedy = "Re-export the recording"
    remedy += ", or pass on_bad='drop' to ignore the incomplete tail." if droppable else "."
    return EventStreamError(
        f"{path}: truncated or corrupt: {n_bytes} data bytes after the header is not a multiple of "
        f"{record_bytes} ({what}); the last record is incomplete. {remedy}"
    )


def _whole_records(path: Path, n_bytes: int, record_bytes: int, what: str, on_bad: str) -> int:
    """Number of complete records in ``n_bytes``; a partial tail raises unless ``on_bad='drop'``."""
    remainder = n_bytes % record_bytes
    if remainder:
        if on_bad != "drop":
            raise _truncation_error(path, n_bytes, record_bytes, what)
        warnings.warn(
            f"{path}: ignored an incomplete {remainder}-byte record at the end of the file",
            EventStreamWarning,
            stacklevel=3,
        )
    return n_bytes // record_bytes


# --------------------------------------------------------------------------------------------
# Format detection
# --------------------------------------------------------------------------------------------
def _first_line(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.readline(256).rstrip(b"\r\n")


def _prophesee_raw_header(path: Path) -> Tuple[List[str], int]:
    """``(header lines, data offset in bytes)`` of a Prophesee .raw file (``%``-prefixed lines)."""
    with open(path, "rb") as f:
        lines = _read_text_header(f, b"%", end_line=b"% end")
        return lines, f.tell()


def _raw_encoding(path: Path, header: List[str]) -> str:
    """``'evt2'`` or ``'evt3'`` from a .raw header (``% evt 3.0`` or ``% format EVT3;...``)."""
    for line in header:
        match = re.match(r"%\s*evt\s+(\S+)", line, re.IGNORECASE)
        if match:
            version = match.group(1)
            if version in ("2.0", "2"):
                return "evt2"
            if version in ("3.0", "3"):
                return "evt3"
            raise EventStreamError(
                f"{path}: Prophesee encoding 'evt {version}' is not supported (EVT 2.0 and 3.0 are). "
                "Convert the file with Metavision (e.g. metavision_file_to_raw) to EVT 3.0."
            )
        match = re.match(r"%\s*format\s+([A-Za-z0-9.]+)", line, re.IGNORECASE)
        if match:
            name = match.group(1).upper()
            if name in ("EVT2", "EVT3"):
                return name.lower()
            raise EventStreamError(
                f"{path}: Prophesee format {name!r} is not supported (EVT2 and EVT3 are)."
            )
    raise EventStreamError(
        f"{path}: corrupt or unknown .raw header: no '% evt 2.0', '% evt 3.0' or '% format EVT2/EVT3' "
        "line among the '%' header lines. Only Prophesee EVT 2.0/3.0 .raw files are supported."
    )


def detect_format(path: PathLike) -> str:
    """Name of the event format of ``path``, one of :data:`FORMATS`.

    The extension chooses the family; the header (magic) decides the variant and is checked, so a
    file whose header does not match its extension raises :class:`EventStreamError`.
    """
    path = _checked_file(path)
    family = _EXTENSIONS.get(path.suffix.lower())
    if family is None:
        raise EventStreamError(
            f"{path}: unknown extension {path.suffix!r}; supported: {', '.join(sorted(_EXTENSIONS))}. "
            "Rename the file if it has one of these formats, or convert it to .npz with save_events()."
        )
    if family in ("aedat", "aedat4"):
        first = _first_line(path)
        if not first.startswith(b"#!AER-DAT"):
            raise EventStreamError(
                f"{path}: corrupt header: an AEDAT file starts with '#!AER-DAT<version>', "
                f"found {first[:40]!r}."
            )
        version = first[len(b"#!AER-DAT"):].decode("latin-1")
        if version.startswith("4."):
            return "aedat4"
        if family == "aedat" and version.startswith("2."):
            return "aedat2"
        raise EventStreamError(
            f"{path}: AEDAT version {version!r} is not supported with extension {path.suffix!r} "
            "(supported: AEDAT 2.0 as .aedat, AEDAT 4.0 as .aedat or .aedat4). "
            "Convert it with jAER or DV to one of these."
        )
    if family == "raw":
        header, _ = _prophesee_raw_header(path)
        if not header:
            raise EventStreamError(f"{path}: corrupt header: a Prophesee .raw file starts with '%' header lines.")
        return _raw_encoding(path, header)
    if family == "dat":
        with open(path, "rb") as f:
            if f.read(1) != b"%":
                raise EventStreamError(
                    f"{path}: corrupt header: a Prophesee .dat file starts with '%' header lines."
                )
        return "dat"
    if family == "npy":
        with open(path, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise EventStreamError(f"{path}: not a NumPy .npy file (bad magic bytes).")
        return "npy"
    if family == "npz":
        with open(path, "rb") as f:
            if f.read(2) != b"PK":
                raise EventStreamError(f"{path}: not a NumPy .npz (zip) file (bad magic bytes).")
        return "npz"
    return family  # nmnist: the format has no header


# --------------------------------------------------------------------------------------------
# Readers, one per format
# --------------------------------------------------------------------------------------------
def read_nmnist_bin(path: PathLike, on_bad: str = "raise") -> ReadResult:
    """Read an N-MNIST / N-Caltech101 ``.bin`` recording with ``tonic.io.read_mnist_file``.

    Each event is a 5-byte record: x (8 bits), y (8 bits), polarity (1 bit), timestamp (23 bits,
    microseconds). Records with ``y == 240`` are timestamp-overflow markers and are not events.
    Sensor size: (34, 34, 2) for N-MNIST; pass ``sensor_size=`` to :func:`read_events` for
    N-Caltech101. A file size that is not a multiple of 5 bytes means a truncated file.
    """
    import tonic.io

    path = _checked_file(path)
    n_bytes = path.stat().st_size
    n_records = _whole_records(path, n_bytes, 5, "5-byte N-MNIST records", on_bad)
    if n_records * 5 == n_bytes:
        events = tonic.io.read_mnist_file(str(path), dtype=EVENT_DTYPE)
    else:
        with open(path, "rb") as f:
            whole = f.read(n_records * 5)
        events = tonic.io.read_mnist_file(io.BytesIO(whole), dtype=EVENT_DTYPE, is_stream=True)
    return np.asarray(events, dtype=EVENT_DTYPE), NMNIST_SENSOR_SIZE


def read_aedat4(path: PathLike, on_bad: str = "raise") -> ReadResult:
    """Read an AEDAT 4.0 file (DV software) with the ``aedat`` package (same logic as tonic's reader).

    The polarity events of the lowest-numbered ``events`` stream are returned; their timestamps are
    absolute (microseconds since the Unix epoch), as recorded. The sensor size comes from that
    stream's width and height. ``on_bad`` is unused (the decoder checks its own framing).
    """
    import aedat

    path = _checked_file(path)
    try:
        decoder = aedat.Decoder(str(path))
        streams = decoder.id_to_stream()
        event_ids = [i for i, s in streams.items() if s.get("type") == "events"]
        if not event_ids:
            raise EventStreamError(
                f"{path}: the AEDAT4 file has no 'events' stream (streams: {streams}); it holds no DVS events."
            )
        stream_id = min(event_ids)
        packets = [p["events"] for p in decoder if p["stream_id"] == stream_id and "events" in p]
    except EventStreamError:
        raise
    except Exception as error:  # the aedat decoder raises bare RuntimeError/OSError on bad files
        raise EventStreamError(f"{path}: cannot decode AEDAT4 file: {error}") from error
    width, height = int(streams[stream_id]["width"]), int(streams[stream_id]["height"])
    events = as_events(np.concatenate(packets), source=str(path)) if packets else make_events([], [], [], [])
    return events, (width, height, 2)


def read_aedat2(path: PathLike, on_bad: str = "raise", coordinates: str = "image") -> ReadResult:
    """Read an AEDAT 2.0 file recorded by jAER from a DVS128 (e.g. MNIST-DVS).

    Layout: ``#``-prefixed text header lines (the first is ``#!AER-DAT2.0``), then per event a
    big-endian int32 address and a big-endian int32 timestamp (microseconds). DVS128 address bits:
    ``x_raw = (addr >> 1) & 0x7F``, ``y_raw = (addr >> 8) & 0x7F``, ``bit0 = addr & 1``. Addresses
    with bit 15 (external sync) or bit 31 (special event) set are not pixel events and are skipped,
    as jAER does.

    ``coordinates`` chooses how raw addresses become pixels:

    * ``"image"`` (default): the picture jAER shows, with row 0 at the TOP like every other format
      here (N-MNIST, AEDAT4, Prophesee): ``x = 127 - x_raw`` (jAER flips x),
      ``y = 127 - y_raw`` (jAER puts y = 0 at the bottom; we count rows from the top);
    * ``"jaer"``: jAER's own numbers, ``x = 127 - x_raw``, ``y = y_raw`` (origin bottom-left);
    * ``"raw"``: address bits unchanged, ``x = x_raw``, ``y = y_raw``, ``p = bit0``.
      (``tonic.io.read_dvs_128`` cannot be used: in tonic 1.7 it fails on its own header
      parser's 3-tuple, and it swaps x and y.)

    Polarity for ``"image"`` and ``"jaer"``: jAER's DVS128 extractor sets ``type = 1 - bit0``
    (ON = 1), and so do we. Sensor size: (128, 128, 2), the DVS128.
    """
    if coordinates not in ("image", "jaer", "raw"):
        raise ValueError(f"coordinates must be 'image', 'jaer' or 'raw', got {coordinates!r}")
    path = _checked_file(path)
    with open(path, "rb") as f:
        header = _read_text_header(f, b"#")
        if not header or not header[0].startswith("#!AER-DAT"):
            raise EventStreamError(
                f"{path}: corrupt header: the first line must be '#!AER-DAT2.0', "
                f"found {header[0][:40] if header else 'no # header line'!r}."
            )
        if not header[0].startswith("#!AER-DAT2"):
            raise EventStreamError(
                f"{path}: {header[0]!r}: only AEDAT 2.0 is supported by this reader."
            )
        data_offset = f.tell()
        n_bytes = path.stat().st_size - data_offset
        n_records = _whole_records(path, n_bytes, 8, "int32 address + int32 timestamp", on_bad)
        words = np.fromfile(f, dtype=">i4", count=2 * n_records).reshape(n_records, 2)
    address, timestamp = words[:, 0], words[:, 1]
    pixel = (address & 0x8000) == 0  # bit 15: external sync; bit 31: special (negative int32)
    pixel &= address >= 0
    address, timestamp = address[pixel], timestamp[pixel]
    x_raw = (address >> 1) & 0x7F
    y_raw = (address >> 8) & 0x7F
    bit0 = address & 1
    if coordinates == "raw":
        x, y, p = x_raw, y_raw, bit0
    else:
        x, p = 127 - x_raw, 1 - bit0
        y = 127 - y_raw if coordinates == "image" else y_raw
    return make_events(x, y, timestamp, p), DVS128_SENSOR_SIZE


def _prophesee_geometry(header: List[str]) -> Optional[SensorSize]:
    """Sensor size from ``% geometry WxH``, ``% format ...;width=W;height=H`` or ``% Width``/``% Height``."""
    width = height = None
    for line in header:
        match = re.match(r"%\s*geometry\s+(\d+)\s*x\s*(\d+)", line, re.IGNORECASE)
        if match:
            return int(match.group(1)), int(match.group(2)), 2
        if re.match(r"%\s*format\b", line, re.IGNORECASE):
            w = re.search(r"width=(\d+)", line, re.IGNORECASE)
            h = re.search(r"height=(\d+)", line, re.IGNORECASE)
            if w and h:
                return int(w.group(1)), int(h.group(1)), 2
        match = re.match(r"%\s*(width|height)\s+(\d+)", line, re.IGNORECASE)
        if match:
            if match.group(1).lower() == "width":
                width = int(match.group(2))
            else:
                height = int(match.group(2))
    if width is not None and height is not None:
        return width, height, 2
    return None


def _prophesee_plugin_sensor_size(header: List[str]) -> Optional[SensorSize]:
    for line in header:
        match = re.match(r"%\s*plugin_name\s+(\S+)", line, re.IGNORECASE)
        if match:
            plugin = match.group(1).lower()
            for key, size in PROPHESEE_PLUGIN_SENSOR_SIZES:
                if key in plugin:
                    return size
    return None


def read_prophesee_raw(path: PathLike, on_bad: str = "raise") -> ReadResult:
    """Read a Prophesee EVT 2.0 or EVT 3.0 ``.raw`` file with ``expelliarmus``.

    The encoding comes from the ``% evt 2.0`` / ``% evt 3.0`` (or ``% format EVT3;...``) header
    line. The sensor size comes from ``% geometry WxH`` or ``% format ...;width=..;height=..`` if
    present, else from ``% plugin_name`` (gen3/gen31: 640x480, gen41/imx636: 1280x720), else it is
    ``None`` and :func:`read_events` asks for ``sensor_size=``. Timestamps are as recorded.
    EVT 2.0 data is 32-bit words and EVT 3.0 16-bit words: a data size that is not a whole number
    of words means a truncated file.
    """
    from expelliarmus import Wizard

    path = _checked_file(path)
    header, data_offset = _prophesee_raw_header(path)
    if not header:
        raise EventStreamError(f"{path}: corrupt header: a Prophesee .raw file starts with '%' header lines.")
    encoding = _raw_encoding(path, header)
    sensor_size = _prophesee_geometry(header) or _prophesee_plugin_sensor_size(header)
    word_bytes = 4 if encoding == "evt2" else 2
    n_bytes = path.stat().st_size - data_offset
    if n_bytes % word_bytes:  # expelliarmus decodes whole files only, so on_bad cannot skip the tail
        what = f"{8 * word_bytes}-bit {encoding.upper()} words"
        raise _truncation_error(path, n_bytes, word_bytes, what, droppable=False)
    if n_bytes == 0:
        return make_events([], [], [], []), sensor_size
    decoded = Wizard(encoding=encoding).read(str(path))
    if decoded is None:  # expelliarmus prints its error to stderr and returns None
        raise EventStreamError(
            f"{path}: expelliarmus could not decode the {encoding.upper()} data (see its message on "
            "stderr); the file is corrupt or its header names the wrong encoding."
        )
    return as_events(decoded, source=str(path)), sensor_size


def read_prophesee_dat(path: PathLike, on_bad: str = "raise") -> ReadResult:
    """Read a Prophesee ``.dat`` file of 2-D events (``Event2D``/``EventCD``, e.g. N-CARS, ATIS).

    Layout: ``%``-prefixed text header lines, one byte event type (0 = Event2D, 12 = EventCD), one
    byte event size (8), then 8-byte little-endian events: uint32 timestamp (microseconds) and a
    uint32 packing x (bits 0-13), y (bits 14-27), polarity (bits 28-31). Decoded with numpy (gives
    the same events as ``expelliarmus.Wizard(encoding='dat')``).

    Sensor size: from ``% Width``/``% Height`` or ``% geometry`` header lines if present, else
    ``None`` and :func:`read_events` falls back to max coordinate + 1. N-CARS files carry no
    geometry; its samples are crops of at most 120x100 pixels, so pass ``sensor_size=(120, 100, 2)``
    to get one size for the whole data set.
    """
    path = _checked_file(path)
    with open(path, "rb") as f:
        header = _read_text_header(f, b"%")
        if not header:
            raise EventStreamError(f"{path}: corrupt header: a Prophesee .dat file starts with '%' header lines.")
        type_and_size = f.read(2)
        if len(type_and_size) < 2:
            return make_events([], [], [], []), _prophesee_geometry(header)
        event_type, event_size = type_and_size[0], type_and_size[1]
        if event_type not in (0, 12) or event_size != 8:
            raise EventStreamError(
                f"{path}: unsupported .dat event type {event_type} of size {event_size} bytes; only 2-D "
                "events (type 0 Event2D or 12 EventCD, 8 bytes) are supported."
            )
        n_bytes = path.stat().st_size - f.tell()
        n_events = _whole_records(path, n_bytes, 8, "8-byte events", on_bad)
        words = np.fromfile(f, dtype="<u4", count=2 * n_events).reshape(n_events, 2)
    packed = words[:, 1]
    events = make_events(packed & 0x3FFF, (packed >> 14) & 0x3FFF, words[:, 0], (packed >> 28) & 0xF)
    return events, _prophesee_geometry(header)


def read_npy(path: PathLike, on_bad: str = "raise") -> ReadResult:
    """Read events saved by :func:`save_events`: ``.npy`` (events only) or ``.npz`` (``events`` and
    optional ``sensor_size``). Any structured array with fields x, y, t, p is accepted."""
    path = _checked_file(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as error:
        raise EventStreamError(f"{path}: cannot load NumPy file: {error}") from error
    sensor_size = None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            if "events" not in loaded.files:
                raise EventStreamError(
                    f"{path}: the .npz file has no 'events' array (it has {loaded.files}); "
                    "save it with streams.save_events()."
                )
            array = loaded["events"]
            if "sensor_size" in loaded.files:
                sensor_size = _as_sensor_size(loaded["sensor_size"].tolist(), str(path))
    else:
        array = loaded
    if array.dtype.names is None or array.ndim != 1:
        raise EventStreamError(
            f"{path}: expected a 1-D structured array with fields x, y, t, p, got dtype {array.dtype} "
            f"and shape {array.shape}."
        )
    return as_events(array, source=str(path)), sensor_size


_READERS = {
    "nmnist": read_nmnist_bin,
    "aedat4": read_aedat4,
    "aedat2": read_aedat2,
    "evt2": read_prophesee_raw,
    "evt3": read_prophesee_raw,
    "dat": read_prophesee_dat,
    "npy": read_npy,
    "npz": read_npy,
}


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------
def _as_sensor_size(size, source: str) -> SensorSize:
    try:
        values = tuple(int(v) for v in size)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or min(values) <= 0:
        raise EventStreamError(f"{source}: sensor_size must be three positive integers (W, H, P), got {size!r}")
    return values  # type: ignore[return-value]


def sensor_size_from_events(events: np.ndarray) -> SensorSize:
    """Smallest sensor holding every event: ``(max x + 1, max y + 1, max(2, max p + 1))``."""
    if len(events) == 0:
        return (1, 1, 2)
    return (
        int(events["x"].max()) + 1,
        int(events["y"].max()) + 1,
        max(2, int(events["p"].max()) + 1),
    )


def read_events(
    path: PathLike,
    *,
    sensor_size: Optional[SensorSize] = None,
    on_bad: str = "raise",
) -> Tuple[np.ndarray, SensorSize]:
    """Read an event file of any supported format; returns ``(events, sensor_size)``.

    ``events`` is :data:`EVENT_DTYPE` (t in microseconds, as recorded), sorted by time: timestamps
    going backwards and events outside the sensor raise :class:`EventStreamError` naming the file
    and the first bad event, unless ``on_bad="drop"``, which drops them (and an incomplete record at
    the end of a truncated file) with an :class:`EventStreamWarning` giving the count.

    ``sensor_size`` ``(W, H, P)`` overrides what the file says. When neither gives one: .dat and
    .npy files fall back to max coordinate + 1 (P at least 2); a .raw file raises.
    """
    if on_bad not in ("raise", "drop"):
        raise ValueError(f"on_bad must be 'raise' or 'drop', got {on_bad!r}")
    fmt = detect_format(path)
    source = str(path)
    events, file_sensor_size = _READERS[fmt](path, on_bad=on_bad)
    if sensor_size is not None:
        size = _as_sensor_size(sensor_size, source)
    elif file_sensor_size is not None:
        size = file_sensor_size
    elif fmt in ("evt2", "evt3"):
        raise EventStreamError(
            f"{source}: cannot tell the sensor size: the .raw header has no '% geometry', '% format "
            "...;width=;height=' or known '% plugin_name' line. Pass sensor_size=(W, H, 2)."
        )
    else:
        size = sensor_size_from_events(events)
    events, n_dropped = check_events(events, size, source=source, on_bad=on_bad)
    if n_dropped:
        warnings.warn(
            f"{source}: dropped {n_dropped} bad event(s) (outside the {size[0]}x{size[1]}x{size[2]} "
            "sensor or with a timestamp going backwards)",
            EventStreamWarning,
            stacklevel=2,
        )
    return events, size


def save_events(path: PathLike, events: np.ndarray, sensor_size: Optional[SensorSize] = None) -> Path:
    """Save events as ``.npz`` (``events`` + ``sensor_size``) or ``.npy`` (events only).

    The events are converted to :data:`EVENT_DTYPE` and, when ``sensor_size`` is given, checked
    against it first. A ``.npy`` file cannot store the sensor size: use ``.npz`` for that.
    Returns the path written.
    """
    path = Path(path)
    events = as_events(np.asarray(events), source=str(path))
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise EventStreamError(f"{path}: save_events writes .npy or .npz files, not {path.suffix!r}.")
    if sensor_size is not None:
        sensor_size = _as_sensor_size(sensor_size, str(path))
        check_events(events, sensor_size, source=str(path), on_bad="raise")
    if suffix == ".npy":
        if sensor_size is not None:
            raise EventStreamError(f"{path}: a .npy file cannot keep sensor_size={sensor_size}; save as .npz.")
        np.save(path, events, allow_pickle=False)
    else:
        arrays: Dict[str, np.ndarray] = {"events": events}
        if sensor_size is not None:
            arrays["sensor_size"] = np.asarray(sensor_size, dtype=np.int64)
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    return path
