"""Weight histograms over training: an observer that the training loop calls, bounded in memory.

Each snapshot is a histogram per layer on fixed bins (the rule's weight range; a static layer's
range at its first snapshot), so a run of any length keeps at most ``max_snapshots`` of them:
when full, every other snapshot is dropped and the spacing doubles (first and last always kept).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List

import numpy as np


@dataclass
class WeightHistory:
    bins: int = 50
    every_samples: int = 200
    max_snapshots: int = 32
    samples: List[int] = field(default_factory=list)
    counts: Dict[str, List[np.ndarray]] = field(default_factory=dict)
    edges: Dict[str, np.ndarray] = field(default_factory=dict)
    _next: int = 0

    def maybe_record(self, network, samples_seen: int) -> bool:
        """Take a snapshot when ``samples_seen`` reached the next milestone (and at 0)."""
        if samples_seen < self._next:
            return False
        self.record(network, samples_seen)
        self._next = samples_seen + self.every_samples
        return True

    def record(self, network, samples_seen: int) -> None:
        if self.samples and self.samples[-1] == samples_seen:
            return
        for layer in network.learning_layers:
            w = np.asarray(layer.w)
            if layer.name not in self.edges:
                lo, hi = layer.params.weight_range
                if not (np.isfinite(lo) and np.isfinite(hi)):
                    lo, hi = (float(w.min()), float(w.max())) if w.size else (0.0, 1.0)
                    hi = hi if hi > lo else lo + 1.0
                self.edges[layer.name] = np.linspace(lo, hi, self.bins + 1)
                self.counts[layer.name] = []
            c, _ = np.histogram(np.clip(w, self.edges[layer.name][0], self.edges[layer.name][-1]),
                                bins=self.edges[layer.name])
            self.counts[layer.name].append(c.astype(np.int64))
        self.samples.append(int(samples_seen))
        if len(self.samples) > self.max_snapshots:
            keep = sorted(set(range(0, len(self.samples) - 1, 2)) | {len(self.samples) - 1})
            self.samples = [self.samples[i] for i in keep]
            for k in self.counts:
                self.counts[k] = [self.counts[k][i] for i in keep]
            self.every_samples *= 2

    def first_middle_last(self) -> List[int]:
        n = len(self.samples)
        return sorted({0, n // 2, n - 1}) if n else []

    def state_dict(self) -> Dict[str, Any]:
        return {"bins": self.bins, "every_samples": self.every_samples, "max_snapshots": self.max_snapshots,
                "samples": np.asarray(self.samples, np.int64), "next": self._next,
                "edges": {k: v.copy() for k, v in self.edges.items()},
                "counts": {k: (np.stack(v) if v else np.zeros((0, self.bins), np.int64)) for k, v in self.counts.items()}}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.bins, self.every_samples = int(state["bins"]), int(state["every_samples"])
        self.max_snapshots, self._next = int(state["max_snapshots"]), int(state["next"])
        self.samples = [int(s) for s in np.asarray(state["samples"])]
        self.edges = {k: np.asarray(v, float) for k, v in state["edges"].items()}
        self.counts = {k: [np.asarray(r, np.int64) for r in np.asarray(v)] for k, v in state["counts"].items()}
