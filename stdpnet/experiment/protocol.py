"""Protocols (SPEC section 9): train online, label (spike-count readout), evaluate.

Train: one continuous stream of the training samples (``epochs`` passes, each in a fresh seeded
order), learning on in every layer at once, no reset between samples; the readout learns online at
the same time (its test-then-train decisions give the running accuracy). Periodic checkpoints
(every ``checkpoint_every_samples`` samples and/or ``checkpoint_every_s`` seconds) and a checkpoint
at every stop (SIGINT, SIGTERM, SIGHUP: the chunk under way is finished first) make
:func:`resume` continue bit for bit where the last checkpoint stood. Then, for the spike-count
readout, a labelling pass with learning off; then the validation samples (and ``test_source``)
are evaluated with learning off. An unlabelled source trains features only (no readout).

Evaluation (learning off, readout frozen) is defined in **shards**: the evaluated samples are cut,
in order, into shards of ``shard_samples`` consecutive samples (:data:`EVAL_SHARD_SAMPLES` by
default; the last shard may be shorter), and every shard starts from the trained state (network
and readout state as saved in the checkpoint, the clock at the trained tick); within a shard, state
carries from one sample to the next with no reset (SPEC). Shard boundaries depend only on the
number of samples and ``shard_samples``, never on the number of worker processes, so
``evaluate(..., workers=N)`` gives the same accuracy, confusion and spike counts for every ``N``:
``N`` only changes which process plays which shard. ``shard_samples=0`` makes one shard of all
samples (one continuous stream; no parallelism possible).

Feedback: before anything is timed, the kernels are warmed up (:mod:`.warmup`; a cold numba cache
is announced); bars and notes go to a :class:`~stdpnet.experiment.loop.Progress`; the run's story
goes to ``run.log`` (:mod:`.runlog`) and its flat results to ``results.csv`` (:mod:`.results`).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from streams.events import EventStreamError

from ..errors import ConfigError, RunDirError, SourceError
from ..metrics import PassStats
from ..sources import check_fits
from .config import RunConfig
from .loop import (OutcomeTally, Progress, StopRequest, as_progress, close_bar, close_pass, learning_off, make_stream,
                   run_pass)
from .results import RESULTS_FILE, csv_text, results_row
from .rundir import EVAL_FILE, METRICS_FILE, write_atomic
from .run import Run, open_run_source
from .runlog import LOG_FILE, RunLog, start_line, summary_lines
from .warmup import warm_up_kernels

UNLABELLED_NOTE = "unlabelled source: features learned, no readout"
RECORD_SAMPLES = 20  # evaluation samples whose spikes are recorded for the figures
#: Samples per evaluation shard (see the module docstring): each shard starts from the trained state.
EVAL_SHARD_SAMPLES = 20

ProgressLike = Union[bool, None, Progress]


def train(config: RunConfig, out_dir, *, source: Any = None, progress: ProgressLike = False, make_plots: bool = True,
          stop_after_samples: Optional[int] = None, stop_when: Optional[Callable[[], bool]] = None,
          eval_workers: int = 1) -> Dict[str, Any]:
    """Train a new run into ``out_dir`` (refused if it holds a run or is locked); returns the summary
    (also in ``metrics.json``; the validation report in ``eval.json``; one flat row in
    ``results.csv``; the story in ``run.log``). ``summary["interrupted"]`` is set when a signal,
    ``stop_when()`` turning true, or ``stop_after_samples`` (for tests) stopped it after saving.
    ``progress``: True (bars on the terminal), False, or a :class:`Progress`. ``eval_workers``:
    worker processes for the final evaluation (the result does not depend on it)."""
    run = Run.create(out_dir, config, source=source)
    try:
        return _carry_on(run, progress=as_progress(progress), make_plots=make_plots,
                         stop_after_samples=stop_after_samples, stop_when=stop_when, eval_workers=eval_workers)
    finally:
        run.close()


def resume(run_dir, *, on_bad: Optional[str] = None, source: Any = None, progress: ProgressLike = False,
           make_plots: bool = True, stop_after_samples: Optional[int] = None,
           stop_when: Optional[Callable[[], bool]] = None, eval_workers: int = 1) -> Dict[str, Any]:
    """Continue the run in ``run_dir`` from its last checkpoint, with its saved configuration and
    split; the result is bit-identical to an uninterrupted run. ``on_bad`` may change how bad
    recordings are handled from here on; ``source``: the data set object of a run made from Python."""
    run = Run.open(run_dir, on_bad=on_bad, source=source)
    try:
        return _carry_on(run, progress=as_progress(progress), make_plots=make_plots,
                         stop_after_samples=stop_after_samples, stop_when=stop_when, eval_workers=eval_workers)
    finally:
        run.close()


def _summary(run: Run) -> Dict[str, Any]:
    cfg = run.config
    s = {"run_dir": str(run.dir.path), "network": run.network.spec.text, "data": run.source.text,
         "readout": cfg.readout.kind if run.readout is not None else None,
         "epochs": cfg.training.epochs, "seed": cfg.seed, "train_samples": int(len(run.train_idx)),
         "val_samples": int(len(run.val_idx))}
    if run.readout is None:
        s["note"] = UNLABELLED_NOTE
    if run.split.notes:
        s["notes"] = list(run.split.notes)
    return s


def _carry_on(run: Run, *, progress: Progress, make_plots: bool, stop_after_samples: Optional[int],
              stop_when: Optional[Callable[[], bool]], eval_workers: int) -> Dict[str, Any]:
    log = RunLog(run.dir.path / LOG_FILE, echo=progress.note)
    with log.capturing_warnings():
        try:
            return _carry_on_logged(run, log, progress=progress, make_plots=make_plots,
                                    stop_after_samples=stop_after_samples, stop_when=stop_when,
                                    eval_workers=eval_workers)
        except KeyboardInterrupt:
            log.info("interrupted (a second Ctrl-C): continue from the last checkpoint with  "
                     f"stdpnet train --resume {run.dir.path}", echo=False)
            raise
        except Exception as e:
            log.info(f"error: {' '.join(str(e).split()) or type(e).__name__}", echo=False)
            raise


def _carry_on_logged(run: Run, log: RunLog, *, progress: Progress, make_plots: bool,
                     stop_after_samples: Optional[int], stop_when: Optional[Callable[[], bool]],
                     eval_workers: int) -> Dict[str, Any]:
    summary = _summary(run)
    done = run.train_stats.samples
    if run.phase != "train" or done:
        log.info(f"resuming {start_line(summary)}, at training sample {done} ({run.phase})")
    else:
        log.info(start_line(summary))
    # before any timing, and before any bar; only the run's own precision (memory)
    warm = warm_up_kernels(announce=log.info, precision=run.network.precision)
    summary.update(warm.to_dict())
    if warm.compile_s:
        log.info(f"kernels ready in {warm.compile_s:.1f} s "
                 f"({'from numba disk cache' if warm.from_cache else 'compiled'})", echo=False)
    stop = StopRequest()
    if run.phase == "train":
        stopped = _train_phase(run, stop, progress, log, stop_after_samples, stop_when)
        summary["train"] = run.train_stats.summary(run.network.dt_us)
        summary["running_accuracy"] = run.accuracy.value if run.readout is not None else None
        if run.skipped:
            summary["skipped"] = _skipped_list(run)
        if stopped:
            summary["interrupted"] = True
            summary["stopped_by"] = stop.signal_name or ("stop request" if stop_when and stop_when()
                                                          else "stop_after_samples")
            summary["log"] = str(log.path)
            run.dir.write_json(METRICS_FILE, {**summary, "curve": run.accuracy.log})
            log.lines(summary_lines(summary))
            return summary
    if run.phase == "trained":
        if run.readout is not None and getattr(run.readout, "needs_label_pass", False):
            log.info("labelling pass (learning off) over the training samples", echo=False)
            label_pass(run, progress=progress)
        run.phase = "done"
        run.save()
    summary.setdefault("train", run.train_stats.summary(run.network.dt_us))
    summary["running_accuracy"] = run.accuracy.value if run.readout is not None else None
    report = evaluate(run, run.val_idx, progress=progress, record_first=make_plots, workers=eval_workers)
    raster = report.pop("raster", None)
    summary["validation"] = report if len(run.val_idx) else None
    if run.config.data.test_source:
        test = open_run_source(run.config, "train", run.config.data.test_source)
        check_fits(test, run.network)
        summary["test"] = evaluate(run, np.arange(len(test)), source=test, progress=progress, workers=eval_workers)
    if run.skipped:
        summary["skipped"] = _skipped_list(run)
    summary["results_csv"] = str(run.dir.path / RESULTS_FILE)
    summary["log"] = str(log.path)
    run.dir.write_json(METRICS_FILE, {**summary, "curve": run.accuracy.log})
    run.dir.write_json(EVAL_FILE, report)
    write_atomic(run.dir.path / RESULTS_FILE, csv_text([results_row(summary)]).encode())
    if make_plots:
        summary["plots"] = [str(p) for p in write_run_figures(run, raster=raster, report=report)]
    log.lines(summary_lines(summary))
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


def _train_phase(run: Run, stop: StopRequest, progress: Progress, log: RunLog, stop_after_samples: Optional[int],
                 stop_when: Optional[Callable[[], bool]]) -> bool:
    """The online training stream; returns True if stopped early (after saving)."""
    net, cfg = run.network, run.config
    # the training stream starts at tick 0; a resumed run replays it and skips what was done
    stream, chunks = make_stream(run.dataset, run.train_idx, net, gap_us=cfg.data.gap_us,
                                 epochs=cfg.training.epochs, shuffle=True, seed=cfg.seed, start_us=0)
    every_n, every_s = cfg.training.checkpoint_every_samples, cfg.training.checkpoint_every_s
    mark = {"samples": run.train_stats.samples, "time": time.monotonic(), "skipped": len(run.skipped)}
    run.history.every_samples = max(1, len(stream) // 16) if not run.history.samples else run.history.every_samples
    per_epoch, epochs = max(1, len(run.train_idx)), cfg.training.epochs
    epochs_done = {"n": min(run.train_stats.samples // per_epoch, epochs)}

    def epoch_line(k: int) -> str:
        s = run.train_stats
        acc = f", running accuracy {run.accuracy.value:.3f}" if run.readout is not None else ""
        return (f"epoch {k}/{epochs} done: {s.samples} samples{acc}, "
                f"{s.events / max(s.wall_s, 1e-9):,.0f} events/s")

    def after_chunk():
        n = run.train_stats.samples
        run.history.maybe_record(net, n)
        if (every_n and n - mark["samples"] >= every_n) or (every_s and time.monotonic() - mark["time"] >= every_s):
            run.save()
            log.info(f"checkpoint saved at training sample {n}", echo=False)
            mark["samples"], mark["time"] = n, time.monotonic()
        if len(run.skipped) != mark["skipped"]:
            for i, msg in sorted(run.skipped.items())[mark["skipped"]:]:
                log.warning(f"skipped bad sample {i}: {msg}")
            mark["skipped"] = len(run.skipped)
        k = min(n // per_epoch, epochs)
        if k > epochs_done["n"] and k < epochs:  # the last epoch ends in close_pass
            epochs_done["n"] = k
            log.info(epoch_line(k), echo=epochs > 1)
            if bar is not None:
                bar.set_description(f"train epoch {k + 1}/{epochs}")

    def should_stop() -> bool:
        return (stop() or (stop_when is not None and stop_when())
                or (stop_after_samples is not None and run.train_stats.samples >= int(stop_after_samples)))

    bar = progress.bar(len(stream), f"train epoch {min(epochs_done['n'] + 1, epochs)}/{epochs}",
                       initial=run.train_stats.samples)
    try:
        with stop.on_signals():
            stopped = run_pass(net, run.readout, chunks, learn=True, stats=run.train_stats, accuracy=run.accuracy,
                               progress=bar, should_stop=should_stop, skip_before_tick=net.now,
                               after_chunk=after_chunk)
            if not stopped:
                close_pass(net, run.readout, stats=run.train_stats, accuracy=run.accuracy, progress=bar)
    except EventStreamError as e:  # a bad recording with on_bad = "error": save what was learnt, stop
        run.save()
        raise SourceError(f"{e}; training stopped at the sample before it, checkpoint saved. Fix or remove the "
                          f"file, or continue with: stdpnet train --resume {run.dir.path} --on-bad skip") from None
    finally:
        close_bar(bar)
    if not stopped:
        run.history.record(net, run.train_stats.samples)
        run.phase = "trained"
        log.info(epoch_line(epochs), echo=epochs > 1)
    run.save()
    if stopped:
        log.info(f"stopped ({stop.signal_name or 'on request'}) at training sample {run.train_stats.samples}: "
                 "checkpoint saved", echo=False)
    return stopped


def label_pass(run: Run, *, progress: ProgressLike = False) -> None:
    """Spike-count labelling: learning off, the training samples once, in order; the stream
    continues the network's clock."""
    net = run.network
    with learning_off(net):
        run.readout.start_label_pass()
        _, chunks = make_stream(run.dataset, run.train_idx, net, gap_us=run.config.data.gap_us)
        bar = as_progress(progress).bar(len(run.train_idx), "label")
        stats = PassStats(run.layer_names)
        try:
            run_pass(net, run.readout, chunks, learn=True, stats=stats, progress=bar)
            close_pass(net, run.readout, stats=stats, progress=bar)
        finally:
            close_bar(bar)


