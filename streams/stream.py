"""One continuous event stream from a labelled data set (SPEC section 1).

The network never sees where a sample ends: :class:`LabelledStream` lays samples end to end on a
single time axis (optionally separated by silent gaps) and yields them lazily as
:class:`Segment` objects, whose events are already in stream time. Labels travel beside the
events, for the readout only. Nothing is materialised: memory does not grow with stream length.

Every sample is re-based: its events are placed relative to its own time origin (its first event
by default, ``align="zero"``), so recordings with absolute timestamps (AEDAT4 files count
microseconds since 1970, ~1.7e15 us) take only their own duration in the stream, never the time
since the epoch. What a data set returns is checked: events are range-checked before narrowing
(:func:`streams.as_events`), must lie inside the sensor and be sorted, and labels must be whole
numbers >= -1 (-1: unlabelled).
"""
from __future__ import annotations

import copy
import math
import operator
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence, Tuple, Union

import numpy as np

from .events import EVENT_DTYPE, EventStreamError, SensorSize, as_events, check_sensor_size

#: Longest time a single sample may span (us): beyond it stream times would overflow int64
#: arithmetic. (The tick cutter refuses much shorter absurd silences, see streams.tick_chunks.)
MAX_SAMPLE_SPAN_US = 2**62

TimeScale = Union[float, Tuple[float, float]]

# Distinct spawn keys, so the time-scale and shuffle generators never share a random stream.
_TIME_SCALE_KEY = 1
_SHUFFLE_KEY = 2


@dataclass(frozen=True)
class Segment:
    """One sample placed in the stream.

    ``index``: position of the sample in the stream (0, 1, 2, ... over all epochs);
    ``label``: its label; ``[t_start, t_end)``: the stream time it occupies (microseconds);
    ``events``: its :data:`EVENT_DTYPE` events in stream time, sorted, all within
    ``[t_start, t_end)``; ``dataset_index``: which sample of the data set it is;
    ``time_scale``: the factor its times were multiplied by.
    """

    index: int
    label: int
    t_start: int
    t_end: int
    events: np.ndarray
    dataset_index: int = -1
    time_scale: float = 1.0

    @property
    def duration_us(self) -> int:
        return self.t_end - self.t_start


