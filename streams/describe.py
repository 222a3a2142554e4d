"""Summaries of event files and data set folders, for ``stdpnet info``."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np

from .datasets import NMNISTFolder, is_nmnist_folder
from .events import EventStreamError, SensorSize
from .readers import detect_format, read_events


def _duration_us(events: np.ndarray) -> int:
    """Span of a recording: last minus first timestamp, plus 1 us (0 without events)."""
    return int(events["t"][-1] - events["t"][0]) + 1 if len(events) else 0


def _rate_hz(n_events: int, duration_us: int) -> float:
    return n_events / (duration_us * 1e-6) if duration_us > 0 else 0.0


def describe(
    path: Union[str, Path], sensor_size: Optional[SensorSize] = None, on_bad: str = "raise"
) -> Dict[str, Any]:
    """Describe an event file or an N-MNIST-layout folder as a JSON-ready dict.

    File: ``path``, ``format`` (see :func:`streams.detect_format`), ``events``, ``sensor``
    ``[W, H, P]``, ``duration_us`` (last - first timestamp + 1) and ``mean_rate_hz``
    (events per second over that span). ``sensor_size`` is passed to :func:`streams.read_events`.

    Folder ``root/<digit>/*.bin``: also ``samples`` and ``classes`` (the number of classes; with ``class_labels`` and ``samples_per_class``);
    ``events`` and ``duration_us`` are totals over all recordings (every file is decoded: about
    0.3 s per 800 N-MNIST recordings), ``mean_rate_hz`` their ratio.

    ``on_bad``: for a file, passed to :func:`streams.read_events` (``"raise"`` or ``"drop"``); for a
    folder, passed to :class:`streams.NMNISTFolder`: with ``"skip"`` unreadable recordings are left
    out and listed under the extra key ``skipped`` (``[{"path", "reason"}]``). Bad input raises
    :class:`streams.EventStreamError`.
    """
    path = Path(path)
    if path.is_dir():
        if not is_nmnist_folder(path):
            raise EventStreamError(
                f"{path}: a folder must have the N-MNIST layout <folder>/<digit>/<id>.bin to be described; "
                "pass an event file or such a folder."
            )
        dataset = NMNISTFolder(path, on_bad=on_bad)
        n_events = 0
        duration = 0
        for i in range(len(dataset)):
            events, _ = dataset[i]
            n_events += len(events)
            duration += _duration_us(events)
        classes, counts = np.unique(dataset.labels, return_counts=True)
        summary = {
            "path": str(path),
            "format": "nmnist-folder",
            "samples": len(dataset),
            "classes": int(len(classes)),
            "class_labels": [int(c) for c in classes],
            "samples_per_class": {int(c): int(n) for c, n in zip(classes, counts)},
            "events": int(n_events),
            "sensor": list(dataset.sensor_size),
            "duration_us": int(duration),
            "mean_rate_hz": _rate_hz(n_events, duration),
        }
        if on_bad == "skip":
            summary["skipped"] = [{"path": str(s.path), "reason": s.reason} for s in dataset.skipped]
        return summary
    if on_bad not in ("raise", "drop"):
        raise ValueError(f"on_bad must be 'raise' or 'drop' for a file, got {on_bad!r} ('skip' is for folders)")
    fmt = detect_format(path)
    events, size = read_events(path, sensor_size=sensor_size, on_bad=on_bad)
    duration = _duration_us(events)
    return {
        "path": str(path),
        "format": fmt,
        "events": int(len(events)),
        "sensor": [int(v) for v in size],
        "duration_us": duration,
        "mean_rate_hz": _rate_hz(len(events), duration),
    }
