"""Domain transforms for domain-incremental task sequences (tonic style).

Each transform is a small frozen dataclass called as ``transform(events) -> events``: it takes a
structured event array with fields x, y, t, p (any dtype holding them, e.g. :data:`EVENT_DTYPE` or
tonic's), returns a new array of the same dtype sorted by time, and never modifies its input.
Every one is vectorised (no loop over events) and exact:

* :class:`TimeScale`     ``t' = o + floor((t - o) * factor)``, ``o`` the sample start (us);
* :class:`PolaritySwap`  ``p' = P - 1 - p`` (ON <-> OFF for ``P = 2``);
* :class:`Mirror`        ``x' = W - 1 - x`` (left-right flip);
* :class:`Rotate180`     ``x' = W - 1 - x``, ``y' = H - 1 - y``;
* :class:`Transpose`     ``x' = y``, ``y' = x`` (square sensors only);
* :class:`UniformNoise`  adds uniformly random events at ``rate_hz`` per pixel (seeded);
* :class:`Compose`       applies several in order.

A transform that changes a sample's length declares ``transformed_duration(duration_us)``, so a
data set with a fixed ``duration_us`` can announce its transformed duration (see
:class:`streams.tasks.TaskDataset`).
"""
from __future__ import annotations

import math
import numbers
import zlib
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from .events import EventStreamError, SensorSize


def _check_inside(events: np.ndarray, sensor_size: SensorSize, who: str) -> None:
    """Raise if an event lies outside the sensor a geometric transform was built for."""
    if len(events) == 0:
        return
    width, height = sensor_size[0], sensor_size[1]
    x, y = events["x"], events["y"]
    if x.min() < 0 or x.max() >= width or y.min() < 0 or y.max() >= height:
        raise EventStreamError(
            f"{who}: events span x in [{x.min()}, {x.max()}], y in [{y.min()}, {y.max()}], outside the "
            f"{width}x{height} sensor it was built for; build it with the data set's sensor_size."
        )


def _positive_number(value, what: str, allow_zero: bool) -> float:
    """``value`` as a float, checked finite and positive (or >= 0)."""
    is_number = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    number = float(value) if is_number else math.nan
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise EventStreamError(f"{what} must be a finite number {bound}, got {value!r}")
    return number


def _check_sensor(sensor_size: Sequence[int], who: str) -> Tuple[int, int, int]:
    size = tuple(int(v) for v in sensor_size)
    if len(size) != 3 or min(size) < 1:
        raise EventStreamError(f"{who}: sensor_size must be (W, H, P) with positive entries, got {sensor_size!r}")
    return size


@dataclass(frozen=True)
class TimeScale:
    """Stretch (``factor > 1``) or compress (``factor < 1``) a sample in time.

    ``t' = o + floor((t - o) * factor)`` microseconds, where the sample start ``o`` is
    ``origin_us``, or the first event's time when ``origin_us`` is None (recordings whose
    timestamps start anywhere). Order is kept (the map is monotone). A sample lasting ``D`` us
    lasts ``ceil(D * factor)`` us afterwards; use ``origin_us=0`` for data sets whose samples
    occupy ``[0, duration_us)``.
    """

    factor: float
    origin_us: Optional[int] = None

    def __post_init__(self):
        object.__setattr__(self, "factor", _positive_number(self.factor, "TimeScale: factor", allow_zero=False))

    def __call__(self, events: np.ndarray) -> np.ndarray:
        out = events.copy()
        if len(out) == 0 or self.factor == 1.0:
            return out
        origin = int(out["t"][0]) if self.origin_us is None else int(self.origin_us)
        relative = out["t"].astype(np.int64) - origin
        out["t"] = origin + np.floor(relative * float(self.factor)).astype(np.int64)
        return out

    def transformed_duration(self, duration_us: int) -> int:
        return int(math.ceil(duration_us * float(self.factor)))


@dataclass(frozen=True)
class PolaritySwap:
    """Swap polarities: ``p' = n_polarities - 1 - p`` (ON <-> OFF for a 2-polarity sensor)."""

    n_polarities: int = 2

    def __post_init__(self):
        if self.n_polarities < 2:
            raise EventStreamError(
                f"PolaritySwap: a sensor with {self.n_polarities} polarity has nothing to swap; "
                "use it on 2-polarity (DVS) data only."
            )

    def __call__(self, events: np.ndarray) -> np.ndarray:
        out = events.copy()
        p = events["p"].astype(np.int64)
        if len(p) and (p.min() < 0 or p.max() >= self.n_polarities):
            raise EventStreamError(
                f"PolaritySwap: polarities span [{p.min()}, {p.max()}], outside [0, {self.n_polarities}); "
                "build it with the data set's number of polarities."
            )
        out["p"] = self.n_polarities - 1 - p
        return out


@dataclass(frozen=True)
class Mirror:
    """Left-right flip: ``x' = W - 1 - x`` for a sensor ``(W, H, P)``."""

    sensor_size: SensorSize

    def __post_init__(self):
        object.__setattr__(self, "sensor_size", _check_sensor(self.sensor_size, "Mirror"))

    def __call__(self, events: np.ndarray) -> np.ndarray:
        _check_inside(events, self.sensor_size, "Mirror")
        out = events.copy()
        out["x"] = self.sensor_size[0] - 1 - events["x"]
        return out