class LabelledStream:
    """Lay the samples of a labelled data set end to end in one continuous stream.

    Parameters
    ----------
    dataset:
        ``dataset[i] -> (events, label)`` and ``len(dataset)``; e.g. :class:`NMNISTFolder`,
        :class:`EncodedImages`, :class:`SyntheticBars`, a :class:`Subset`. If it has an integer
        ``duration_us`` attribute, every sample lasts exactly that long (events in
        ``[0, duration_us)``); otherwise a sample lasts from its time origin to its last event
        plus 1 us.
    indices:
        the samples to play, in order (default: all, in data set order).
    gap_us:
        silent stream time inserted after every sample (microseconds, >= 0).
    time_scale:
        factor multiplying every event time of a sample (relative to its origin) and its duration:
        a float, or a ``(low, high)`` range from which each sample draws its own factor uniformly
        (the source's x0.1 to x1.9 presentation-time experiment). Scaled times are floored to
        whole microseconds; durations are rounded up.
    transform:
        any callable ``events -> events`` applied to each sample's events before they are placed
        (e.g. ``tonic.transforms.Denoise(filter_time=10_000)``). It sees the events as read (not
        yet aligned or scaled); its output is stably sorted by time if needed, and events it moves
        outside the sample's time window are dropped.
    align:
        the time origin of a sample without ``duration_us``: ``"zero"`` (default) re-bases the
        sample to its first event, which lands at the sample's start (so recordings with absolute
        timestamps, e.g. 1.7e15 us since the epoch, take only their own duration); ``"none"``
        keeps recorded times, i.e. origin at t = 0 (events must have t >= 0; with absolute
        timestamps :func:`streams.tick_chunks` then refuses the decades of silence before the
        first event). A data set with ``duration_us`` always has origin 0.
    epochs:
        how many times the index order is played.
    start_us:
        Stream time at which the first sample starts (default 0); a second pass over data can
        continue the clock of a network that has already run.
    shuffle, seed:
        if ``shuffle``, each epoch plays the indices in a fresh random order drawn from
        ``(seed, epoch)``. ``seed`` also seeds the per-sample time scales, drawn from
        ``(seed, stream position)``: iterating twice gives the same stream.
    sensor_size:
        the stream's sensor size, if a transform changes it (default: ``dataset.sensor_size``).
        Every placed event must lie inside it.
    dt_us:
        the simulator's tick (microseconds), when known: then every sample owns at least one tick
        (:func:`streams.tick_chunks` gives a tick to the sample containing the tick's start). A
        sample whose interval contains no multiple of ``dt_us`` (shorter than a tick, or squeezed
        between two tick starts) is delayed to start at the next tick boundary (less than one
        tick of silence is inserted before it), and an empty sample lasts 1 us instead of 0.
        :func:`streams.tick_chunks` fills it in (with its own ``dt_us``) when it is None, so
        iterating the stream yourself is the only case where it matters.

    Iterating yields :class:`Segment` objects one at a time, reading each sample only when it is
    reached; ``len(stream)`` is the number of segments.
    """

    def __init__(
        self,
        dataset,
        indices: Optional[Sequence[int]] = None,
        gap_us: int = 0,
        time_scale: TimeScale = 1.0,
        transform: Optional[Callable[[np.ndarray], np.ndarray]] = None,
        align: str = "zero",
        epochs: int = 1,
        shuffle: bool = False,
        seed: int = 0,
        sensor_size: Optional[SensorSize] = None,
        start_us: int = 0,
        dt_us: Optional[int] = None,
    ):
        if align not in ("zero", "none"):
            raise ValueError(f"align must be 'zero' or 'none', got {align!r}")
        if int(gap_us) != gap_us or gap_us < 0:
            raise ValueError(f"gap_us must be a whole number of microseconds >= 0, got {gap_us}")
        if int(epochs) != epochs or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs}")
        self.time_scale_range = self._check_time_scale(time_scale)
        self.dataset = dataset
        n = len(dataset)
        self.indices = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(self.indices) and (self.indices.min() < 0 or self.indices.max() >= n):
            raise IndexError(f"indices must be in [0, {n}) for a data set of {n} samples")
        self.gap_us = int(gap_us)
        self.time_scale = time_scale
        self.transform = transform
        self.align = align
        self.epochs = int(epochs)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        if int(start_us) < 0:
            raise ValueError(f"start_us must be >= 0, got {start_us}")
        self.start_us = int(start_us)
        size = sensor_size if sensor_size is not None else dataset.sensor_size
        self.sensor_size = check_sensor_size(size, f"LabelledStream sensor size ({type(dataset).__name__})")
        if dt_us is not None and (int(dt_us) != dt_us or dt_us <= 0):
            raise ValueError(f"dt_us must be a positive whole number of microseconds, got {dt_us}")
        self.dt_us: Optional[int] = None if dt_us is None else int(dt_us)
        duration = getattr(dataset, "duration_us", None)
        self.sample_duration_us: Optional[int] = None if duration is None else int(duration)

    @staticmethod
    def _check_time_scale(time_scale: TimeScale) -> Tuple[float, float]:
        if np.isscalar(time_scale):
            low = high = float(time_scale)
        else:
            low, high = (float(v) for v in time_scale)
        if not (0.0 < low <= high and math.isfinite(high)):
            raise ValueError(f"time_scale must be a positive float or a (low, high) range, got {time_scale!r}")
        return low, high

    def __len__(self) -> int:
        return len(self.indices) * self.epochs

    def with_dt_us(self, dt_us: int) -> "LabelledStream":
        """A copy of this stream laid out for ticks of ``dt_us`` (see ``dt_us`` above); the data set
        is shared, nothing is read. :func:`streams.tick_chunks` uses it on a stream without ``dt_us``."""
        if int(dt_us) != dt_us or dt_us <= 0:
            raise ValueError(f"dt_us must be a positive whole number of microseconds, got {dt_us}")
        laid_out = copy.copy(self)
        laid_out.dt_us = int(dt_us)
        return laid_out

    def order(self, epoch: int) -> np.ndarray:
        """Data set indices played in ``epoch`` (0-based), shuffled if ``shuffle``."""
        if not self.shuffle:
            return self.indices
        return np.random.default_rng([self.seed, _SHUFFLE_KEY, epoch]).permutation(self.indices)

    def scale_for(self, position: int) -> float:
        """Time-scale factor of the sample at stream position ``position``."""
        low, high = self.time_scale_range
        if low == high:
            return low
        return float(np.random.default_rng([self.seed, _TIME_SCALE_KEY, position]).uniform(low, high))

    def __iter__(self) -> Iterator[Segment]:
        cursor = self.start_us
        position = 0
        for epoch in range(self.epochs):
            for dataset_index in self.order(epoch):
                events, label = self.dataset[int(dataset_index)]
                if int(dataset_index) in getattr(self.dataset, "skipped", ()):
                    continue  # unreadable and skipped (streams.SkipBad): no time, no tick, no sample
                segment = self._place(events, label, cursor, position, int(dataset_index))
                yield segment
                cursor = segment.t_end + self.gap_us
                position += 1

    def _place(self, events: np.ndarray, label, t_start: int, position: int, dataset_index: int) -> Segment:
        """Check, window, transform, scale and shift one sample's events to start at ``t_start``
        (or at the next tick boundary, see ``dt_us``)."""
        source = f"sample {dataset_index} of {type(self.dataset).__name__}"
        label = _checked_label(label, source)
        events = as_events(events, source=source, copy=False)  # read only: placed is a new array
        if len(events) > 1 and np.any(np.diff(events["t"]) < 0):
            raise EventStreamError(f"{source}: events are not sorted by time; the data set must sort them.")
        if self.sample_duration_us is not None:
            origin, duration = 0, self.sample_duration_us
        elif len(events) == 0:
            origin, duration = 0, 0
        else:
            origin = int(events["t"][0]) if self.align == "zero" else 0
            duration = int(events["t"][-1]) - origin + 1  # Python ints: no overflow
        _check_span(duration, source, self.align)
        if self.transform is not None:
            # a private copy: a transform may work in place, the data set's arrays must not change
            events = as_events(self.transform(events.copy()), source=f"transform of {source}", copy=False)
            if len(events) > 1 and np.any(np.diff(events["t"]) < 0):
                events = events[np.argsort(events["t"], kind="stable")]
        times = events["t"]
        inside = times >= origin
        if origin + duration <= np.iinfo(np.int64).max:
            inside &= times < origin + duration
        if not inside.all():
            if self.transform is None:
                raise EventStreamError(
                    f"{source}: {int((~inside).sum())} event(s) outside [0, {duration}) us relative to its "
                    "origin (negative timestamps with align='none', or beyond the data set's duration_us)"
                )
            events, times = events[inside], times[inside]
        self._check_inside_sensor(events, source)
        relative = times - origin  # within [0, duration): no overflow
        scale = self.scale_for(position)
        if scale != 1.0:
            duration = math.ceil(duration * scale) if duration else 0
            _check_span(duration, source, self.align)  # before scaling times: no int64 overflow
            relative = np.floor(relative * scale).astype(np.int64)
        if self.dt_us is not None:
            t_start, duration = _own_a_tick(t_start, duration, self.dt_us)
        if t_start + duration > MAX_SAMPLE_SPAN_US:
            raise EventStreamError(
                f"{source}: the stream would run past {MAX_SAMPLE_SPAN_US} us (t_start {t_start} us + "
                f"{duration} us); check start_us, gap_us and the samples' timestamps."
            )
        placed = np.empty(len(events), dtype=EVENT_DTYPE)
        placed["x"], placed["y"], placed["p"] = events["x"], events["y"], events["p"]
        placed["t"] = relative + t_start
        return Segment(position, label, t_start, t_start + duration, placed, dataset_index, scale)

    def _check_inside_sensor(self, events: np.ndarray, source: str) -> None:
        W, H, P = self.sensor_size
        x, y, p = events["x"], events["y"], events["p"]
        outside = (x < 0) | (x >= W) | (y < 0) | (y >= H) | (p < 0) | (p >= P)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            raise EventStreamError(
                f"{source}: event {i} (x={x[i]}, y={y[i]}, p={p[i]}) is outside the stream's sensor "
                f"{W}x{H}x{P} ({int(outside.sum())} such event(s)); pass sensor_size= if a transform "
                "changes the sensor, or fix the data set."
            )


