"""Data sources named on the command line: ``synthetic[:N]``, ``nmnist:DIR``,
``mnist:IMAGES.gz:LABELS.gz``, or a dataset folder in the official N-MNIST layout.

Each resolves to a labelled data set (``len``, ``[i] -> (events, label)``, ``labels``,
``sensor_size``) from :mod:`streams`, plus a deterministic train/validation split.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

import streams
from streams.datasets import is_nmnist_folder


from .errors import SourceError  # noqa: F401  (re-exported)


SOURCE_HELP = ("synthetic[:N] (built-in moving bars, no download), nmnist:DIR (DIR/<digit>/*.bin), "
               "mnist:IMAGES.gz:LABELS.gz (idx files, encoded to events by SPEC section 8)")


@dataclass
class Source:
    text: str
    kind: str
    dataset: object

    @property
    def sensor_size(self) -> Tuple[int, int, int]:
        return tuple(self.dataset.sensor_size)

    @property
    def n_classes(self) -> int:
        return int(np.max(self.dataset.labels)) + 1

    def split(self, val_fraction: float, seed: int = 0, max_train: Optional[int] = None,
              max_val: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Stratified, seeded ``(train, validation)`` index arrays; ``val_fraction = 0``: no validation."""
        labels = np.asarray(self.dataset.labels)
        if val_fraction <= 0:
            train, val = np.arange(len(labels)), np.zeros(0, np.int64)
        else:
            train, val = streams.stratified_split(labels, 1.0 - val_fraction, seed)
        return _take(train, max_train, seed), _take(val, max_val, seed + 1)


def _take(indices: np.ndarray, n: Optional[int], seed: int) -> np.ndarray:
    if n is None or n >= len(indices):
        return indices
    return np.sort(np.random.default_rng(seed).choice(indices, size=n, replace=False))


def open_source(text: Optional[str], seed: int = 0) -> Source:
    """Resolve a SOURCE string (see :data:`SOURCE_HELP`); ``None`` means ``synthetic``."""
    text = text or "synthetic"
    kind, _, rest = text.partition(":")
    if kind == "synthetic":
        n = int(rest) if rest else 2000
        return Source(text, "synthetic", streams.SyntheticBars(n_samples=n, seed=seed))
    if kind == "nmnist":
        if not rest:
            raise SourceError(f"data source {text!r}: give the folder, e.g. nmnist:../shared/data/nmnist/Train")
        return Source(text, "nmnist", streams.NMNISTFolder(rest))
    if kind == "mnist":
        parts = rest.split(":")
        if len(parts) != 2:
            raise SourceError(f"data source {text!r}: expected mnist:IMAGES.gz:LABELS.gz")
        images = streams.MNISTImages(*parts)
        return Source(text, "mnist", streams.EncodedImages(images.images, images.labels,
                                                           streams.PeriodicEncoder(), seed=seed))
    if Path(text).is_dir() and is_nmnist_folder(text):
        return Source(f"nmnist:{text}", "nmnist", streams.NMNISTFolder(text))
    raise SourceError(f"unknown data source {text!r}; expected {SOURCE_HELP}")
