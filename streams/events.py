"""Address-event representation shared by every room of stdpnet.

An event is ``(x, y, t, p)``: pixel column, pixel row, timestamp in integer
microseconds, polarity (0/1). The field names follow tonic's convention, so any
tonic transform (``tonic.transforms.Downsample``, ``Denoise``, ...) applies to
these arrays unchanged. A sensor size is ``(W, H, P)``, as in tonic.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

EVENT_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")])

SensorSize = Tuple[int, int, int]


class EventStreamError(ValueError):
    """Raised for bad event data; the message names the source and the problem."""


class EventStreamWarning(UserWarning):
    """Issued when bad events were dropped (``on_bad="drop"``) or data had to be patched up."""


def make_events(x, y, t, p) -> np.ndarray:
    """Build an :data:`EVENT_DTYPE` array from four equally long sequences."""
    x, y, t, p = (np.asarray(a) for a in (x, y, t, p))
    n = len(t)
    if not (len(x) == len(y) == len(p) == n):
        raise EventStreamError(
            f"make_events: x, y, t, p must have equal lengths, got {len(x)}, {len(y)}, {n}, {len(p)}"
        )
    events = np.empty(n, dtype=EVENT_DTYPE)
    events["x"], events["y"], events["t"], events["p"] = x, y, t, p
    return events


def as_events(array: np.ndarray, source: str = "events") -> np.ndarray:
    """Convert any structured array with fields x, y, t, p (tonic, expelliarmus, ...) to EVENT_DTYPE.

    A boolean polarity field (tonic's aedat4 reader names it ``p``/``on``) becomes 0/1.
    """
    names = tuple(array.dtype.fields or ())  # field names and titles: aedat's ('p', 'on') field
    missing = [f for f in ("x", "y", "t", "p") if f not in names]
    if missing:
        raise EventStreamError(f"{source}: structured array lacks field(s) {missing}; has {list(names)}")
    out = np.empty(len(array), dtype=EVENT_DTYPE)
    for f in ("x", "y", "t"):
        out[f] = array[f]
    out["p"] = np.asarray(array["p"]).astype(np.int8)
    return out


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
        i = int(np.flatnonzero(bad)[0])
        e = events[i]
        if outside[i]:
            what = f"is outside the sensor {W}x{H}x{P} (x={e['x']}, y={e['y']}, p={e['p']})"
        else:
            what = f"has timestamp {e['t']} us, earlier than a previous event at {running_max[i]} us"
        raise EventStreamError(
            f"{source}: event {i} {what}; {int(bad.sum())} bad event(s) in all. "
            "Pass on_bad='drop' to drop and count them instead."
        )
    return events[~bad], int(bad.sum())