# ---------------------------------------------------------------------------------------------
# evaluation in shards (see the module docstring)
# ---------------------------------------------------------------------------------------------
def shard_bounds(n_samples: int, shard_samples: int = EVAL_SHARD_SAMPLES) -> List[Tuple[int, int]]:
    """``[(start, stop), ...]`` of consecutive shards of ``shard_samples`` samples covering
    ``range(n_samples)`` (the last may be shorter); ``shard_samples = 0``: one shard."""
    if isinstance(shard_samples, bool) or int(shard_samples) != shard_samples or shard_samples < 0:
        raise ConfigError(f"shard_samples must be a whole number >= 0 (0: one shard), got {shard_samples!r}")
    k = int(shard_samples) or max(int(n_samples), 1)
    return [(a, min(a + k, int(n_samples))) for a in range(0, int(n_samples), k)]


def _snapshot(run: Run) -> Dict[str, Any]:
    """The state every shard starts from (state dicts are copies)."""
    return {"network": run.network.state_dict(),
            "readout": run.readout.state_dict() if run.readout is not None else None}


def _restore(run: Run, snapshot: Dict[str, Any]) -> None:
    # load_state_dict copies into the live arrays, so the snapshot itself is never modified
    run.network.load_state_dict(snapshot["network"])
    if run.readout is not None and snapshot["readout"] is not None:
        run.readout.load_state_dict(snapshot["readout"])


