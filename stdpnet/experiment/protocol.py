"""Protocols (SPEC section 9): train online, label (spike-count readout), evaluate.

Train: one continuous stream of the training samples (``epochs`` passes, each in a fresh seeded
order), learning on in every layer at once, no reset between samples; the readout learns online at
the same time (its test-then-train decisions give the running accuracy). Periodic checkpoints
(every ``checkpoint_every_samples`` samples and/or ``checkpoint_every_s`` seconds) and a checkpoint
at every stop (SIGINT, SIGTERM, SIGHUP: the chunk under way is finished first) make
:func:`resume` continue bit for bit where the last checkpoint stood. Then, for the spike-count
readout, a labelling pass with learning off; then the validation samples (and ``test_source``)
are evaluated with learning off. An unlabelled source trains features only (no readout).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from streams.events import EventStreamError

from ..errors import ConfigError, RunDirError, SourceError
from ..metrics import PassStats
from ..sources import check_fits
from .config import RunConfig
from .loop import OutcomeTally, StopRequest, close_pass, learning_off, make_stream, progress_bar, run_pass
from .rundir import EVAL_FILE, METRICS_FILE
from .run import Run, open_run_source

UNLABELLED_NOTE = "unlabelled source: features learned, no readout"
RECORD_SAMPLES = 20  # evaluation samples whose spikes are recorded for the figures


def train(config: RunConfig, out_dir, *, source: Any = None, progress: bool = False, make_plots: bool = True,
          stop_after_samples: Optional[int] = None) -> Dict[str, Any]:
    """Train a new run into ``out_dir`` (refused if it holds a run or is locked); returns the summary
    (also in ``metrics.json``; the validation report in ``eval.json``). ``summary["interrupted"]``
    is set when a signal (or ``stop_after_samples``, for tests) stopped it after saving."""
    run = Run.create(out_dir, config, source=source)
    try:
        return _carry_on(run, progress=progress, make_plots=make_plots, stop_after_samples=stop_after_samples)
    finally:
        run.close()


def resume(run_dir, *, on_bad: Optional[str] = None, source: Any = None, progress: bool = False,
           make_plots: bool = True, stop_after_samples: Optional[int] = None) -> Dict[str, Any]:
    """Continue the run in ``run_dir`` from its last checkpoint, with its saved configuration and
    split; the result is bit-identical to an uninterrupted run. ``on_bad`` may change how bad
    recordings are handled from here on; ``source``: the data set object of a run made from Python."""
    run = Run.open(run_dir, on_bad=on_bad, source=source)
    try:
        return _carry_on(run, progress=progress, make_plots=make_plots, stop_after_samples=stop_after_samples)
    finally:
        run.close()


def _summary(run: Run) -> Dict[str, Any]:
    cfg = run.config
    s = {"run_dir": str(run.dir.path), "network": run.network.spec.text, "data": run.source.text,
         "readout": cfg.readout.kind if run.readout is not None else None,
         "epochs": cfg.training.epochs, "train_samples": int(len(run.train_idx)),
         "val_samples": int(len(run.val_idx))}
    if run.readout is None:
        s["note"] = UNLABELLED_NOTE
    if run.split.notes:
        s["notes"] = list(run.split.notes)
    return s


def _carry_on(run: Run, *, progress: bool, make_plots: bool, stop_after_samples: Optional[int]) -> Dict[str, Any]:
    summary = _summary(run)
    stop = StopRequest()
    if run.phase == "train":
        stopped = _train_phase(run, stop, progress, stop_after_samples)
        summary["train"] = run.train_stats.summary(run.network.dt_us)
        summary["running_accuracy"] = run.accuracy.value if run.readout is not None else None
        if run.skipped:
            summary["skipped"] = _skipped_list(run)
        if stopped:
            summary["interrupted"] = True
            summary["stopped_by"] = stop.signal_name or "stop_after_samples"
            run.dir.write_json(METRICS_FILE, {**summary, "curve": run.accuracy.log})
            return summary
    if run.phase == "trained":
        if run.readout is not None and getattr(run.readout, "needs_label_pass", False):
            label_pass(run, progress=progress)
        run.phase = "done"
        run.save()
    summary.setdefault("train", run.train_stats.summary(run.network.dt_us))
    summary["running_accuracy"] = run.accuracy.value if run.readout is not None else None
    report = evaluate(run, run.val_idx, progress=progress, record_first=make_plots)
    raster = report.pop("raster", None)
    summary["validation"] = report if len(run.val_idx) else None
    if run.config.data.test_source:
        test = open_run_source(run.config, "train", run.config.data.test_source)
        check_fits(test, run.network)
        summary["test"] = evaluate(run, np.arange(len(test)), source=test, progress=progress)
    if run.skipped:
        summary["skipped"] = _skipped_list(run)
    run.dir.write_json(METRICS_FILE, {**summary, "curve": run.accuracy.log})
    run.dir.write_json(EVAL_FILE, report)
    if make_plots:
        summary["plots"] = [str(p) for p in write_run_figures(run, raster=raster, report=report)]
    return summary


def write_run_figures(run: Run, *, raster=None, report=None, fmt: str = "png", dpi: int = 150):
    """The figure set of a run (``stdpnet plot`` and the end of ``train``): features of every layer
    (silent maps marked, from the validation samples' activity), confusion, the raster of one
    validation sample, the learning curve with epoch boundaries and the validation point, and the
    weight histograms over training."""
    from ..viz.figures import map_activity, write_figures

    if report is None or (raster is None and len(run.val_idx)):
        report = evaluate(run, run.val_idx[:RECORD_SAMPLES], record_first=True)
        raster = report.pop("raster", None)
    title = f"{run.dir.path.name}: {run.network.spec.text}"
    log = run.accuracy.log
    curve = None
    if log and run.readout is not None:
        curve = {"samples": [e["samples"] for e in log], "accuracy": [e["running_accuracy"] for e in log],
                 "epoch_samples": len(run.train_idx), "n_epochs": run.config.training.epochs,
                 "window": run.accuracy.window}
        if report.get("accuracy") is not None and report.get("samples"):
            curve["validation"] = [(run.accuracy.samples, report["accuracy"])]
    r = None
    activity = None
    if raster is not None:
        raster = dict(raster)
        activity = map_activity(run.network, raster.pop("neuron_counts", {}))
        sample = raster.pop("sample", "?")
        r = {**raster, "title": f"{title}, validation sample {sample}"}
    return write_figures(run.dir.plots_dir, run.network, title,
                         confusion=report.get("confusion") if run.readout is not None else None,
                         raster=r, curve=curve, history=run.history, activity=activity,
                         n_classes=run.source.n_classes if run.source.labelled else None, fmt=fmt, dpi=dpi)


def _skipped_list(run: Run):
    ids = run.source.sample_ids
    return [{"index": i, "sample": ids[i] if ids is not None else i, "error": msg}
            for i, msg in sorted(run.skipped.items())]


def _train_phase(run: Run, stop: StopRequest, progress: bool, stop_after_samples: Optional[int]) -> bool:
    """The online training stream; returns True if stopped early (after saving)."""
    net, cfg = run.network, run.config
    # the training stream starts at tick 0; a resumed run replays it and skips what was done
    stream, chunks = make_stream(run.dataset, run.train_idx, net, gap_us=cfg.data.gap_us,
                                 epochs=cfg.training.epochs, shuffle=True, seed=cfg.seed, start_us=0)
    every_n, every_s = cfg.training.checkpoint_every_samples, cfg.training.checkpoint_every_s
    mark = {"samples": run.train_stats.samples, "time": time.monotonic()}
    run.history.every_samples = max(1, len(stream) // 16) if not run.history.samples else run.history.every_samples

    def periodic_checkpoint():
        n = run.train_stats.samples
        run.history.maybe_record(net, n)
        if (every_n and n - mark["samples"] >= every_n) or (every_s and time.monotonic() - mark["time"] >= every_s):
            run.save()
            mark["samples"], mark["time"] = n, time.monotonic()

    if stop_after_samples is not None:
        limit = int(stop_after_samples)
        should_stop = lambda: stop() or run.train_stats.samples >= limit  # noqa: E731
    else:
        should_stop = stop
    bar = progress_bar(len(stream), "train", progress)
    if bar is not None:
        bar.update(run.train_stats.samples)
    try:
        with stop.on_signals():
            stopped = run_pass(net, run.readout, chunks, learn=True, stats=run.train_stats, accuracy=run.accuracy,
                               progress=bar, should_stop=should_stop, skip_before_tick=net.now,
                               after_chunk=periodic_checkpoint)
    except EventStreamError as e:  # a bad recording with on_bad = "error": save what was learnt, stop
        run.save()
        raise SourceError(f"{e}; training stopped at the sample before it, checkpoint saved. Fix or remove the "
                          f"file, or continue with: stdpnet train --resume {run.dir.path} --on-bad skip") from None
    finally:
        if bar is not None:
            bar.close()
    if not stopped:
        close_pass(net, run.readout, stats=run.train_stats, accuracy=run.accuracy)
        run.history.record(net, run.train_stats.samples)
        run.phase = "trained"
    run.save()
    return stopped


def label_pass(run: Run, *, progress: bool = False) -> None:
    """Spike-count labelling: learning off, the training samples once, in order; the stream
    continues the network's clock."""
    net = run.network
    with learning_off(net):
        run.readout.start_label_pass()
        _, chunks = make_stream(run.dataset, run.train_idx, net, gap_us=run.config.data.gap_us)
        bar = progress_bar(len(run.train_idx), "label", progress)
        stats = PassStats(run.layer_names)
        run_pass(net, run.readout, chunks, learn=True, stats=stats, progress=bar)
        close_pass(net, run.readout, stats=stats)
        if bar is not None:
            bar.close()


def evaluate(run: Run, indices=None, *, source=None, progress: bool = False,
             record_first: bool = False) -> Dict[str, Any]:
    """Play ``indices`` of ``source`` (default: the run's data and validation split) with learning off
    in every layer and the readout frozen (no learning, no resets); the stream continues the
    network's clock. Returns a JSON-able report counting closed samples only: accuracy, confusion,
    silent rate, spikes per layer per sample, throughput; with ``record_first`` also ``raster``
    (every spike of the first sample)."""
    source = source or run.source
    indices = run.val_idx if indices is None else np.asarray(indices, np.int64)
    net = run.network
    dataset = run.dataset if source is run.source else source.dataset
    readout = run.readout if source.labelled else None
    captured: Dict[str, Any] = {}
    counts = {l.name: np.zeros(l.n_neurons, np.int64) for l in net.learning_layers}

    def keep_first(result, chunk):
        if result.record is None:
            return
        rec = result.record
        for li, layer in enumerate(net.learning_layers):  # activity of the recorded samples, per neuron
            sel = (rec[:, 1] == li) & (rec[:, 2] == 1)
            counts[layer.name] += np.bincount(rec[sel, 3], minlength=layer.n_neurons)
        if "raster" not in captured:
            first = int(chunk.sample[0])
            ticks = np.flatnonzero(chunk.sample == first)
            n = int(ticks[-1]) + 1 if len(ticks) else chunk.n_ticks
            captured["raster"] = {"record": rec, "start_tick": chunk.start_tick, "n_ticks": n,
                                  "events": chunk.events[:chunk.offsets[n]].copy(),
                                  "sample_start_us": chunk.start_tick * chunk.dt_us,
                                  "true_label": int(chunk.label[0]) if chunk.label[0] >= 0 else None,
                                  "sample": int(indices[first]) if 0 <= first < len(indices) else first,
                                  "neuron_counts": counts}

    stats = PassStats(run.layer_names)
    tally = OutcomeTally(max(run.source.n_classes, source.n_classes))
    with learning_off(net):
        _, chunks = make_stream(dataset, indices, net, gap_us=run.config.data.gap_us)
        bar = progress_bar(len(indices), "eval", progress)
        try:
            run_pass(net, readout, chunks, learn=False, stats=stats, tally=tally, progress=bar,
                     on_result=keep_first, record_chunks=RECORD_SAMPLES if record_first else 0)
            close_pass(net, readout, stats=stats, tally=tally)
        finally:
            if bar is not None:
                bar.close()
    report: Dict[str, Any] = {"data": source.text}
    if readout is not None:
        report.update(tally.report())
    else:
        report.update({"readout": None, "note": UNLABELLED_NOTE})
    report.update({k: v for k, v in stats.summary(net.dt_us).items() if k != "samples" or readout is None})
    if "raster" in captured:
        report["raster"] = captured["raster"]
        if tally.first is not None:
            report["raster"]["predicted"] = tally.first.predicted
    return report


def _is_live_run(run_dir) -> bool:
    from .rundir import RunDir

    d = RunDir.open(run_dir, lock=False)
    try:
        return d.load_split().fingerprint.get("kind") == "live"
    except RunDirError:
        return False
    finally:
        d.close()


def evaluate_run(run_dir, *, data: Optional[str] = None, max_samples: Optional[int] = None,
                 progress: bool = False, source: Any = None) -> Dict[str, Any]:
    """``stdpnet eval``: the run's stored validation split (or all samples of ``data``, another
    SOURCE), at most ``max_samples`` of them, with learning off. Nothing in the run is changed.
    ``source``: the data set object of a run made from Python."""
    if source is None and data is not None and _is_live_run(run_dir):
        source = data  # a live run is evaluated on the recorded data given
    run = Run.open(run_dir, lock=False, source=source)
    try:
        if run.phase == "train":
            raise RunDirError(f"{run.dir.path} has not finished training; continue it with "
                              f"stdpnet train --resume {run.dir.path}")
        if run.split.fingerprint.get("kind") == "live":
            source, indices = run.source, np.arange(len(run.source), dtype=np.int64)
        elif data is None or data == run.config.data.source:
            source, indices = run.source, run.val_idx
            if len(indices) == 0:
                raise ConfigError(f"{run.dir.path} held out no validation samples; pass --data SOURCE")
        else:
            source = open_run_source(run.config, "eval", data)
            check_fits(source, run.network)
            indices = np.arange(len(source), dtype=np.int64)
        if max_samples is not None:
            indices = indices[: int(max_samples)]
        report = evaluate(run, indices, source=source, progress=progress)
        report["run_dir"] = str(Path(run.dir.path))
        if run.split.notes:
            report["notes"] = list(run.split.notes)
        return report
    finally:
        run.close()
