"""Address-event representation shared by every room of stdpnet.

An event is ``(x, y, t, p)``: pixel column, pixel row, timestamp in integer
microseconds, polarity (0/1). The field names follow tonic's convention, so any
tonic transform (``tonic.transforms.Downsample``, ``Denoise``, ...) applies to
these arrays unchanged. A sensor size is ``(W, H, P)``, as in tonic.

Every way into :data:`EVENT_DTYPE` (:func:`make_events`, :func:`as_events`, and through them every
reader and :class:`streams.LabelledStream`) checks the values *before* narrowing them to the
field types: a value that is not a finite whole number, or does not fit its field, raises
:class:`EventStreamError` naming the field, the event index and the value, instead of silently
wrapping around (``x = 40000`` would become ``-25536`` in int16) or truncating (``t = 1.5``).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

EVENT_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")])
EVENT_FIELDS = ("x", "y", "t", "p")

SensorSize = Tuple[int, int, int]

#: Largest sensor EVENT_DTYPE can address: x and y are int16, p is int8.
MAX_SENSOR_SIZE: SensorSize = (2**15, 2**15, 2**7)

#: What each field holds, and how to fix a value that does not fit it (for error messages).
_FIELD_MEANING = {
    "x": "x is a pixel column (int16)",
    "y": "y is a pixel row (int16)",
    "t": "t is a timestamp in whole microseconds (int64)",
    "p": "p is a polarity index 0..P-1 (int8)",
}
_FIELD_FIX = {
    "x": "crop or downsample the recording so that columns fit",
    "y": "crop or downsample the recording so that rows fit",
    "t": "convert seconds to microseconds with np.round(t_seconds * 1e6).astype(np.int64)",
    "p": "map -1/+1 polarities with p = (p > 0)",
}
_FRACTION_FIX = {
    "x": "round coordinates to whole pixels first",
    "y": "round coordinates to whole pixels first",
    "t": "round timestamps to whole microseconds, e.g. np.round(t).astype(np.int64)",
    "p": "polarities are whole numbers; map them with p = (p > 0)",
}

#: Common alternative field names and the EVENT_DTYPE field they mean.
_FIELD_ALIASES = {
    "ts": "t", "timestamp": "t", "timestamps": "t", "time": "t", "times": "t", "t_us": "t",
    "pol": "p", "polarity": "p", "polarities": "p", "on": "p",
    "col": "x", "column": "x", "row": "y",
}


_LIMITS = {field: np.iinfo(EVENT_DTYPE[field]) for field in EVENT_FIELDS}


class EventStreamError(ValueError):
    """Raised for bad event data; the message names the source and the problem."""


class EventStreamWarning(UserWarning):
    """Issued when bad events were dropped (``on_bad="drop"``) or data had to be patched up."""


# --------------------------------------------------------------------------------------------
# Range-checked narrowing
# --------------------------------------------------------------------------------------------
def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _narrow(values, field: str, source: str) -> np.ndarray:
    """``values`` as the type of EVENT_DTYPE field ``field``, after checking every value fits.

    Accepted: integers within the field's range, booleans, and floats that are finite whole
    numbers within the range. Anything else raises :class:`EventStreamError` naming ``source``,
    ``field``, the first offending index and its value.
    """
    target = EVENT_DTYPE[field]
    values = np.asarray(values)
    info = _LIMITS[field]
    meaning, fix = _FIELD_MEANING[field], _FIELD_FIX[field]
    kind = values.dtype.kind
    if values.dtype.fields is not None or values.dtype.subdtype is not None or values.ndim != 1:
        raise EventStreamError(
            f"{source}: field {field!r} has the nested type {values.dtype} (shape {values.shape}); it "
            f"must hold one number per event ({meaning})."
        )
    if kind == "b":
        return values.astype(target)
    if kind in "iu":
        if len(values) == 0:
            return values.astype(target)
        # compare as Python ints: uint64 against a negative bound must not wrap
        low, high = int(values.min()), int(values.max())
        if low >= info.min and high <= info.max:
            return values.astype(target)
        bad = np.zeros(len(values), dtype=bool)
        if low < info.min:  # only signed inputs get here, so the bound converts exactly
            bad |= values < info.min
        if high > info.max:  # info.max is positive: it fits any input type holding a larger value
            bad |= values > info.max
        i = _first_bad(bad)
        raise EventStreamError(
            f"{source}: field {field!r} of event {i} is {values[i].item()!r}, outside the {target} range "
            f"[{info.min}, {info.max}] ({int(bad.sum())} such value(s)); {meaning}: {fix}."
        )
    if kind == "f":
        finite = np.isfinite(values)
        if not finite.all():
            i = _first_bad(~finite)
            raise EventStreamError(
                f"{source}: field {field!r} of event {i} is {values[i].item()!r}, not a finite number "
                f"({int((~finite).sum())} such value(s)); {meaning}: remove those events first."
            )
        fractional = values != np.floor(values)
        if fractional.any():
            i = _first_bad(fractional)
            raise EventStreamError(
                f"{source}: field {field!r} of event {i} is {values[i].item()!r}, not a whole number "
                f"({int(fractional.sum())} such value(s)); {meaning}: {_FRACTION_FIX[field]}."
            )
        # float bounds: 2**63 is exactly representable, int64's max is not
        outside = (values < float(info.min)) | (values >= float(info.max) + 1.0)
        if outside.any():
            i = _first_bad(outside)
            raise EventStreamError(
                f"{source}: field {field!r} of event {i} is {values[i].item()!r}, outside the {target} range "
                f"[{info.min}, {info.max}] ({int(outside.sum())} such value(s)); {meaning}: {fix}."
            )
        return values.astype(target)
    raise EventStreamError(
        f"{source}: field {field!r} has type {values.dtype}, not a number; {meaning}."
    )


def make_events(x, y, t, p, source: str = "make_events") -> np.ndarray:
    """Build an :data:`EVENT_DTYPE` array from four equally long 1-D sequences.

    Every value is checked before it is narrowed to its field (see the module docstring);
    ``source`` names the caller in error messages.
    """
    columns = {}
    for field, values in zip(EVENT_FIELDS, (x, y, t, p)):
        array = np.asarray(values)
        if array.ndim != 1:
            raise EventStreamError(
                f"{source}: {field} must be a 1-D sequence (one value per event), got shape {array.shape}."
            )
        columns[field] = array
    lengths = [len(columns[f]) for f in EVENT_FIELDS]
    if len(set(lengths)) != 1:
        raise EventStreamError(
            f"{source}: x, y, t, p must have equal lengths, got {', '.join(map(str, lengths))}."
        )
    events = np.empty(lengths[0], dtype=EVENT_DTYPE)
    for field in EVENT_FIELDS:
        events[field] = _narrow(columns[field], field, source)
    return events


def _field_name_hint(names: Sequence[str], missing: Sequence[str]) -> str:
    renames = [f"{n!r} -> {_FIELD_ALIASES[n.lower()]!r}" for n in names
               if isinstance(n, str) and _FIELD_ALIASES.get(n.lower()) in missing]
    if renames:
        return f" Rename the fields ({', '.join(renames)}), e.g. with numpy.lib.recfunctions.rename_fields."
    return " Build the array with streams.make_events(x, y, t, p)."


def as_events(array, source: str = "events", copy: bool = True) -> np.ndarray:
    """Convert a structured array with fields x, y, t, p (tonic, expelliarmus, aedat, a loaded
    ``.npy``...) to a new :data:`EVENT_DTYPE` array (``copy=False``: an input that already is a
    1-D EVENT_DTYPE array is returned as is).

    A boolean polarity field (aedat names it ``on`` with title ``p``) becomes 0/1. Every value is
    range-checked before narrowing; a plain (unstructured) array, a missing field, a field of
    the wrong kind or a value that does not fit raises :class:`EventStreamError` naming
    ``source``, the field, and (for values) the event index.
    """
    array = np.asarray(array)
    if array.dtype == EVENT_DTYPE and array.ndim == 1:
        return array.copy() if copy else array  # already narrowed: nothing can be out of range
    fields = array.dtype.fields
    if fields is None:
        raise EventStreamError(
            f"{source}: expected a structured array with fields x, y, t, p, got a plain {array.dtype} "
            f"array of shape {array.shape}. Build one with streams.make_events(x, y, t, p)."
        )
    if array.ndim != 1:
        raise EventStreamError(
            f"{source}: expected a 1-D array of events, got shape {array.shape}; flatten it with .ravel()."
        )
    names = tuple(fields)  # field names and titles: aedat's ('p', 'on') field
    missing = [f for f in EVENT_FIELDS if f not in names]
    if missing:
        plain_names = list(array.dtype.names or ())
        raise EventStreamError(
            f"{source}: structured array lacks field(s) {missing}; it has {plain_names}."
            + _field_name_hint(plain_names, missing)
        )
    out = np.empty(len(array), dtype=EVENT_DTYPE)
    for field in EVENT_FIELDS:
        out[field] = _narrow(array[field], field, source)
    return out


# --------------------------------------------------------------------------------------------
# Sensor sizes and event checks
# --------------------------------------------------------------------------------------------
def check_sensor_size(size, source: str = "sensor_size") -> SensorSize:
    """``size`` as a ``(W, H, P)`` tuple of Python ints, after checking it.

    Each entry must be a whole number, at least 1 and at most :data:`MAX_SENSOR_SIZE` (what
    EVENT_DTYPE can address). Raises :class:`EventStreamError` naming ``source`` otherwise.
    """
    try:
        values = np.asarray(size)
        ok_kind = values.dtype.kind in "iuf" and values.shape == (3,)
    except Exception:  # noqa: BLE001 - anything unconvertible is simply not a sensor size
        ok_kind = False
    if ok_kind and values.dtype.kind == "f":
        ok_kind = bool(np.all(np.isfinite(values)) and np.all(values == np.floor(values)))
    if not ok_kind:
        raise EventStreamError(
            f"{source}: a sensor size is three whole numbers (W, H, P), got {size!r}."
        )
    result = tuple(int(v) for v in values)
    for name, value, limit in zip(("width", "height", "polarities"), result, MAX_SENSOR_SIZE):
        if not 1 <= value <= limit:
            raise EventStreamError(
                f"{source}: sensor {name} {value} must be in [1, {limit}] (sensor size {result}); "
                "events cannot address a larger sensor."
            )
    return result  # type: ignore[return-value]


def check_events(
    events: np.ndarray,
    sensor_size: SensorSize,
    source: str = "events",
    on_bad: str = "raise",
) -> Tuple[np.ndarray, int]:
    """Check coordinates against ``sensor_size`` and timestamps for order.

    ``on_bad="raise"`` raises :class:`EventStreamError` naming ``source``, the first
    offending event index and its values; ``on_bad="drop"`` removes the bad events
    (out-of-sensor ones, and those whose timestamp goes backwards relative to the running
    maximum) and returns how many were dropped. Returns ``(events, n_dropped)``.
    """
    if on_bad not in ("raise", "drop"):
        raise ValueError(f"on_bad must be 'raise' or 'drop', got {on_bad!r}")
    W, H, P = sensor_size
    x, y, t, p = events["x"], events["y"], events["t"], events["p"]
    outside = (x < 0) | (x >= W) | (y < 0) | (y >= H) | (p < 0) | (p >= P)
    running_max = np.maximum.accumulate(t) if len(t) else t
    backwards = t < running_max
    bad = outside | backwards
    if not bad.any():
        return events, 0
    if on_bad == "raise":
        i = _first_bad(bad)
        e = events[i]
        if outside[i]:
            what = f"is outside the sensor {W}x{H}x{P} (x={e['x']}, y={e['y']}, p={e['p']})"
            if e["p"] < 0:
                what += "; a negative polarity suggests -1/+1 polarities: map them with p = (p > 0)"
        else:
            what = f"has timestamp {e['t']} us, earlier than a previous event at {running_max[i]} us"
        raise EventStreamError(
            f"{source}: event {i} {what}; {int(bad.sum())} bad event(s) in all. "
            "Pass on_bad='drop' to drop and count them instead."
        )
    return events[~bad], int(bad.sum())


def sensor_size_from_events(events: np.ndarray, polarities: Optional[int] = None) -> SensorSize:
    """Smallest sensor holding every event: ``(max x + 1, max y + 1, max(2, max p + 1))``.

    Negative coordinates do not shrink it below 1 pixel (they are reported by
    :func:`check_events`); no events gives ``(1, 1, 2)``.
    """
    if len(events) == 0:
        return (1, 1, 2 if polarities is None else polarities)
    width = max(1, int(events["x"].max()) + 1)
    height = max(1, int(events["y"].max()) + 1)
    n_polarities = max(2, int(events["p"].max()) + 1) if polarities is None else polarities
    return (width, height, n_polarities)
