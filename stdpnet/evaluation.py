"""Evaluation with learning off (SPEC section 9): accuracy, confusion matrix, silent-sample rate,
spikes per layer per sample, throughput."""
from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from .metrics import PassStats, confusion_matrix
from .training import Run, _progress_bar, make_stream, run_pass


def evaluate(run: Run, indices, source=None, progress: bool = False, record_first: bool = False) -> Dict[str, Any]:
    """Play ``indices`` of ``source`` (default: the run's data) through the network with learning off
    in every layer and the readout frozen (no learning, no resets); the stream continues the
    network's clock. Returns a JSON-able report; with ``record_first`` also ``raster`` (every spike
    of the first sample) for plotting."""
    source = source or run.source
    net = run.network
    learning = [l.params.learning for l in net.learning_layers]
    net.set_learning(False)
    captured: Dict[str, Any] = {}

    def keep_first(result, chunk):
        if result.record is not None and "raster" not in captured:
            captured["raster"] = {"record": result.record, "start_tick": chunk.start_tick,
                                  "n_ticks": chunk.n_ticks, "label": int(np.max(chunk.label))}

    try:
        _, chunks = make_stream(source, indices, net, run.config["training"])
        stats = PassStats([l.name for l in net.learning_layers])
        bar = _progress_bar(len(indices), "eval", progress)
        outcomes, _ = run_pass(net, run.readout, chunks, False, stats, None, bar,
                               on_result=keep_first, record_chunks=1 if record_first else 0)
        last = run.readout.flush(net)
        stats.samples += len(last)
        outcomes += last
        if bar is not None:
            bar.close()
    finally:
        for layer, on in zip(net.learning_layers, learning):
            layer.set_learning(on)
    n = len(outcomes)
    correct = sum(o.correct for o in outcomes)
    silent = sum(o.silent for o in outcomes)
    report = {
        "accuracy": correct / n if n else 0.0,
        "samples": n,
        "correct": int(correct),
        "silent": int(silent),
        "silent_rate": silent / n if n else 0.0,
        "confusion": confusion_matrix(outcomes, run.n_classes).tolist(),
        "confusion_columns": "predicted class 0..n-1, then silent",
        **{k: v for k, v in stats.summary(net.dt_us).items() if k != "samples"},
    }
    if "raster" in captured:
        report["raster"] = captured["raster"]
    return report