class _Recorder:
    """Spikes of the first evaluated samples, for the figures: per-neuron inference counts of every
    recorded chunk, and the raster of the first sample."""

    def __init__(self, net, indices: np.ndarray):
        self.net, self.indices = net, indices
        self.counts = {l.name: np.zeros(l.n_neurons, np.int64) for l in net.learning_layers}
        self.raster: Optional[Dict[str, Any]] = None

    def __call__(self, result, chunk) -> None:
        if result.record is None:
            return
        rec = result.record
        for li, layer in enumerate(self.net.learning_layers):
            sel = (rec[:, 1] == li) & (rec[:, 2] == 1)
            self.counts[layer.name] += np.bincount(rec[sel, 3], minlength=layer.n_neurons)
        if self.raster is None:
            first = int(chunk.sample[0])
            ticks = np.flatnonzero(chunk.sample == first)
            n = int(ticks[-1]) + 1 if len(ticks) else chunk.n_ticks
            self.raster = {"record": rec, "start_tick": chunk.start_tick, "n_ticks": n,
                           "events": chunk.events[:chunk.offsets[n]].copy(),
                           "sample_start_us": chunk.start_tick * chunk.dt_us,
                           "true_label": int(chunk.label[0]) if chunk.label[0] >= 0 else None,
                           "sample": int(self.indices[first]) if 0 <= first < len(self.indices) else first}


