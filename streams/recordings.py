"""Data sets made of plain recordings: a folder of event files in any supported format, one
recording (whole, or cut into windows of fixed duration), and a guard that skips unreadable ones.

They follow the labelled data set protocol of :mod:`streams.datasets` (``len``, ``[i] -> (events,
label)``, ``labels``, ``sensor_size``). Unlabelled samples carry the label ``-1``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from .datasets import LabelledDataset
from .events import EVENT_DTYPE, EventStreamError, SensorSize
from .readers import _EXTENSIONS, read_events

PathLike = Union[str, Path]

#: File extensions of recordings a folder may hold (every format :func:`streams.read_events` reads).
RECORDING_EXTENSIONS = tuple(sorted(_EXTENSIONS))

UNLABELLED = -1


def is_recording(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in _EXTENSIONS


class RecordingFolder(LabelledDataset):
    """Recordings in a folder, any supported format (``.bin``, ``.aedat4``, ``.aedat``, ``.raw``,
    ``.dat``, ``.npy``, ``.npz``).

    Two layouts:
    - ``root/<class>/<file>``: labelled by sub-folder. Class folders named by integers give those
      labels (``root/7/...`` is class 7); otherwise the sorted folder names get labels 0, 1, ...
      (:attr:`class_names`).
    - ``root/<file>``: unlabelled (every label is -1).

    Files are listed once, sorted by class then by name, so indices are deterministic;
    :attr:`sample_ids` (paths relative to ``root``) name the samples independently of the listing.
    The sensor size is read from the first recording unless given; every sample is read with it,
    so a recording of another size raises :class:`EventStreamError` naming the file.
    """

    def __init__(self, root: PathLike, sensor_size: Optional[SensorSize] = None):
        root = Path(root)
        if not root.is_dir():
            raise EventStreamError(f"{root}: folder not found.")
        direct = sorted(p for p in root.iterdir() if is_recording(p))
        class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and any(is_recording(p) for p in d.iterdir()))
        paths: List[Path] = []
        labels: List[int] = []
        self.class_names: List[str] = []
        if direct:
            paths = direct
            labels = [UNLABELLED] * len(direct)
            self.labelled = False
        elif class_dirs:
            names = [d.name for d in class_dirs]
            numeric = all(n.isdigit() for n in names)
            if numeric:
                class_dirs = sorted(class_dirs, key=lambda d: int(d.name))
            self.class_names = [d.name for d in class_dirs]
            for k, d in enumerate(class_dirs):
                files = sorted(p for p in d.iterdir() if is_recording(p))
                paths.extend(files)
                labels.extend([int(d.name) if numeric else k] * len(files))
            self.labelled = True
        else:
            raise EventStreamError(
                f"{root}: holds no recordings ({', '.join(RECORDING_EXTENSIONS)}) directly or in class "
                "sub-folders <folder>/<class>/<file>."
            )
        self.root = root
        self.paths: List[Path] = paths
        self.labels = np.asarray(labels, dtype=np.int64)
        self.sample_ids: List[str] = [p.relative_to(root).as_posix() for p in paths]
        if sensor_size is None:
            _, sensor_size = read_events(paths[0])
        self.sensor_size: SensorSize = tuple(int(v) for v in sensor_size)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Tuple[np.ndarray, int]:
        events, _ = read_events(self.paths[i], sensor_size=self.sensor_size)
        return events, int(self.labels[i])

    def __repr__(self) -> str:
        kind = f"classes {self.classes}" if self.labelled else "unlabelled"
        return f"RecordingFolder({str(self.root)!r}, {len(self)} recordings, {kind})"


class Recording(LabelledDataset):
    """One recording as an unlabelled data set: the whole recording as one sample, or, with
    ``window_us``, consecutive windows ``[t0 + k w, t0 + (k + 1) w)`` of it (``t0``: first event),
    each a sample lasting exactly ``w`` microseconds (``duration_us``). The file is read once."""

    labelled = False

    def __init__(self, path: PathLike, window_us: Optional[int] = None, sensor_size: Optional[SensorSize] = None):
        self.path = Path(path)
        events, size = read_events(self.path, sensor_size=sensor_size)
        self.sensor_size: SensorSize = tuple(int(v) for v in size)
        self._events = events
        if window_us is None:
            self._bounds = np.array([0, len(events)], np.int64)
        else:
            window_us = int(window_us)
            if window_us < 1:
                raise EventStreamError(f"{self.path}: a window must last at least 1 us, got {window_us}")
            self.duration_us = window_us
            t = events["t"].astype(np.int64)
            t0 = int(t[0]) if len(t) else 0
            n = max(1, math.ceil((int(t[-1]) - t0 + 1) / window_us)) if len(t) else 1
            self._t0 = t0
            self._bounds = np.searchsorted(t, t0 + window_us * np.arange(n + 1), side="left").astype(np.int64)
            self._bounds[-1] = len(events)
        self.window_us = window_us
        self.labels = np.full(len(self._bounds) - 1, UNLABELLED, np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> Tuple[np.ndarray, int]:
        if not 0 <= i < len(self):
            raise IndexError(f"window {i} out of range for {len(self)} windows")
        part = self._events[self._bounds[i]:self._bounds[i + 1]]
        if self.window_us is not None:  # each window's events relative to its own start
            part = part.copy()
            part["t"] = part["t"] - (self._t0 + i * self.window_us)
        return part, UNLABELLED

    def __repr__(self) -> str:
        how = f"{len(self)} windows of {self.window_us} us" if self.window_us else "one sample"
        return f"Recording({str(self.path)!r}, {how})"


class DatasetAdapter(LabelledDataset):
    """Any data set object passed from Python (e.g. a ``tonic.datasets`` instance): ``len``,
    ``[i] -> (events, target)`` and ``sensor_size``. Labels come from its ``labels`` or ``targets``
    attribute when it has one, else from reading every sample once; integer targets are labels,
    anything else (e.g. a string) makes the data set unlabelled."""

    def __init__(self, dataset):
        for attr in ("__len__", "__getitem__"):
            if not hasattr(dataset, attr):
                raise EventStreamError(f"{type(dataset).__name__} is not a data set: it has no {attr}")
        size = getattr(dataset, "sensor_size", None)
        if size is None or len(tuple(size)) != 3:
            raise EventStreamError(
                f"{type(dataset).__name__} has no sensor_size (W, H, P); set dataset.sensor_size first")
        self.dataset = dataset
        self.sensor_size: SensorSize = tuple(int(v) for v in size)
        labels = getattr(dataset, "labels", None)
        if labels is None:
            labels = getattr(dataset, "targets", None)
        if labels is None:
            labels = [dataset[i][1] for i in range(len(dataset))]
        try:
            arr = np.asarray(labels)
        except (TypeError, ValueError):
            arr = np.zeros(0, object)
        self.labelled = (len(arr) == len(dataset) and len(arr) > 0 and np.issubdtype(arr.dtype, np.integer)
                         and bool((arr >= 0).all()))
        self.labels = arr.astype(np.int64) if self.labelled else np.full(len(dataset), UNLABELLED, np.int64)
        if hasattr(dataset, "duration_us"):
            self.duration_us = int(dataset.duration_us)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Tuple[np.ndarray, int]:
        events, _ = self.dataset[i]
        return events, int(self.labels[i])

    def __repr__(self) -> str:
        return f"DatasetAdapter({self.dataset!r})"


class SkipBad:
    """Wrap a data set so a sample that cannot be read (:class:`EventStreamError`) is replaced by an
    empty one and recorded in :attr:`skipped` (``{index: message}``). In a stream, an empty sample
    without a fixed ``duration_us`` takes no time and reaches no readout: it is skipped."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.skipped: Dict[int, str] = {}
        self.labels = dataset.labels
        self.sensor_size = dataset.sensor_size
        if hasattr(dataset, "duration_us"):
            self.duration_us = dataset.duration_us

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Tuple[np.ndarray, int]:
        try:
            return self.dataset[i]
        except EventStreamError as error:
            self.skipped[int(i)] = str(error)
            return np.zeros(0, EVENT_DTYPE), int(self.labels[i])
