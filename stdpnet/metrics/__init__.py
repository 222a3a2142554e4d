"""Figures every run reports (SPEC section 10): running accuracy, spikes per layer per sample
(learning and inference separately), synaptic operations, events per second of wall time,
real-time factor, peak memory.

Submodules: :mod:`stdpnet.metrics.continual` (accuracy matrix, ACC / BWT / FWT / forgetting,
linear probe; SPEC section 12) and :mod:`stdpnet.metrics.ops` (synaptic operations and energy
estimates, NeuroBench style)."""
from __future__ import annotations

import resource
import sys
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Dict, List, Sequence

import numpy as np


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024.0 if sys.platform != "darwin" else rss / 2**20


@dataclass
class PassStats:
    """Totals over a pass of the stream: samples, events, ticks, wall time, per-layer counts
    ``(learning spikes, inference spikes, synaptic operations)``."""

    layer_names: Sequence[str]
    samples: int = 0
    events: int = 0
    ticks: int = 0
    wall_s: float = 0.0
    counts: np.ndarray = None

    def __post_init__(self):
        if self.counts is None:
            self.counts = np.zeros((len(self.layer_names), 3), np.int64)

    def add_chunk(self, n_events: int, n_ticks: int, wall_s: float, counts: np.ndarray) -> None:
        self.events += int(n_events)
        self.ticks += int(n_ticks)
        self.wall_s += wall_s
        self.counts += counts

    def summary(self, dt_us: int) -> Dict[str, Any]:
        n = max(self.samples, 1)
        wall = max(self.wall_s, 1e-12)
        return {
            "samples": self.samples,
            "events": self.events,
            "wall_s": round(self.wall_s, 3),
            "events_per_s": self.events / wall,
            "realtime_factor": self.ticks * dt_us * 1e-6 / wall,
            "synops_per_s": float(self.counts[:, 2].sum()) / wall,
            "spikes_per_sample": {
                name: {"learning": float(c[0]) / n, "inference": float(c[1]) / n, "synops": float(c[2]) / n}
                for name, c in zip(self.layer_names, self.counts)
            },
            "peak_rss_mb": peak_rss_mb(),
        }


@dataclass
class RunningAccuracy:
    """Accuracy over the last ``window`` samples (SPEC: the learning curve), logged every ``log_every``."""

    window: int = 1000
    log_every: int = 50
    samples: int = 0
    correct_total: int = 0
    silent_total: int = 0
    recent: deque = field(default_factory=deque)
    log: List[Dict[str, Any]] = field(default_factory=list)

    def add(self, outcomes, extra: Dict[str, Any] = None) -> None:
        for o in outcomes:
            self.samples += 1
            self.correct_total += int(o.correct)
            self.silent_total += int(o.silent)
            self.recent.append(int(o.correct))
            if len(self.recent) > self.window:
                self.recent.popleft()
            if self.samples % self.log_every == 0:
                self.log.append({"samples": self.samples, "running_accuracy": self.value, **(extra or {})})

    @property
    def value(self) -> float:
        return float(np.mean(self.recent)) if self.recent else 0.0

    def state_dict(self) -> Dict[str, Any]:
        return {"window": self.window, "log_every": self.log_every, "samples": self.samples,
                "correct_total": self.correct_total, "silent_total": self.silent_total,
                "recent": np.asarray(self.recent, np.int64), "log": list(self.log)}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.window, self.log_every = int(state["window"]), int(state["log_every"])
        self.samples, self.correct_total = int(state["samples"]), int(state["correct_total"])
        self.silent_total = int(state["silent_total"])
        self.recent = deque(int(v) for v in np.asarray(state["recent"]))
        self.log = list(state["log"])


def confusion_matrix(outcomes, n_classes: int) -> np.ndarray:
    """Rows: true label; columns: predicted label, last column = silent."""
    m = np.zeros((n_classes, n_classes + 1), np.int64)
    for o in outcomes:
        if 0 <= o.label < n_classes:
            m[o.label, o.predicted if o.predicted >= 0 else n_classes] += 1
    return m