def _play_shard(run: Run, snapshot: Dict[str, Any], source, indices: np.ndarray, n_classes: int, *,
                record_chunks: int = 0, bar=None) -> Dict[str, Any]:
    """One shard: restore the trained state, play ``indices`` of ``source`` with learning off and the
    readout frozen, close the last sample. Returns the shard's tally, stats and recording."""
    net = run.network
    dataset = run.dataset if source is run.source else source.dataset
    readout = run.readout if source.labelled else None
    _restore(run, snapshot)  # first: it also restores each layer's learning flag
    stats = PassStats(run.layer_names)
    tally = OutcomeTally(n_classes)
    recorder = _Recorder(net, indices) if record_chunks else None
    with learning_off(net):
        _, chunks = make_stream(dataset, indices, net, gap_us=run.config.data.gap_us)
        run_pass(net, readout, chunks, learn=False, stats=stats, tally=tally, progress=bar,
                 on_result=recorder, record_chunks=record_chunks)
        close_pass(net, readout, stats=stats, tally=tally, progress=bar)
    return {"tally": tally, "stats": stats, "counts": recorder.counts if recorder else None,
            "raster": recorder.raster if recorder else None}


def _merge_shards(parts: List[Dict[str, Any]], layer_names, n_classes: int):
    stats, tally = PassStats(layer_names), OutcomeTally(n_classes)
    counts, raster = None, None
    for part in parts:
        s, t = part["stats"], part["tally"]
        stats.samples += s.samples
        stats.add_chunk(s.events, s.ticks, s.wall_s, s.counts)
        if tally.first is None:
            tally.first = t.first
        tally.samples += t.samples
        tally.correct += t.correct
        tally.silent += t.silent
        tally.confusion += t.confusion
        if part["counts"] is not None:
            counts = part["counts"] if counts is None else {k: counts[k] + part["counts"][k] for k in counts}
            raster = raster or part["raster"]
    if raster is not None:
        raster = {**raster, "neuron_counts": counts}
    return stats, tally, raster


