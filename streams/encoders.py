"""Image-to-event encoders (SPEC section 8).

Each encoder is a small frozen dataclass called as ``encoder(image, rng) -> events``:

* ``image``: (H, W) array, uint8 (divided by 255) or float in [0, 1]; row 0 is the top row;
* ``rng``: a ``numpy.random.Generator`` (all randomness comes from it, so a seeded generator
  gives the same events every time);
* result: :data:`EVENT_DTYPE` events sorted by time, ``x`` = column, ``y`` = row, ``p = 0``
  (sensor ``(W, H, 1)``), timestamps in ``[0, duration_us)`` microseconds.

Every encoder is vectorised over pixels (no Python loop per pixel or per spike).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .events import EVENT_DTYPE, make_events


def image_intensities(image: np.ndarray) -> np.ndarray:
    """Pixel values as float64 in [0, 1]: uint8 images are divided by 255; floats are checked."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"an image must be a 2-D (H, W) array, got shape {image.shape}")
    if image.dtype == np.uint8:
        return image.astype(np.float64) / 255.0
    values = image.astype(np.float64)
    if values.size and (values.min() < 0.0 or values.max() > 1.0):
        raise ValueError(
            f"float image values must lie in [0, 1], got [{values.min()}, {values.max()}]; "
            "pass uint8 images or divide by their maximum first"
        )
    return values


def _events_from_pixels(flat_pixel: np.ndarray, times_us: np.ndarray, width: int) -> np.ndarray:
    """Events at flat pixel indices (row-major) and integer times, sorted by time (stable)."""
    order = np.argsort(times_us, kind="stable")
    flat_pixel, times_us = flat_pixel[order], times_us[order]
    rows, cols = np.divmod(flat_pixel, width)
    return make_events(cols, rows, times_us, np.zeros(len(times_us), dtype=np.int8))


def _check_positive(**values) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")


@dataclass(frozen=True)
class PeriodicEncoder:
    """Noisy periodic spike trains, as in Thiele et al. 2018 (SPEC section 8).

    For each pixel of value ``v``: a rate ``r = max(N(v, sigma), 0) * max_rate_hz`` is drawn once;
    then every inter-spike interval (including the first, from time 0) is the nominal interval
    ``1 / r`` times a factor drawn uniformly in (0, 1]. The mean interval is therefore half the
    nominal one: a pixel spikes on average ``2 * r * duration`` times. Spikes at or after
    ``duration_us`` are discarded. Note that with ``sigma > 0`` black pixels (v = 0) also spike,
    at a rate of ``max(N(0, sigma), 0) * max_rate_hz``.

    Defaults: presentation time ``duration_us = 100_000`` (100 ms), ``max_rate_hz = 100``,
    ``sigma = 0.1``: an MNIST digit then emits about 2,400 events on average (measured over the
    first 100 images of the 5k MNIST training file: mean 2,442, range 1,043-4,552 from a thin "1"
    to a bold "0"; about 400 of them come from background pixels), within the source's 1,400-3,500
    (see tests/streams/test_encoders.py).
    """

    duration_us: int = 100_000
    max_rate_hz: float = 100.0
    sigma: float = 0.1

    def __post_init__(self):
        _check_positive(duration_us=self.duration_us, max_rate_hz=self.max_rate_hz)
        if self.sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {self.sigma}")

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        values = image_intensities(image)
        height, width = values.shape
        rates_hz = np.maximum(rng.normal(values.ravel(), self.sigma), 0.0) * self.max_rate_hz
        active = np.flatnonzero(rates_hz > 0)
        nominal_us = 1e6 / rates_hz[active]
        pixels, times = [], []
        elapsed = np.zeros(len(active))  # time of the latest spike drawn per still-active pixel
        # Draw intervals in blocks sized for the fastest pixel; pixels that have not reached the
        # end of the presentation get another block (a couple of rounds at most in practice).
        while len(active):
            expected = 2.0 * self.duration_us / nominal_us.min()
            block = int(expected + 4.0 * np.sqrt(expected) + 4)
            factors = 1.0 - rng.random((len(active), block))  # uniform in (0, 1]
            spike_times = elapsed[:, None] + np.cumsum(factors * nominal_us[:, None], axis=1)
            inside = spike_times < self.duration_us
            rows, _ = np.nonzero(inside)
            pixels.append(active[rows])
            times.append(spike_times[inside])
            unfinished = inside[:, -1]
            active, nominal_us = active[unfinished], nominal_us[unfinished]
            elapsed = spike_times[unfinished, -1]
        if not pixels:
            return np.zeros(0, dtype=EVENT_DTYPE)
        times_us = np.floor(np.concatenate(times)).astype(np.int64)
        return _events_from_pixels(np.concatenate(pixels), times_us, width)


@dataclass(frozen=True)
class PoissonEncoder:
    """Poisson spike trains: a pixel of value ``v`` fires at ``v * max_rate_hz`` on average.

    The spike count of a pixel is Poisson with mean ``v * max_rate_hz * duration``; its spike
    times are uniform in ``[0, duration_us)``. Black pixels never fire. Defaults
    (100 ms, 200 Hz) give about as many events per MNIST digit as :class:`PeriodicEncoder`.
    """

    duration_us: int = 100_000
    max_rate_hz: float = 200.0

    def __post_init__(self):
        _check_positive(duration_us=self.duration_us, max_rate_hz=self.max_rate_hz)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        values = image_intensities(image)
        expected_counts = values.ravel() * self.max_rate_hz * self.duration_us * 1e-6
        counts = rng.poisson(expected_counts)
        pixels = np.repeat(np.arange(values.size), counts)
        times_us = rng.integers(0, self.duration_us, size=len(pixels), dtype=np.int64)
        return _events_from_pixels(pixels, times_us, values.shape[1])


@dataclass(frozen=True)
class LatencyEncoder:
    """One spike per pixel brighter than ``threshold``, earlier for brighter pixels.

    A pixel of value ``v > threshold`` spikes at ``round((1 - v) * (duration_us - 1))`` us: white
    at 0, nearly black near the end. Deterministic (``rng`` is accepted and unused); pixels with
    equal values spike in the same microsecond, in row-major order.
    """

    duration_us: int = 100_000
    threshold: float = 0.0

    def __post_init__(self):
        _check_positive(duration_us=self.duration_us)

    def __call__(self, image: np.ndarray, rng: Optional[np.random.Generator] = None) -> np.ndarray:
        values = image_intensities(image)
        flat = values.ravel()
        pixels = np.flatnonzero(flat > self.threshold)
        times_us = np.round((1.0 - flat[pixels]) * (self.duration_us - 1)).astype(np.int64)
        return _events_from_pixels(pixels, times_us, values.shape[1])
