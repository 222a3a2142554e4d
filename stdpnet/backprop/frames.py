"""Event samples to dense inputs for the backprop baselines (vectorised numpy, no JAX).

An event sample is an ``EVENT_DTYPE`` array (x, y, t in microseconds, p) of one recording and a
sensor size ``(W, H, P)`` (tonic's order). The baselines see it as

* an **event-count image** ``(C, H, W)`` with ``C = P`` (polarity is the channel):
  ``frame[p, y, x] = #{events at (x, y, p)}``; for SpikeGrad this *is* the net spike count of
  every input neuron, and for the CNN it is the usual event frame;
* **time bins** ``(T, C, H, W)`` for backprop through time: the same counts restricted to
  ``t in [i * D / T, (i + 1) * D / T)`` for bin ``i`` and window ``D = duration_us``.

``time_scale`` compresses (< 1) or stretches (> 1) a recording, ``t -> round(t * time_scale)``,
for timescale-invariance tests: count images do not change, time bins over a fixed window do.
``window_us = (start, stop)`` keeps only the events with ``start <= t' < stop`` (after scaling):
a fixed observation window. Count images of a whole sample lose all timing; where the classes
differ only in timing they need a window shorter than the sample. ``streams.SyntheticBars`` is
such a case: a bar sweeping across the whole sensor leaves one ON and one OFF event at every
pixel whatever its orientation, so its count image is uniform; ``window_us=(20_000, 30_000)``
(the middle fifth of a 50 ms sample, when every bar is on the sensor) shows the oriented band.
This is the materialising path for (small) training sets, not the streaming path.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from ..errors import ParameterError, SourceError, check_positive

SensorSize = Tuple[int, int, int]


def scale_time(events: np.ndarray, time_scale: float) -> np.ndarray:
    """A copy of ``events`` with ``t -> round(t * time_scale)`` (integer microseconds).

    ``time_scale = 0.5`` plays the recording twice as fast, ``2.0`` twice as slow; order is kept.
    """
    check_positive("time_scale", time_scale)
    out = events.copy()
    if time_scale != 1.0:
        out["t"] = np.round(events["t"].astype(np.float64) * float(time_scale)).astype(events["t"].dtype)
    return out


def _pixel_index(events: np.ndarray, sensor_size: SensorSize, where: str) -> np.ndarray:
    """Flat index ``(p * H + y) * W + x`` of every event into a (C, H, W) image, checked."""
    width, height, channels = (int(v) for v in sensor_size)
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64)
    p = events["p"].astype(np.int64)
    outside = (x < 0) | (x >= width) | (y < 0) | (y >= height) | (p < 0) | (p >= channels)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise SourceError(
            f"{where}: event {i} (x={x[i]}, y={y[i]}, p={p[i]}) lies outside the sensor "
            f"(W, H, P) = {tuple(sensor_size)}; pass the recording's real sensor size or crop the events")
    return (p * height + y) * width + x


def select_window(events: np.ndarray, window_us: Optional[Tuple[float, float]]) -> np.ndarray:
    """The events with ``start <= t < stop`` for ``window_us = (start, stop)``; all for ``None``."""
    if window_us is None:
        return events
    try:
        start, stop = (float(v) for v in window_us)
    except (TypeError, ValueError):
        raise ParameterError(f"window_us must be a pair (start, stop) in microseconds, got {window_us!r}") from None
    if not start < stop:
        raise ParameterError(f"window_us = {window_us!r}: start must be below stop")
    t = events["t"]
    return events[(t >= start) & (t < stop)]


def count_frames(events: np.ndarray, sensor_size: SensorSize, *,
                 window_us: Optional[Tuple[float, float]] = None, time_scale: float = 1.0,
                 where: str = "events") -> np.ndarray:
    """Event-count image ``(C, H, W)`` float32: ``frame[p, y, x]`` = number of events at (x, y, p).

    ``sensor_size`` is ``(W, H, P)``; ``C = P``. ``time_scale`` and ``window_us``: see the module
    docstring (without a window the image does not depend on ``time_scale``).
    """
    if window_us is not None:
        events = select_window(scale_time(events, time_scale), window_us)
    width, height, channels = (int(v) for v in sensor_size)
    index = _pixel_index(events, sensor_size, where)
    counts = np.bincount(index, minlength=channels * height * width)
    return counts.astype(np.float32).reshape(channels, height, width)


def time_bins(events: np.ndarray, sensor_size: SensorSize, n_bins: int,
              duration_us: Optional[float] = None, *, time_scale: float = 1.0,
              window_us: Optional[Tuple[float, float]] = None, where: str = "events") -> np.ndarray:
    """Event counts in ``n_bins`` equal time bins: ``(T, C, H, W)`` float32.

    Bin of an event: ``floor(t' * T / D)`` with ``t' = round(t * time_scale)`` (microseconds from
    the recording's time 0) and window ``D``: ``duration_us`` if given (events at ``t' >= D`` are
    dropped: a fixed observation window), else the sample's own span ``max(t') + 1`` (the bins
    stretch with the recording). Summed over bins this is :func:`count_frames` whenever no event
    is dropped. ``window_us = (start, stop)``: only those events, times measured from ``start``
    (then ``D`` defaults to ``stop - start``).
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ParameterError(f"time_bins: n_bins must be a positive integer, got {n_bins!r}")
    if duration_us is not None:
        check_positive("duration_us", duration_us)
    events = scale_time(events, time_scale) if time_scale != 1.0 else events
    if window_us is not None:
        events = select_window(events, window_us).copy()
        events["t"] -= int(np.floor(float(window_us[0])))
        if duration_us is None:
            duration_us = float(window_us[1]) - float(window_us[0])
    width, height, channels = (int(v) for v in sensor_size)
    pixels = channels * height * width
    index = _pixel_index(events, sensor_size, where)
    t = events["t"].astype(np.int64)
    if len(t) and t.min() < 0:
        raise SourceError(f"{where}: negative timestamp {int(t.min())} us; time bins start at t = 0")
    window = float(duration_us) if duration_us is not None else float(t.max() + 1 if len(t) else 1)
    # integer arithmetic where possible, so equal inputs always give equal bins
    bins = np.floor(t * n_bins / window).astype(np.int64)
    keep = bins < n_bins
    counts = np.bincount(bins[keep] * pixels + index[keep], minlength=n_bins * pixels)
    return counts.astype(np.float32).reshape(n_bins, channels, height, width)