def evaluate(run: Run, indices=None, *, source=None, progress: ProgressLike = False, record_first: bool = False,
             workers: int = 1, shard_samples: int = EVAL_SHARD_SAMPLES) -> Dict[str, Any]:
    """Play ``indices`` of ``source`` (default: the run's data and validation split) with learning off
    in every layer and the readout frozen (no learning, no resets), in shards that each start from
    the run's current (trained) state (module docstring); the run's state is the same afterwards.
    ``workers > 1``: the shards are played by that many worker processes, each of which opens the
    run directory read-only and restores its checkpoint (which must hold the run's current state:
    checked); the report is the same for any ``workers``.

    Returns a JSON-able report counting closed samples only: accuracy, confusion, silent rate,
    spikes per layer per sample, throughput (events per second of simulator time, summed over
    shards), ``elapsed_s`` (wall time of the whole evaluation), ``shard_samples``, ``workers``; with
    ``record_first`` also ``raster`` (every spike of the first sample)."""
    from .parallel import check_workers

    workers = check_workers(workers, "workers")
    progress = as_progress(progress)
    source = source or run.source
    indices = run.val_idx if indices is None else np.asarray(indices, np.int64)
    n_classes = max(run.source.n_classes, source.n_classes)
    bounds = shard_bounds(len(indices), shard_samples)
    warm_up_kernels(announce=progress.note, precision=run.network.precision)
    t0 = time.perf_counter()
    record = [max(0, RECORD_SAMPLES - a) if record_first else 0 for a, _ in bounds]
    if workers > 1 and len(bounds) > 1:
        from .parallel import FAST_START, run_jobs, state_fingerprint

        jobs = [(indices[a:b], rec) for (a, b), rec in zip(bounds, record)]
        init = (str(run.dir.path), _worker_source(run, run.source), None if source is run.source
                else _worker_source(run, source), n_classes, state_fingerprint(_snapshot(run)))
        parts = run_jobs(_eval_shard_job, jobs, workers=workers, initializer=_eval_worker_init, initargs=init,
                         progress=progress, desc="eval", total=len(indices), start_method=FAST_START)
    else:
        snapshot = _snapshot(run)
        bar = progress.bar(len(indices), "eval")
        try:
            parts = [_play_shard(run, snapshot, source, indices[a:b], n_classes, record_chunks=rec, bar=bar)
                     for (a, b), rec in zip(bounds, record)]
        finally:
            _restore(run, snapshot)
            close_bar(bar)
    stats, tally, raster = _merge_shards(parts, run.layer_names, n_classes)
    report: Dict[str, Any] = {"data": source.text}
    if source.labelled and run.readout is not None:
        report.update(tally.report())
    else:
        report.update({"readout": None, "note": UNLABELLED_NOTE})
    labelled = source.labelled and run.readout is not None
    report.update({k: v for k, v in stats.summary(run.network.dt_us).items() if k != "samples" or not labelled})
    report.update({"elapsed_s": round(time.perf_counter() - t0, 3), "shard_samples": int(shard_samples),
                   "workers": workers})
    if raster is not None:
        report["raster"] = raster
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


