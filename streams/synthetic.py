"""A small synthetic labelled event data set: oriented bars sweeping across a sensor.

It needs no files, is deterministic and fast, and is the embedded default data set of
``stdpnet train``: a network that learns oriented edge detectors should separate its classes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Tuple

import numpy as np

from .datasets import LabelledDataset
from .events import EVENT_DTYPE, SensorSize, make_events


@dataclass(eq=False)
class SyntheticBars(LabelledDataset):
    """Labelled samples of one long bright bar sweeping across the sensor; class = bar orientation.

    Sample ``i`` (``0 <= i < n_samples``) is built from ``numpy.random.default_rng([seed, i])``
    only, so it is the same whatever order samples are read in. Its label is drawn uniformly
    among the classes from ``seed`` (``labels`` holds all of them).

    Geometry: orientation ``theta`` (degrees, counter-clockwise as seen on screen, 0 = horizontal
    bar, 90 = vertical) of ``orientations_deg[label]``. The bar, ``bar_width_px`` pixels wide and
    longer than the sensor, moves perpendicular to its axis, in one of the two directions (random
    per sample), from just outside the sensor to just past it, at a speed chosen so the sweep
    takes 70-90 % of ``duration_us`` (random per sample), starting at a random time.

    Events: every pixel gets an ON event (``p = 1``) when the bar's leading edge reaches its
    centre and an OFF event (``p = 0``) when the trailing edge leaves it; each event time gets
    Gaussian jitter (``jitter_us`` standard deviation) and each event is dropped with probability
    ``drop_probability``; on top, a Poisson number (mean ``noise_events``) of uniformly random
    noise events. All times lie in ``[0, duration_us)`` microseconds.
    """

    n_samples: int = 1000
    sensor_size: SensorSize = (16, 16, 2)
    orientations_deg: Tuple[float, ...] = (0.0, 45.0, 90.0, 135.0)
    duration_us: int = 50_000
    bar_width_px: float = 2.0
    jitter_us: float = 300.0
    drop_probability: float = 0.05
    noise_events: float = 10.0
    seed: int = 0
    labels: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        self.sensor_size = tuple(int(v) for v in self.sensor_size)
        self.orientations_deg = tuple(float(a) for a in self.orientations_deg)
        width, height, polarities = self.sensor_size
        if polarities != 2 or width < 1 or height < 1:
            raise ValueError(f"sensor_size must be (W, H, 2) with W, H >= 1, got {self.sensor_size}")
        if not self.orientations_deg:
            raise ValueError("orientations_deg must name at least one orientation (one class each)")
        if self.n_samples < 0 or self.duration_us <= 0 or self.bar_width_px <= 0:
            raise ValueError("n_samples must be >= 0, duration_us and bar_width_px > 0")
        if not 0.0 <= self.drop_probability < 1.0:
            raise ValueError(f"drop_probability must be in [0, 1), got {self.drop_probability}")
        label_rng = np.random.default_rng([self.seed, 2**32 - 1])  # not the stream of any sample
        self.labels = label_rng.integers(0, len(self.orientations_deg), size=self.n_samples).astype(np.int64)
        columns, rows = np.meshgrid(np.arange(width), np.arange(height))
        self._x = columns.ravel()
        self._y = rows.ravel()
        # pixel centres relative to the sensor centre, y pointing up (as seen on screen)
        self._centre_x = self._x + 0.5 - width / 2.0
        self._centre_y_up = height / 2.0 - (self._y + 0.5)

    @property
    def classes(self):
        """Class labels 0 .. len(orientations_deg) - 1 (even those no sample happens to use)."""
        return list(range(len(self.orientations_deg)))

    def __len__(self) -> int:
        return self.n_samples

    def __getitem__(self, i: int) -> Tuple[np.ndarray, int]:
        if not -self.n_samples <= i < self.n_samples:
            raise IndexError(f"sample {i} out of range for {self.n_samples} samples")
        i = int(i) % self.n_samples
        label = int(self.labels[i])
        return self._bar_events(label, np.random.default_rng([self.seed, i])), label

    def _bar_events(self, label: int, rng: np.random.Generator) -> np.ndarray:
        theta = np.deg2rad(self.orientations_deg[label])
        direction = rng.choice((-1.0, 1.0))
        # position of each pixel centre along the direction of motion (normal to the bar axis)
        position = direction * (-np.sin(theta) * self._centre_x + np.cos(theta) * self._centre_y_up)
        start = position.min() - 0.5
        travel_px = position.max() + 0.5 - start + self.bar_width_px
        sweep_us = self.duration_us * rng.uniform(0.7, 0.9)
        t0_us = rng.uniform(0.0, self.duration_us - sweep_us)
        speed_px_per_us = travel_px / sweep_us
        t_on = t0_us + (position - start) / speed_px_per_us
        t_off = t_on + self.bar_width_px / speed_px_per_us
        n_pixels = len(position)
        times = np.concatenate([t_on, t_off]) + rng.normal(0.0, self.jitter_us, size=2 * n_pixels)
        polarity = np.repeat(np.array([1, 0], dtype=np.int8), n_pixels)
        keep = rng.random(2 * n_pixels) >= self.drop_probability
        x = np.concatenate([self._x, self._x])[keep]
        y = np.concatenate([self._y, self._y])[keep]
        times, polarity = times[keep], polarity[keep]

        width, height, _ = self.sensor_size
        n_noise = rng.poisson(self.noise_events)
        x = np.concatenate([x, rng.integers(0, width, n_noise)])
        y = np.concatenate([y, rng.integers(0, height, n_noise)])
        times = np.concatenate([times, rng.uniform(0.0, self.duration_us, n_noise)])
        polarity = np.concatenate([polarity, rng.integers(0, 2, n_noise).astype(np.int8)])

        times_us = np.clip(np.floor(times), 0, self.duration_us - 1).astype(np.int64)
        order = np.argsort(times_us, kind="stable")
        if len(order) == 0:
            return np.zeros(0, dtype=EVENT_DTYPE)
        return make_events(x[order], y[order], times_us[order], polarity[order])
