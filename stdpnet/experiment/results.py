"""Flat results: one row per run, in ``RUN_DIR/results.csv`` (and one row per seed in a multi-seed
``OUT/results.csv``), which ``pandas.read_csv`` reads as is (a header line, one value per cell, an
empty cell for "not measured").

Columns (:data:`COLUMNS`, then three per learning layer):

- ``run`` (directory name), ``run_dir``, ``status`` (``done`` | ``interrupted``), ``net``, ``data``,
  ``readout``, ``epochs``, ``seed``, ``train_samples``, ``val_samples``;
- ``val_accuracy``, ``val_silent_rate`` (fraction of validation samples with no decision),
  ``running_accuracy`` (last 1,000 training samples), ``test_accuracy``;
- ``train_events_per_s``, ``infer_events_per_s`` (input events per second of simulator wall time,
  training and validation), ``train_realtime_factor``, ``infer_realtime_factor``;
- ``train_synops_per_sample``, ``infer_synops_per_sample`` (synaptic operations per sample, all
  layers); ``train_wall_s``, ``infer_wall_s``, ``compile_s`` (seconds; compile time is in no other
  figure); ``peak_rss_mb``;
- per layer L: ``L_learning_spikes``, ``L_inference_spikes`` (per training sample) and
  ``L_val_inference_spikes`` (per validation sample).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

RESULTS_FILE = "results.csv"

COLUMNS = ("run", "run_dir", "status", "net", "data", "readout", "epochs", "seed", "train_samples", "val_samples",
           "val_accuracy", "val_silent_rate", "running_accuracy", "test_accuracy", "train_events_per_s",
           "infer_events_per_s", "train_realtime_factor", "infer_realtime_factor", "train_synops_per_sample",
           "infer_synops_per_sample", "train_wall_s", "infer_wall_s", "compile_s", "peak_rss_mb")


def _synops(spikes: Optional[Dict[str, Dict[str, float]]]) -> Optional[float]:
    return None if not spikes else float(sum(s["synops"] for s in spikes.values()))


def results_row(summary: Dict[str, Any]) -> Dict[str, Any]:
    """The flat row of a training summary (as :func:`stdpnet.experiment.protocol.train` returns it)."""
    train = summary.get("train") or {}
    val = summary.get("validation") or {}
    test = summary.get("test") or {}
    run_dir = Path(summary["run_dir"])
    row: Dict[str, Any] = {
        "run": run_dir.name, "run_dir": str(run_dir), "status": "interrupted" if summary.get("interrupted") else "done",
        "net": summary.get("network"), "data": summary.get("data"), "readout": summary.get("readout"),
        "epochs": summary.get("epochs"), "seed": summary.get("seed"), "train_samples": summary.get("train_samples"),
        "val_samples": summary.get("val_samples"),
        "val_accuracy": val.get("accuracy"), "val_silent_rate": val.get("silent_rate"),
        "running_accuracy": summary.get("running_accuracy"), "test_accuracy": test.get("accuracy"),
        "train_events_per_s": train.get("events_per_s"), "infer_events_per_s": val.get("events_per_s"),
        "train_realtime_factor": train.get("realtime_factor"), "infer_realtime_factor": val.get("realtime_factor"),
        "train_synops_per_sample": _synops(train.get("spikes_per_sample")),
        "infer_synops_per_sample": _synops(val.get("spikes_per_sample")),
        "train_wall_s": train.get("wall_s"), "infer_wall_s": val.get("wall_s"), "compile_s": summary.get("compile_s"),
        "peak_rss_mb": max([v for v in (train.get("peak_rss_mb"), val.get("peak_rss_mb")) if v is not None],
                           default=None),
    }
    val_spikes = val.get("spikes_per_sample") or {}
    for name, s in (train.get("spikes_per_sample") or {}).items():
        row[f"{name}_learning_spikes"] = s["learning"]
        row[f"{name}_inference_spikes"] = s["inference"]
        row[f"{name}_val_inference_spikes"] = val_spikes.get(name, {}).get("inference")
    return row


def csv_text(rows: Sequence[Dict[str, Any]]) -> str:
    """``rows`` as CSV text: :data:`COLUMNS` first, then every other key in order of appearance;
    ``None`` is an empty cell."""
    columns: List[str] = [c for c in COLUMNS if any(c in r for r in rows)]
    for r in rows:
        columns += [k for k in r if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r[k]) for k in columns})
    return buf.getvalue()