def _checked_label(label, source: str) -> int:
    """``label`` as an int: a whole number >= -1 (-1 means unlabelled), else EventStreamError."""
    try:
        value = operator.index(label)
    except TypeError:
        value = None
        if isinstance(label, (float, np.floating)) and math.isfinite(label) and label == math.floor(label):
            value = int(label)
    if value is None or value < -1:
        raise EventStreamError(
            f"{source}: label {label!r} is not a class number (a whole number >= 0, or -1 for "
            "unlabelled); the data set returns bad labels."
        )
    return value


def _check_span(duration: int, source: str, align: str) -> None:
    if duration > MAX_SAMPLE_SPAN_US:
        hint = " (absolute timestamps with align='none'? use align='zero')" if align == "none" else ""
        raise EventStreamError(
            f"{source}: the sample spans {duration} us, more than {MAX_SAMPLE_SPAN_US} us: its "
            f"timestamps are corrupt{hint}."
        )


def _own_a_tick(t_start: int, duration: int, dt_us: int) -> Tuple[int, int]:
    """``(t_start, duration)`` moved so that ``[t_start, t_start + duration)`` holds a multiple of
    ``dt_us``: at least 1 us long, and delayed to the next tick boundary if it holds none."""
    duration = max(duration, 1)
    next_boundary = -(-t_start // dt_us) * dt_us
    if next_boundary >= t_start + duration:
        t_start = next_boundary
    return t_start, duration
