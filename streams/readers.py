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
evt2      ``.raw``     Prophesee EVT 2.0 (:mod:`streams.evt`)
evt3      ``.raw``     Prophesee EVT 3.0 (:mod:`streams.evt`)
dat       ``.dat``     Prophesee .dat ``Event2D``/``EventCD`` (N-CARS, ATIS), 8-byte events
npy       ``.npy``     a structured array with fields x, y, t, p (see :func:`save_events`)
npz       ``.npz``     key ``events`` (as .npy) and optional key ``sensor_size``
========  ===========  ============================================================================

Bad files never escape as anything but :class:`EventStreamError` naming the file:

* missing, a directory or other non-regular file, unreadable (permissions), empty;
* cut inside its header (text header lines, a binary header, a NumPy header or zip structure),
  like an empty file: nothing after the header means the recording is missing. A text header
  counts as complete only when data follows it or when it ends with its format's end line
  (``#End Of ASCII Header``, ``% end``);
* cut inside its records: an error, or with ``on_bad="drop"`` a partial read of the whole records
  before the cut with an :class:`EventStreamWarning` (``.npz`` and cut AEDAT4 headers excepted);
* corrupt values: checked before narrowing (:func:`streams.as_events`), then against the sensor
  and for time order by :func:`read_events`.

Third-party decoders are called only on input we validated first: ``aedat`` through
:mod:`streams.aedat4`; NumPy's loader only after our own check of the ``.npy`` header and sizes.
N-MNIST, AEDAT 2.0, EVT 2.0/3.0 and ``.dat`` are decoded here with numpy.
"""
from __future__ import annotations

import functools
import re
import stat
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Dict, List, Optional, Tuple, Union

import numpy as np

from . import aedat4, evt
from .events import (
    EVENT_DTYPE,
    EventStreamError,
    EventStreamWarning,
    SensorSize,
    as_events,
    check_events,
    check_sensor_size,
    make_events,
    sensor_size_from_events,
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

#: Longest accepted text header line (bytes); a longer "line" means binary data or corruption.
MAX_HEADER_LINE = 1 << 16
#: Words decoded at a time by the EVT readers (bounds their temporary memory).
EVT_BLOCK_WORDS = 1 << 22
#: Largest NumPy header accepted (numpy's own default).
_NPY_MAX_HEADER = 10_000


# --------------------------------------------------------------------------------------------
# File checks and header parsing
# --------------------------------------------------------------------------------------------
def _checked_file(path: PathLike) -> Path:
    """Return ``path`` as a Path after checking it names an existing, regular, non-empty file."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise EventStreamError(f"{path}: file not found. Check the path (relative to {Path.cwd()}).") from None
    except OSError as error:
        raise EventStreamError(f"{path}: cannot access the file: {error.strerror or error}.") from None
    if stat.S_ISDIR(info.st_mode):
        raise EventStreamError(f"{path}: is a directory, not an event file.")
    if not stat.S_ISREG(info.st_mode):
        raise EventStreamError(
            f"{path}: not a regular file (a pipe, device or socket); save the events to a file first."
        )
    if info.st_size == 0:
        raise EventStreamError(f"{path}: empty file (0 bytes); the recording is missing or was not written.")
    return path


def _guard_io(reader):
    """Turn OS-level failures of ``reader(path, ...)`` into an :class:`EventStreamError` naming the file."""

    @functools.wraps(reader)
    def guarded(path: PathLike, *args, **kwargs):
        try:
            return reader(path, *args, **kwargs)
        except OSError as error:
            raise EventStreamError(
                f"{path}: cannot read the file: {error.strerror or error}. Check that you may read it "
                "(permissions) and that the disk is readable."
            ) from error
        except MemoryError as error:
            raise EventStreamError(
                f"{path}: the file announces more data than fits in memory; it is probably corrupt."
            ) from error

    return guarded


@dataclass(frozen=True)
class TextHeader:
    """Text header lines of a file (decoded as latin-1, stripped) and where its data starts.

    ``complete`` is False when the file ends inside the header: no data byte follows the header
    lines and the last line is not the format's end line (or it is cut mid-line)."""

    lines: List[str]
    data_offset: int
    complete: bool


#: Bytes that never occur in a text header line: seeing one means the line is binary data.
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _read_text_header(f: BinaryIO, path: Path, prefix: bytes, end_line: Optional[bytes] = None) -> TextHeader:
    """Read the lines of ``f`` that start with ``prefix`` and leave ``f`` at the first data byte.

    Reading stops at the first line that does not start with ``prefix``, or right after a line
    equal (case-insensitively) to ``end_line`` (e.g. Prophesee's ``% end``). A "line" holding
    control bytes is binary data that happens to start with ``prefix`` (an EVT 3.0 word whose low
    byte is 0x25 reads as ``%``): the header ends before it instead of swallowing event words.
    """
    lines: List[str] = []
    while True:
        position = f.tell()
        head = f.read(len(prefix))
        if head != prefix:
            f.seek(position)
            return TextHeader(lines, position, complete=len(head) > 0)
        f.seek(position)
        line = f.readline(MAX_HEADER_LINE)
        if lines and _CONTROL_BYTES.search(line.rstrip(b"\r\n")):
            f.seek(position)
            return TextHeader(lines, position, complete=True)
        if not line.endswith(b"\n"):
            if len(line) >= MAX_HEADER_LINE:
                raise EventStreamError(
                    f"{path}: corrupt header: a {prefix.decode('latin-1')!r} header line is longer than "
                    f"{MAX_HEADER_LINE} bytes (binary data where text was expected)."
                )
            lines.append(line.decode("latin-1").strip())
            return TextHeader(lines, f.tell(), complete=False)
        lines.append(line.decode("latin-1").strip())
        if end_line is not None and line.rstrip(b"\r\n").lower() == end_line.lower():
            return TextHeader(lines, f.tell(), complete=True)


def _header_cut_error(path: Path, what: str) -> EventStreamError:
    return EventStreamError(
        f"{path}: the file ends inside its {what} header: no event data follows it. The file was cut "
        "(an interrupted copy or recording); re-copy or re-export it."
    )


def _truncation_error(path: Path, n_bytes: int, record_bytes: int, what: str) -> EventStreamError:
    return EventStreamError(
        f"{path}: truncated or corrupt: {n_bytes} data bytes after the header is not a multiple of "
        f"{record_bytes} ({what}); the last record is incomplete. Re-export the recording, or pass "
        "on_bad='drop' to ignore the incomplete tail."
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
            stacklevel=4,
        )
    return n_bytes // record_bytes


def _read_exactly(f: BinaryIO, path: Path, dtype, count: int) -> np.ndarray:
    """``count`` items of ``dtype`` from ``f``; a short read (the file shrank meanwhile) raises."""
    array = np.fromfile(f, dtype=dtype, count=count)
    if len(array) != count:
        raise EventStreamError(f"{path}: the file ended early while reading it (was it being written?).")
    return array


# --------------------------------------------------------------------------------------------
# Format detection
# --------------------------------------------------------------------------------------------
def _prophesee_raw_header(path: Path) -> TextHeader:
    """The ``%`` header lines of a Prophesee .raw file (ends at the first data byte or ``% end``)."""
    with open(path, "rb") as f:
        return _read_text_header(f, path, b"%", end_line=b"% end")


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


def _checked_raw_header(path: Path) -> Tuple[TextHeader, str]:
    header = _prophesee_raw_header(path)
    if not header.lines:
        raise EventStreamError(f"{path}: corrupt header: a Prophesee .raw file starts with '%' header lines.")
    if not header.complete:
        raise _header_cut_error(path, "Prophesee .raw")
    return header, _raw_encoding(path, header.lines)


_AEDAT_MAGIC = b"#!AER-DAT"


def _detect(path: Path) -> str:
    family = _EXTENSIONS.get(path.suffix.lower())
    if family is None:
        raise EventStreamError(
            f"{path}: unknown extension {path.suffix!r}; supported: {', '.join(sorted(_EXTENSIONS))}. "
            "Rename the file if it has one of these formats, or convert it to .npz with save_events()."
        )
    if family == "nmnist":
        return family  # the format has no header
    with open(path, "rb") as f:
        start = f.read(256)
    if family in ("aedat", "aedat4"):
        first = start.split(b"\n", 1)[0].rstrip(b"\r")
        if not first.startswith(_AEDAT_MAGIC):
            if _AEDAT_MAGIC.startswith(first) and b"\n" not in start:
                raise _header_cut_error(path, "AEDAT")
            raise EventStreamError(
                f"{path}: corrupt header: an AEDAT file starts with '#!AER-DAT<version>', "
                f"found {first[:40]!r}."
            )
        version = first[len(_AEDAT_MAGIC):].decode("latin-1")
        if version.startswith("4."):
            return "aedat4"
        if family == "aedat" and version.startswith("2."):
            return "aedat2"
        if b"\n" not in start and len(version) < 3:
            raise _header_cut_error(path, "AEDAT")
        raise EventStreamError(
            f"{path}: AEDAT version {version!r} is not supported with extension {path.suffix!r} "
            "(supported: AEDAT 2.0 as .aedat, AEDAT 4.0 as .aedat or .aedat4). "
            "Convert it with jAER or DV to one of these."
        )
    if family == "raw":
        return _checked_raw_header(path)[1]
    if family == "dat":
        if not start.startswith(b"%"):
            raise EventStreamError(f"{path}: corrupt header: a Prophesee .dat file starts with '%' header lines.")
        return "dat"
    if family == "npy":
        if not start.startswith(b"\x93NUMPY"):
            if b"\x93NUMPY".startswith(start):
                raise _header_cut_error(path, "NumPy .npy")
            raise EventStreamError(f"{path}: not a NumPy .npy file (bad magic bytes).")
        return "npy"
    if family == "npz":
        if not start.startswith(b"PK"):
            raise EventStreamError(f"{path}: not a NumPy .npz (zip) file (bad magic bytes).")
        return "npz"
    raise AssertionError(f"unhandled format family {family!r}")  # every _EXTENSIONS value is handled


def detect_format(path: PathLike) -> str:
    """Name of the event format of ``path``, one of :data:`FORMATS`.

    The extension chooses the family; the header (magic) decides the variant and is checked, so a
    file whose header does not match its extension, or that ends inside its header, raises
    :class:`EventStreamError`.
    """
    path = _checked_file(path)
    return _guard_io(_detect)(path)


# --------------------------------------------------------------------------------------------
# Readers, one per format
# --------------------------------------------------------------------------------------------
@_guard_io
def read_nmnist_bin(path: PathLike, on_bad: str = "raise") -> ReadResult:
    """Read an N-MNIST / N-Caltech101 ``.bin`` recording.

    Each event is a 5-byte record: x (8 bits), y (8 bits), polarity (bit 7 of byte 2), timestamp
    (23 bits: byte 2 bits 6..0, byte 3, byte 4; microseconds). Records with ``y == 240`` are
    timestamp-overflow markers, not events: each adds ``2**13`` us to every later timestamp (as
    ``tonic.io.read_mnist_file`` and the original ``eventvision.py`` do; decoded here with a
    cumulative sum instead of tonic's loop over markers, which is quadratic on corrupt files).
    Sensor size: (34, 34, 2) for N-MNIST; pass ``sensor_size=`` to :func:`read_events` for
    N-Caltech101. A file size that is not a multiple of 5 bytes means a truncated file.
    """
    path = _checked_file(path)
    n_records = _whole_records(path, path.stat().st_size, 5, "5-byte N-MNIST records", on_bad)
    with open(path, "rb") as f:
        records = _read_exactly(f, path, np.uint8, 5 * n_records).reshape(n_records, 5)
    y = records[:, 1]
    overflow = y == 240
    t = ((records[:, 2] & 0x7F).astype(np.int64) << 16) | (records[:, 3].astype(np.int64) << 8) | records[:, 4]
    if overflow.any():
        t += np.cumsum(overflow) * 2**13
    keep = ~overflow
    events = make_events(records[keep, 0], y[keep], t[keep], records[keep, 2] >> 7, source=str(path))
    return events, NMNIST_SENSOR_SIZE


@_guard_io
def read_aedat4(path: PathLike, on_bad: str = "raise") -> ReadResult:
    """Read an AEDAT 4.0 file (DV software) with the ``aedat`` package, after checking the file's
    container ourselves (see :mod:`streams.aedat4`; same events as tonic's reader).

    The polarity events of the lowest-numbered ``events`` stream are returned; their timestamps are
    absolute (microseconds since the Unix epoch), as recorded. The sensor size comes from that
    stream's width and height. With ``on_bad="drop"``, a file cut inside its packets gives the
    events of the whole packets before the cut, with an :class:`EventStreamWarning`.
    """
    return aedat4.decode(_checked_file(path), on_bad)


@_guard_io
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
    (ON = 1), and so do we. Sensor size: (128, 128, 2), the DVS128. A header with no data after
    it counts as cut unless its last line is ``#End Of ASCII Header``.
    """
    if coordinates not in ("image", "jaer", "raw"):
        raise ValueError(f"coordinates must be 'image', 'jaer' or 'raw', got {coordinates!r}")
    path = _checked_file(path)
    with open(path, "rb") as f:
        header = _read_text_header(f, path, b"#", end_line=b"#End Of ASCII Header")
        if not header.lines or not header.lines[0].startswith("#!AER-DAT"):
            raise EventStreamError(
                f"{path}: corrupt header: the first line must be '#!AER-DAT2.0', "
                f"found {header.lines[0][:40] if header.lines else 'no # header line'!r}."
            )
        if not header.lines[0].startswith("#!AER-DAT2"):
            raise EventStreamError(
                f"{path}: {header.lines[0]!r}: only AEDAT 2.0 is supported by this reader."
            )
        if not header.complete:
            raise _header_cut_error(path, "AEDAT 2.0")
        n_bytes = path.stat().st_size - header.data_offset
        n_records = _whole_records(path, n_bytes, 8, "int32 address + int32 timestamp", on_bad)
        words = _read_exactly(f, path, ">i4", 2 * n_records).reshape(n_records, 2).astype(np.int32)
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
    return make_events(x, y, timestamp, p, source=str(path)), DVS128_SENSOR_SIZE


def _prophesee_geometry(header: List[str]) -> Optional[Tuple[int, int, int]]:
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


@_guard_io
def read_prophesee_raw(path: PathLike, on_bad: str = "raise") -> ReadResult:
    """Read a Prophesee EVT 2.0 or EVT 3.0 ``.raw`` file (decoded by :mod:`streams.evt`).

    The encoding comes from the ``% evt 2.0`` / ``% evt 3.0`` (or ``% format EVT3;...``) header
    line. The sensor size comes from ``% geometry WxH`` or ``% format ...;width=..;height=..`` if
    present, else from ``% plugin_name`` (gen3/gen31: 640x480, gen41/imx636: 1280x720), else it is
    ``None`` and :func:`read_events` asks for ``sensor_size=``. Timestamps are as recorded.
    EVT 2.0 data is 32-bit words and EVT 3.0 16-bit words: a data size that is not a whole number
    of words means a truncated file. A word of unknown type means a corrupt file (or a wrong
    encoding line): an error, or with ``on_bad="drop"`` the word is skipped, with a warning.
    Trigger and other non-pixel words are skipped.
    """
    path = _checked_file(path)
    header, encoding = _checked_raw_header(path)
    sensor_size = _prophesee_geometry(header.lines) or _prophesee_plugin_sensor_size(header.lines)
    word, decode = (evt.EVT2_WORD, evt.decode_evt2) if encoding == "evt2" else (evt.EVT3_WORD, evt.decode_evt3)
    n_bytes = path.stat().st_size - header.data_offset
    what = f"{8 * word.itemsize}-bit {encoding.upper()} words"
    n_words = _whole_records(path, n_bytes, word.itemsize, what, on_bad)
    columns: List[Tuple[np.ndarray, ...]] = []
    state = evt.DecoderState()
    with open(path, "rb") as f:
        f.seek(header.data_offset)
        for start in range(0, n_words, EVT_BLOCK_WORDS):
            block = _read_exactly(f, path, word, min(EVT_BLOCK_WORDS, n_words - start))
            decoded, state = decode(block, state)
            if state.unknown and on_bad != "drop":
                offset = header.data_offset + state.first_unknown * word.itemsize
                raise EventStreamError(
                    f"{path}: corrupt {encoding.upper()} data: word {state.first_unknown} (byte {offset}) has "
                    f"unknown type 0x{state.first_unknown_type:X}. The file is damaged or its header names "
                    "the wrong encoding; pass on_bad='drop' to skip such words."
                )
            columns.append(decoded)
    if state.unknown:
        warnings.warn(
            f"{path}: skipped {state.unknown} {encoding.upper()} word(s) of unknown type (corrupt data)",
            EventStreamWarning,
            stacklevel=3,
        )
    if not columns:
        return make_events([], [], [], [], source=str(path)), sensor_size
    x, y, t, p = (np.concatenate([c[k] for c in columns]) for k in range(4))
    return make_events(x, y, t, p, source=str(path)), sensor_size


@_guard_io
def read_prophesee_dat(path: PathLike, on_bad: str = "raise") -> ReadResult:
    """Read a Prophesee ``.dat`` file of 2-D events (``Event2D``/``EventCD``, e.g. N-CARS, ATIS).

    Layout: ``%``-prefixed text header lines, one byte event type (0 = Event2D, 12 = EventCD), one
    byte event size (8), then 8-byte little-endian events: uint32 timestamp (microseconds) and a
    uint32 packing x (bits 0-13), y (bits 14-27), polarity (bits 28-31). Decoded with numpy (gives
    the same events as ``expelliarmus.Wizard(encoding='dat')``). A file that ends before the type
    and size bytes is cut inside its header.

    Sensor size: from ``% Width``/``% Height`` or ``% geometry`` header lines if present, else
    ``None`` and :func:`read_events` falls back to max coordinate + 1. N-CARS files carry no
    geometry; its samples are crops of at most 120x100 pixels, so pass ``sensor_size=(120, 100, 2)``
    to get one size for the whole data set.
    """
    path = _checked_file(path)
    with open(path, "rb") as f:
        header = _read_text_header(f, path, b"%")
        if not header.lines:
            raise EventStreamError(f"{path}: corrupt header: a Prophesee .dat file starts with '%' header lines.")
        type_and_size = f.read(2)
        if len(type_and_size) < 2:
            raise _header_cut_error(path, "Prophesee .dat")
        event_type, event_size = type_and_size[0], type_and_size[1]
        if event_type not in (0, 12) or event_size != 8:
            raise EventStreamError(
                f"{path}: unsupported .dat event type {event_type} of size {event_size} bytes; only 2-D "
                "events (type 0 Event2D or 12 EventCD, 8 bytes) are supported."
            )
        n_bytes = path.stat().st_size - f.tell()
        n_events = _whole_records(path, n_bytes, 8, "8-byte events", on_bad)
        words = _read_exactly(f, path, "<u4", 2 * n_events).reshape(n_events, 2)
    packed = words[:, 1]
    events = make_events(packed & 0x3FFF, (packed >> 14) & 0x3FFF, words[:, 0], (packed >> 28) & 0xF,
                         source=str(path))
    return events, _prophesee_geometry(header.lines)


# --------------------------------------------------------------------------------------------
# NumPy files: our own header and size checks before any data is read
# --------------------------------------------------------------------------------------------
def _npy_header(f: BinaryIO, where: str) -> Tuple[Tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` from the NumPy header at ``f``'s position (``f`` left at the data)."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=_NPY_MAX_HEADER)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=_NPY_MAX_HEADER)
        else:
            raise ValueError(f"unknown format version {version}")
    except zipfile.BadZipFile:
        raise  # the zip member itself is corrupt (e.g. its CRC): reported by _read_npz_file
    except Exception as error:  # noqa: BLE001 - numpy's header parser raises many types on garbage
        raise EventStreamError(
            f"{where}: corrupt or truncated NumPy header ({type(error).__name__}: {error}). "
            "Re-save the events with streams.save_events()."
        ) from None
    return tuple(int(n) for n in shape), dtype


def _check_npy_layout(where: str, shape: Tuple[int, ...], dtype: np.dtype) -> int:
    """Number of events announced by a NumPy header; raises unless it is a 1-D structured array."""
    if dtype.hasobject:
        raise EventStreamError(
            f"{where}: the array holds Python objects ({dtype}); event files hold plain numbers. "
            "Re-save the events with streams.save_events()."
        )
    if dtype.names is None or len(shape) != 1:
        raise EventStreamError(
            f"{where}: expected a 1-D structured array with fields x, y, t, p, got dtype {dtype} "
            f"and shape {shape}. Build one with streams.make_events(x, y, t, p) and save it with "
            "streams.save_events()."
        )
    return shape[0]


def _data_size_error(where: str, n: int, dtype: np.dtype, available: int) -> EventStreamError:
    return EventStreamError(
        f"{where}: the NumPy header announces {n} events ({n * dtype.itemsize} bytes) but "
        f"{available} data bytes follow: the file is truncated or its header is corrupt."
    )


def _read_npy_file(path: Path, on_bad: str) -> np.ndarray:
    size = path.stat().st_size
    with open(path, "rb") as f:
        shape, dtype = _npy_header(f, str(path))
        n = _check_npy_layout(str(path), shape, dtype)
        available = size - f.tell()
        needed = n * dtype.itemsize
        if available != needed:
            if available > needed or on_bad != "drop":
                raise _data_size_error(str(path), n, dtype, available)
            n = available // dtype.itemsize
            warnings.warn(
                f"{path}: truncated .npy file: read the {n} whole events of {shape[0]} announced",
                EventStreamWarning,
                stacklevel=4,
            )
        return _read_exactly(f, path, dtype, n)


def _read_npz_file(path: Path) -> Tuple[np.ndarray, Optional[SensorSize]]:
    sensor_size = None
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "events.npy" not in names:
                keys = [n[:-4] if n.endswith(".npy") else n for n in names]
                raise EventStreamError(
                    f"{path}: the .npz file has no 'events' array (it has {keys}); "
                    "save it with streams.save_events()."
                )
            member = archive.getinfo("events.npy")
            with archive.open(member) as f:
                where = f"{path} (array 'events')"
                shape, dtype = _npy_header(f, where)
                n = _check_npy_layout(where, shape, dtype)
                available = member.file_size - f.tell()
                if available != n * dtype.itemsize:
                    raise _data_size_error(where, n, dtype, available)
                data = f.read()
            if len(data) != n * dtype.itemsize:
                raise _data_size_error(where, n, dtype, len(data))
            array = np.frombuffer(data, dtype=dtype)
            if "sensor_size.npy" in names:
                with archive.open("sensor_size.npy") as f:
                    stored = np.lib.format.read_array(f, allow_pickle=False)
                sensor_size = check_sensor_size(stored.tolist(), f"{path} (array 'sensor_size')")
    except (EventStreamError, MemoryError):
        raise
    except Exception as error:  # noqa: BLE001 - zipfile/zlib/numpy raise many types (even OSError
        # from a seek to a corrupt offset) on garbage; the file itself opened fine, so it is corrupt
        raise EventStreamError(
            f"{path}: cannot load the .npz file: corrupt or truncated ({type(error).__name__}: {error}). "
            "Re-save the events with streams.save_events()."
        ) from None
    return array, sensor_size


@_guard_io
def read_npy(path: PathLike, on_bad: str = "raise") -> ReadResult:
    """Read events saved by :func:`save_events`: ``.npy`` (events only) or ``.npz`` (``events`` and
    optional ``sensor_size``). Any 1-D structured array with fields x, y, t, p is accepted; its
    values are range-checked before narrowing (:func:`streams.as_events`).

    The NumPy header is checked by us before any data is read: it must announce exactly as many
    bytes as the file holds (a flipped shape digit would otherwise silently drop events). A
    ``.npy`` file cut inside its data is an error, or with ``on_bad="drop"`` a partial read of its
    whole events with an :class:`EventStreamWarning`; a cut ``.npz`` is always an error.
    """
    path = _checked_file(path)
    with open(path, "rb") as f:
        is_zip = f.read(2) == b"PK"
    if is_zip:
        array, sensor_size = _read_npz_file(path)
    else:
        array, sensor_size = _read_npy_file(path, on_bad), None
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
    the end of a truncated file, and unknown words) with an :class:`EventStreamWarning` giving the
    count. Every other problem with the file raises :class:`EventStreamError` naming it; see the
    module docstring.

    ``sensor_size`` ``(W, H, P)`` overrides what the file says. When neither gives one: .dat and
    .npy files fall back to max coordinate + 1 (P at least 2); a .raw file raises.
    """
    if on_bad not in ("raise", "drop"):
        raise ValueError(f"on_bad must be 'raise' or 'drop', got {on_bad!r}")
    fmt = detect_format(path)
    source = str(path)
    events, file_sensor_size = _READERS[fmt](path, on_bad=on_bad)
    if sensor_size is not None:
        size = check_sensor_size(sensor_size, f"{source}: sensor_size argument")
    elif file_sensor_size is not None:
        size = check_sensor_size(file_sensor_size, f"{source}: sensor size in the file header")
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

    The events are converted to :data:`EVENT_DTYPE` (range-checked) and, when ``sensor_size`` is
    given, checked against it first. A ``.npy`` file cannot store the sensor size: use ``.npz``
    for that. Returns the path written.
    """
    path = Path(path)
    events = as_events(np.asarray(events), source=str(path))
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise EventStreamError(f"{path}: save_events writes .npy or .npz files, not {path.suffix!r}.")
    if sensor_size is not None:
        sensor_size = check_sensor_size(sensor_size, str(path))
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


__all__ = [
    "DVS128_SENSOR_SIZE",
    "EVENT_DTYPE",
    "FORMATS",
    "NMNIST_SENSOR_SIZE",
    "detect_format",
    "read_aedat2",
    "read_aedat4",
    "read_events",
    "read_nmnist_bin",
    "read_npy",
    "read_prophesee_dat",
    "read_prophesee_raw",
    "save_events",
    "sensor_size_from_events",
]