@dataclass(frozen=True)
class Rotate180:
    """Half turn: ``x' = W - 1 - x``, ``y' = H - 1 - y`` for a sensor ``(W, H, P)``."""

    sensor_size: SensorSize

    def __post_init__(self):
        object.__setattr__(self, "sensor_size", _check_sensor(self.sensor_size, "Rotate180"))

    def __call__(self, events: np.ndarray) -> np.ndarray:
        _check_inside(events, self.sensor_size, "Rotate180")
        out = events.copy()
        out["x"] = self.sensor_size[0] - 1 - events["x"]
        out["y"] = self.sensor_size[1] - 1 - events["y"]
        return out


@dataclass(frozen=True)
class Transpose:
    """Swap the axes: ``x' = y``, ``y' = x``. The sensor must be square (``W == H``) so the
    result fits the same network input."""

    sensor_size: SensorSize

    def __post_init__(self):
        size = _check_sensor(self.sensor_size, "Transpose")
        if size[0] != size[1]:
            raise EventStreamError(
                f"Transpose: the sensor {size[0]}x{size[1]} is not square, so transposed events would not fit "
                "it; use mirror or rotate180 instead."
            )
        object.__setattr__(self, "sensor_size", size)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        _check_inside(events, self.sensor_size, "Transpose")
        out = events.copy()
        out["x"], out["y"] = events["y"], events["x"]
        return out


@dataclass(frozen=True)
class UniformNoise:
    """Add uniformly random noise events at ``rate_hz`` **per pixel** (all polarities together).

    The window is ``[0, duration_us)`` when ``duration_us`` is given (data sets with a fixed
    sample duration), else ``[t_first, t_last]`` of the sample's own events (so noise never
    lengthens a recording); an empty sample without ``duration_us`` gets no noise. The number of
    noise events is Poisson with mean ``rate_hz * W * H * window_us * 1e-6``; each has a uniform
    pixel, a uniform polarity in ``[0, P)`` and a uniform integer time in the window. The result
    is stably sorted by time (at equal times, original events come first).

    Noise is drawn from ``numpy.random.default_rng([seed, crc32(events bytes)])``: the same sample
    always gets the same noise, and different samples get different noise.
    """

    sensor_size: SensorSize
    rate_hz: float
    seed: int = 0
    duration_us: Optional[int] = None

    def __post_init__(self):
        object.__setattr__(self, "sensor_size", _check_sensor(self.sensor_size, "UniformNoise"))
        object.__setattr__(self, "rate_hz", _positive_number(self.rate_hz, "UniformNoise: rate_hz", allow_zero=True))
        if self.duration_us is not None and int(self.duration_us) <= 0:
            raise EventStreamError(f"UniformNoise: duration_us must be > 0, got {self.duration_us!r}")

    def window(self, events: np.ndarray) -> Tuple[int, int]:
        """``[start, end)`` in microseconds where noise is placed for this sample."""
        if self.duration_us is not None:
            return 0, int(self.duration_us)
        if len(events) == 0:
            return 0, 0
        return int(events["t"].min()), int(events["t"].max()) + 1

    def __call__(self, events: np.ndarray) -> np.ndarray:
        start, end = self.window(events)
        width, height, polarities = self.sensor_size
        mean = self.rate_hz * width * height * (end - start) * 1e-6
        if mean <= 0:
            return events.copy()
        rng = np.random.default_rng([int(self.seed), zlib.crc32(np.ascontiguousarray(events).tobytes())])
        n = int(rng.poisson(mean))
        noise = np.zeros(n, dtype=events.dtype)
        noise["x"] = rng.integers(0, width, n)
        noise["y"] = rng.integers(0, height, n)
        noise["t"] = rng.integers(start, end, n)
        noise["p"] = rng.integers(0, polarities, n)
        merged = np.concatenate([events, noise])
        return merged[np.argsort(merged["t"], kind="stable")]


@dataclass(frozen=True)
class Compose:
    """Apply ``transforms`` in order (the first one sees the events as read)."""

    transforms: Tuple[Callable[[np.ndarray], np.ndarray], ...]

    def __post_init__(self):
        object.__setattr__(self, "transforms", tuple(self.transforms))

    def __call__(self, events: np.ndarray) -> np.ndarray:
        out = events.copy()
        for transform in self.transforms:
            out = transform(out)
        return out

    def transformed_duration(self, duration_us: int) -> int:
        for transform in self.transforms:
            duration_us = transformed_duration(transform, duration_us)
        return duration_us


def transformed_duration(transform, duration_us: int) -> int:
    """A fixed sample duration after ``transform`` (unchanged unless the transform declares
    ``transformed_duration``)."""
    if transform is None or not hasattr(transform, "transformed_duration"):
        return int(duration_us)
    return int(transform.transformed_duration(int(duration_us)))