def _worker_source(run: Run, source) -> Any:
    """How a worker gets ``source`` back: its SOURCE text, or the data set object passed from Python."""
    if source.kind != "dataset":
        return source.text
    from streams.recordings import DatasetAdapter

    return source.dataset.dataset if isinstance(source.dataset, DatasetAdapter) else source.dataset


_EVAL_WORKER: Dict[str, Any] = {}


def _eval_worker_init(run_dir: str, run_source, other_source, n_classes: int, fingerprint: str) -> None:
    """Open the run read-only and restore its checkpoint (a worker of :func:`evaluate`). An error is
    kept and raised by every job, so it reaches the parent as the same exception."""
    from .parallel import state_fingerprint

    try:
        run = Run.open(run_dir, lock=False, source=run_source if not isinstance(run_source, str) else None)
        warm_up_kernels(precision=run.network.precision)
        source = run.source
        if isinstance(other_source, str):
            source = open_run_source(run.config, "eval", other_source)
        elif other_source is not None:
            source = _open_object(run, other_source)
        snapshot = _snapshot(run)
        if state_fingerprint(snapshot) != fingerprint:
            raise RunDirError(f"{run.dir.path}: its checkpoint does not hold the state being evaluated (saved since, "
                              "or never saved); evaluate with workers=1, or save the run first")
        _EVAL_WORKER.update(run=run, source=source, snapshot=snapshot, n_classes=n_classes, error=None)
    except BaseException as e:  # noqa: BLE001 - re-raised by every job
        _EVAL_WORKER.update(error=e)


def _open_object(run: Run, dataset):
    from ..sources import open_source

    return open_source(dataset, command="eval", seed=run.config.seed, window_us=run.config.data.window_us)


def _eval_shard_job(job) -> Dict[str, Any]:
    if _EVAL_WORKER.get("error") is not None:
        raise _EVAL_WORKER["error"]
    from .parallel import worker_progress

    indices, record_chunks = job
    w = _EVAL_WORKER
    bar = worker_progress().bar(None, "eval")
    part = _play_shard(w["run"], w["snapshot"], w["source"], indices, w["n_classes"], record_chunks=record_chunks,
                       bar=bar)
    return part


def evaluate_run(run_dir, *, data: Optional[str] = None, max_samples: Optional[int] = None,
                 progress: ProgressLike = False, source: Any = None, workers: int = 1,
                 shard_samples: int = EVAL_SHARD_SAMPLES) -> Dict[str, Any]:
    """``stdpnet eval``: the run's stored validation split (or all samples of ``data``, another
    SOURCE), at most ``max_samples`` of them, with learning off, in shards of ``shard_samples`` that
    each start from the trained state, on ``workers`` processes (same result for any number).
    Nothing in the run is changed. ``source``: the data set object of a run made from Python."""
    if source is None and data is not None and _is_live_run(run_dir):
        source = data  # a live run is evaluated on the recorded data given
    run = Run.open(run_dir, lock=False, source=source)
    try:
        if run.phase == "train":
            raise RunDirError(f"{run.dir.path} has not finished training; continue it with "
                              f"stdpnet train --resume {run.dir.path}")
        if run.split.fingerprint.get("kind") == "live":
            src, indices = run.source, np.arange(len(run.source), dtype=np.int64)
        elif data is None or data == run.config.data.source:
            src, indices = run.source, run.val_idx
            if len(indices) == 0:
                raise ConfigError(f"{run.dir.path} held out no validation samples; pass --data SOURCE")
        else:
            src = open_run_source(run.config, "eval", data)
            check_fits(src, run.network)
            indices = np.arange(len(src), dtype=np.int64)
        if max_samples is not None:
            indices = indices[: int(max_samples)]
        report = evaluate(run, indices, source=src, progress=progress, workers=workers, shard_samples=shard_samples)
        report["run_dir"] = str(Path(run.dir.path))
        if run.split.notes:
            report["notes"] = list(run.split.notes)
        return report
    finally:
        run.close()