def dataset_arrays(dataset, indices: Optional[Sequence[int]] = None, *, kind: str = "counts",
                   n_bins: Optional[int] = None, duration_us: Optional[float] = None,
                   time_scale: float = 1.0, window_us: Optional[Tuple[float, float]] = None,
                   sensor_size: Optional[SensorSize] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Materialise samples ``indices`` (default: all) of a labelled data set as arrays ``(x, y)``.

    ``dataset[i] -> (events, label)`` with a ``sensor_size`` attribute (``streams`` data sets,
    tonic-like ones). ``kind="counts"``: ``x`` is ``(N, C, H, W)`` (:func:`count_frames`), for
    SpikeGrad and the CNN; ``kind="bins"``: ``(N, T, C, H, W)`` with ``T = n_bins``
    (:func:`time_bins`), for the surrogate-gradient SNN. The window of the bins is
    ``duration_us`` if given, else the data set's own ``duration_us`` attribute times
    ``time_scale`` when it has one (every sample shares it), else each sample's span; with
    ``window_us`` the window's length. ``y`` is int64. Meant for a few thousand samples at
    most (it holds them all in memory).
    """
    if kind not in ("counts", "bins"):
        raise ParameterError(f"dataset_arrays: kind must be 'counts' (count images) or 'bins' "
                             f"(time bins for BPTT), got {kind!r}")
    if kind == "bins" and n_bins is None:
        raise ParameterError("dataset_arrays: kind='bins' needs n_bins (number of time bins), e.g. n_bins=10")
    sensor = tuple(int(v) for v in (sensor_size or dataset.sensor_size))
    if indices is None:
        indices = np.arange(len(dataset))
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    width, height, channels = sensor
    if duration_us is None and kind == "bins" and window_us is None and getattr(dataset, "duration_us", None):
        duration_us = float(dataset.duration_us) * float(time_scale)
    shape = (channels, height, width) if kind == "counts" else (int(n_bins), channels, height, width)
    x = np.zeros((len(indices),) + shape, dtype=np.float32)
    y = np.zeros(len(indices), dtype=np.int64)
    for row, i in enumerate(indices):
        events, label = dataset[int(i)]
        where = f"sample {int(i)} of {dataset!r}"
        if kind == "counts":
            x[row] = count_frames(events, sensor, window_us=window_us, time_scale=time_scale, where=where)
        else:
            x[row] = time_bins(events, sensor, int(n_bins), duration_us, time_scale=time_scale,
                               window_us=window_us, where=where)
        y[row] = int(label)
    return x, y
