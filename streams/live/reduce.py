"""The reduction stages the wall-clock ticker applies when input outruns the simulator.

Each stage is a plain function over events sorted by time with their tick indices (non-decreasing),
so every stage is O(n): numpy for the arithmetic, one small numba loop where numpy would need a sort.

a. :func:`downsample`: ``x // fx``, ``y // fy`` (tonic's ``Downsample`` with an integer factor),
   polarities merged when the network has one input channel; events mapped outside the network's
   input are dropped.
b. :func:`first_spike_per_pixel`: per tick, the first event of each (x, y, polarity) is kept.
c. :func:`rate_cap`: per tick, a uniform random subset of at most ``cap`` events is kept.
"""
from __future__ import annotations

import math
from typing import Tuple

import numpy as np
from numba import njit

from ..events import EVENT_DTYPE, SensorSize

#: "Never seen" in the per-pixel last-tick table (ticks are >= 0).
NEVER = np.iinfo(np.int64).min


def downsample_factor(sensor_size: SensorSize, net_input_size: SensorSize) -> int:
    """The smallest integer factor that fits the sensor into the network's input, both axes alike."""
    return max(1, math.ceil(sensor_size[0] / net_input_size[0]), math.ceil(sensor_size[1] / net_input_size[1]))


def downsample(events: np.ndarray, ticks: np.ndarray, factor: Tuple[int, int], net_input_size: SensorSize):
    """Stage a: ``(events, ticks)`` mapped onto the network's input (see the module docstring)."""
    width, height, channels = net_input_size
    fx, fy = factor
    out = np.empty(len(events), dtype=EVENT_DTYPE)
    out["x"] = events["x"] // fx
    out["y"] = events["y"] // fy
    out["p"] = events["p"] if channels > 1 else 0
    out["t"] = events["t"]
    inside = (out["x"] < width) & (out["y"] < height)
    if inside.all():
        return out, ticks
    return out[inside], ticks[inside]


def tick_runs(ticks: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``(starts, counts)``: where each run of equal ticks begins, and its length."""
    if not len(ticks):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, ticks[1:] != ticks[:-1]])
    return starts, np.diff(np.r_[starts, len(ticks)])


def over_cap(ticks: np.ndarray, cap) -> np.ndarray:
    """Per event: does its tick hold more than ``cap`` events? (all False when ``cap`` is None)"""
    if cap is None or len(ticks) <= cap:
        return np.zeros(len(ticks), dtype=bool)
    _, counts = tick_runs(ticks)
    return np.repeat(counts > cap, counts)


@njit(cache=True)
def _first_per_pixel(pixel, ticks, candidate, last_tick):  # pragma: no cover (compiled)
    keep = np.ones(len(pixel), dtype=np.bool_)
    for i in range(len(pixel)):
        if candidate[i]:
            k = pixel[i]
            if last_tick[k] == ticks[i]:
                keep[i] = False
            else:
                last_tick[k] = ticks[i]
    return keep


def first_spike_per_pixel(events: np.ndarray, ticks: np.ndarray, candidate: np.ndarray,
                          net_input_size: SensorSize, last_tick: np.ndarray) -> np.ndarray:
    """Stage b: keep-mask dropping every ``candidate`` event whose pixel and polarity already
    spiked in the same tick.

    ``last_tick``: the caller's table (``W * H * C`` int64, filled with :data:`NEVER`) of the
    last tick each pixel spiked in; it carries over between calls, so ticks must only increase.
    """
    width, height, _ = net_input_size
    pixel = (events["p"].astype(np.int64) * height + events["y"]) * width + events["x"]
    return _first_per_pixel(pixel, ticks.astype(np.int64), candidate, last_tick)


def rate_cap(ticks: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Stage c: sorted indices of the events kept when every tick keeps at most ``cap`` of its
    events, a uniform random subset (one draw per event of an over-cap tick, from ``rng``)."""
    over = over_cap(ticks, cap)
    if not over.any():
        return np.arange(len(ticks))
    crowded = np.flatnonzero(over)
    priority = rng.random(len(crowded))
    order = crowded[np.lexsort((priority, ticks[crowded]))]  # by tick, random within the tick
    starts, counts = tick_runs(ticks[order])
    rank = np.arange(len(order)) - np.repeat(starts, counts)
    return np.sort(np.concatenate([np.flatnonzero(~over), order[rank < cap]]))
