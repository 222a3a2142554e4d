"""Several seeds of one configuration, one command (``stdpnet train --seeds 0,1,2`` or ``--repeat N``).

The seed chooses the train/validation split, the initial weights and the sample order (and the
synthetic data), so ``OUT/seed-<s>/`` is exactly the run ``stdpnet train --seed s --out
OUT/seed-<s>`` would make. Next to the run directories, ``OUT`` holds:

- ``seeds.json``: the configuration and the seeds (``--resume OUT`` takes them back);
- ``summary.json``: mean and sample standard deviation (``ddof = 1``; 0 for one seed) over the
  seeds of the validation accuracy, silent rate, running accuracy, test accuracy and throughput,
  plus the per-seed table;
- ``results.csv``: one row per seed (the runs' own ``results.csv`` rows, see :mod:`.results`);
- ``run.log``: what the command printed, with timestamps.

Seeds run one after the other, or on ``workers`` processes at once (the kernels are
single-threaded); every run is deterministic, so the results are identical either way. A stop
(Ctrl-C, SIGTERM, SIGHUP) stops every seed after its current chunk, each saving its checkpoint;
``resume_seeds`` (``stdpnet train --resume OUT``) then resumes unfinished seeds and reuses
finished ones.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from ..errors import ConfigError, RunDirError
from .config import RunConfig
from .loop import Progress, StopRequest, TerminalProgress, as_progress
from .results import RESULTS_FILE, csv_text, results_row
from .rundir import CONFIG_FILE, METRICS_FILE, RunDir, write_atomic
from .runlog import LOG_FILE, RunLog
from .warmup import warm_up_kernels

SEEDS_FILE = "seeds.json"
SUMMARY_FILE = "summary.json"
#: Figures averaged over the seeds: ``summary.json["metrics"][key]``, from the runs' flat rows.
AVERAGED = ("val_accuracy", "val_silent_rate", "running_accuracy", "test_accuracy", "train_events_per_s",
            "infer_events_per_s", "train_wall_s")


def parse_seeds(text: str) -> List[int]:
    """``"0,1,2"`` or ranges ``"0-4"`` (inclusive), or both (``"0-2,7"``): distinct seeds >= 0, in order."""
    seeds: List[int] = []
    for part in str(text).split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ConfigError(f"--seeds takes whole numbers >= 0 separated by commas, or ranges like 0-4; "
                              f"got {part!r} in {text!r}")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ConfigError(f"--seeds: the range {part!r} runs backwards; write {hi}-{lo}")
        seeds += [s for s in range(lo, hi + 1) if s not in seeds]
    return seeds


def seed_list(seeds: Optional[str] = None, repeat: Optional[int] = None, first: int = 0) -> Optional[List[int]]:
    """The seeds of ``--seeds TEXT`` or ``--repeat N`` (``first, first + 1, ...``); None if neither."""
    if seeds is not None and repeat is not None:
        raise ConfigError("--seeds and --repeat both choose the seeds; give one of them")
    if seeds is not None:
        return parse_seeds(seeds)
    if repeat is not None:
        if isinstance(repeat, bool) or int(repeat) != repeat or repeat < 1:
            raise ConfigError(f"--repeat must be a whole number >= 1, got {repeat!r}")
        return list(range(int(first), int(first) + int(repeat)))
    return None


def is_seeds_dir(path) -> bool:
    """Whether ``path`` holds several seeds of one configuration (made by :func:`train_seeds`)."""
    return (Path(path) / SEEDS_FILE).is_file()


def seed_dir(out_dir, seed: int) -> Path:
    return Path(out_dir) / f"seed-{int(seed)}"


# ---------------------------------------------------------------------------------------------
# one seed (in this process or in a worker)
# ---------------------------------------------------------------------------------------------
def _finished_summary(run_dir: Path) -> Optional[Dict[str, Any]]:
    """The stored summary of a finished run (``None`` if it is not finished)."""
    metrics = run_dir / METRICS_FILE
    if not (metrics.is_file() and (run_dir / RESULTS_FILE).is_file()):
        return None
    try:
        summary = json.loads(metrics.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if summary.get("interrupted"):
        return None
    summary.pop("curve", None)
    return summary


def run_seed(config: RunConfig, seed: int, run_dir, *, progress: Progress, make_plots: bool,
             stop_when: Optional[Callable[[], bool]] = None) -> Dict[str, Any]:
    """Train ``config`` with ``seed`` into ``run_dir``; resume it if it was stopped, or return its
    stored summary if it is finished (``"reused": True``)."""
    from .protocol import resume, train

    run_dir = Path(run_dir)
    done = _finished_summary(run_dir)
    if done is not None:
        return {**done, "reused": True}
    if (run_dir / CONFIG_FILE).exists():
        return resume(run_dir, progress=progress, make_plots=make_plots, stop_when=stop_when)
    return train(replace(config, seed=int(seed)), run_dir, progress=progress, make_plots=make_plots,
                 stop_when=stop_when)


def _seed_job(job: Dict[str, Any]) -> Dict[str, Any]:
    """A worker's seed (see :func:`run_seed`); its bars and notes go to the parent."""
    from .parallel import worker_progress, worker_should_stop

    if worker_should_stop():  # stopped before this seed began: leave it for --resume
        return {"seed": job["seed"], "run_dir": job["dir"], "interrupted": True, "stopped_by": "not started"}
    config = RunConfig.from_dict(job["config"])
    return run_seed(config, job["seed"], job["dir"], progress=worker_progress(f"seed {job['seed']}: "),
                    make_plots=job["make_plots"], stop_when=worker_should_stop)


# ---------------------------------------------------------------------------------------------
# the whole set
# ---------------------------------------------------------------------------------------------
def train_seeds(config: RunConfig, out_dir, seeds: Sequence[int], *, workers: int = 1,
                progress: Any = False, make_plots: bool = True) -> Dict[str, Any]:
    """Run ``config`` once per seed into ``out_dir/seed-<s>/`` and summarise (module docstring).
    ``workers``: processes running seeds at once (the results do not depend on it)."""
    from .parallel import check_workers

    check_workers(workers)
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ConfigError(f"seeds must be distinct whole numbers >= 0, got {seeds!r}")
    out = Path(out_dir)
    if is_seeds_dir(out):
        raise RunDirError(f"{out} already holds several seeds; continue them with --resume {out}, "
                          "or choose another --out")
    if (out / CONFIG_FILE).exists():
        raise RunDirError(f"{out} already holds a single run; choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunDirError(f"cannot create {out}: {e.strerror or e}") from None
    RunDir(out).write_json(SEEDS_FILE, {"seeds": seeds, "config": config.to_dict(),
                                        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return _run_all(config, out, seeds, workers=workers, progress=as_progress(progress), make_plots=make_plots)


def resume_seeds(out_dir, *, workers: int = 1, progress: Any = False, make_plots: bool = True) -> Dict[str, Any]:
    """Continue the seeds in ``out_dir``: finished seeds are reused, stopped ones resumed, the others
    started; then the summary is written again."""
    from .parallel import check_workers

    check_workers(workers)
    out = Path(out_dir)
    if not is_seeds_dir(out):
        raise RunDirError(f"{out} holds no seeds ({SEEDS_FILE} missing)")
    saved = RunDir(out).read_json(SEEDS_FILE)
    config = RunConfig.from_dict(saved["config"], where=str(out / SEEDS_FILE))
    return _run_all(config, out, [int(s) for s in saved["seeds"]], workers=workers, progress=as_progress(progress),
                    make_plots=make_plots)


def _run_all(config: RunConfig, out: Path, seeds: List[int], *, workers: int, progress: Progress,
             make_plots: bool) -> Dict[str, Any]:
    log = RunLog(out / LOG_FILE, echo=progress.note)
    t0 = time.perf_counter()
    log.info(f"{len(seeds)} seed(s) {', '.join(map(str, seeds))} of {config.network.net} on {config.data.source}, "
             f"readout {config.readout.kind}, {config.training.epochs} epoch(s), {min(workers, len(seeds))} "
             f"worker process(es) -> {out}")
    warm_up_kernels(announce=log.info, precision=config.network.precision)  # once, here: workers then load the kernels from the disk cache
    stop = StopRequest()
    summaries: List[Dict[str, Any]] = []
    if workers > 1 and len(seeds) > 1:
        from .parallel import run_jobs

        jobs = [{"config": config.to_dict(), "seed": s, "dir": str(seed_dir(out, s)), "make_plots": make_plots}
                for s in seeds]
        todo = [s for s in seeds if _finished_summary(seed_dir(out, s)) is None]
        with stop.on_signals():
            summaries = run_jobs(_seed_job, jobs, workers=workers, progress=progress, desc=f"{len(seeds)} seeds",
                                 total=expected_samples(config, todo) if progress.enabled else None,
                                 should_stop=stop)
    else:
        for s in seeds:
            seed_progress = TerminalProgress(prefix=f"seed {s}: ") if isinstance(progress, TerminalProgress) \
                else progress
            summaries.append(run_seed(config, s, seed_dir(out, s), progress=seed_progress, make_plots=make_plots))
            if summaries[-1].get("interrupted"):
                break
    for s in summaries:
        acc = (s.get("validation") or {}).get("accuracy")
        state = "stopped" if s.get("interrupted") else ("reused" if s.get("reused") else "done")
        log.info(f"seed {s.get('seed')} {state}" + (f": validation accuracy {acc:.4f}" if acc is not None else ""),
                 echo=False)
    summary = summarise(out, config, seeds, summaries, workers=workers, elapsed_s=time.perf_counter() - t0)
    RunDir(out).write_json(SUMMARY_FILE, summary)
    write_atomic(out / RESULTS_FILE, csv_text([results_row(s) for s in summaries]).encode())
    log.lines(seeds_lines(summary))
    return summary


def expected_samples(config: RunConfig, seeds: Sequence[int]) -> Optional[int]:
    """Samples the runs of ``seeds`` will play (training x epochs, labelling pass, validation, test),
    for one progress bar with an honest ETA from the start; ``None`` if the data cannot tell."""
    from ..errors import StdpnetError
    from .run import open_run_source

    try:
        source = open_run_source(config)
        test = len(open_run_source(config, "train", config.data.test_source)) if config.data.test_source else 0
        d, total = config.data, 0
        for s in seeds:
            train, val = source.split(d.val_fraction, seed=int(s), max_train=d.max_train, max_val=d.max_val)
            label_pass = len(train) if config.readout.kind == "count" and source.labelled else 0
            total += len(train) * config.training.epochs + label_pass + len(val) + test
        return total
    except (StdpnetError, OSError, ValueError):
        return None


def mean_std(values: Sequence[Optional[float]]) -> Optional[Dict[str, Any]]:
    """``{"mean", "std" (sample, ddof = 1; 0 for one value), "n", "values"}`` of the measured
    values (``None`` left out); ``None`` if none was measured."""
    v = [float(x) for x in values if x is not None]
    if not v:
        return None
    return {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "n": len(v),
            "values": v}


def summarise(out: Path, config: RunConfig, seeds: Sequence[int], summaries: List[Dict[str, Any]], *,
              workers: int = 1, elapsed_s: Optional[float] = None) -> Dict[str, Any]:
    """``summary.json`` of a set of seeds (module docstring)."""
    rows = [results_row(s) for s in summaries]
    finished = [r for r in rows if r["status"] == "done"]
    first = summaries[0] if summaries else {}
    table = [{k: r.get(k) for k in ("seed", "status", "val_accuracy", "val_silent_rate", "running_accuracy",
                                    "test_accuracy", "train_events_per_s", "train_wall_s", "run_dir")} for r in rows]
    interrupted = len(finished) < len(seeds)
    return {
        "out": str(out), "network": first.get("network", config.network.net), "data": first.get("data", config.data.source),
        "readout": first.get("readout", config.readout.kind), "epochs": config.training.epochs,
        "train_samples": first.get("train_samples"), "val_samples": first.get("val_samples"),
        "seeds": [int(s) for s in seeds], "workers": int(workers), "finished": len(finished),
        "interrupted": interrupted,
        "metrics": {k: mean_std([r.get(k) for r in finished]) for k in AVERAGED},
        "runs": table, "results_csv": str(out / RESULTS_FILE), "summary_json": str(out / SUMMARY_FILE),
        "log": str(out / LOG_FILE), "elapsed_s": None if elapsed_s is None else round(elapsed_s, 3),
    }


def seeds_lines(s: Dict[str, Any]) -> List[str]:
    """The lines ``stdpnet train --seeds`` prints (also the end of ``OUT/run.log``)."""
    out = [f"{len(s['seeds'])} seeds of {s['network']} on {s['data']}, readout {s['readout'] or 'none'}, "
           f"{s['train_samples']} training samples x {s['epochs']} epoch(s) -> {s['out']}",
           f"  {'seed':>4s} {'val. accuracy':>13s} {'silent':>7s} {'running acc.':>12s} {'train ev/s':>11s} "
           f"{'wall s':>7s}  status"]

    def num(v, width, fmt):
        return format(v, f"{width}{fmt}") if v is not None else "-".rjust(width)

    for r in s["runs"]:
        out.append(f"  {r['seed']:>4} {num(r['val_accuracy'], 13, '.4f')} {num(r['val_silent_rate'], 7, '.3f')} "
                   f"{num(r['running_accuracy'], 12, '.3f')} {num(r['train_events_per_s'], 11, ',.0f')} "
                   f"{num(r['train_wall_s'], 7, '.1f')}  {r['status']}")
    m = s["metrics"]
    if m.get("val_accuracy"):
        a = m["val_accuracy"]
        out.append(f"  validation accuracy {a['mean']:.4f} +- {a['std']:.4f} (mean +- sample std over {a['n']} "
                   f"seed{'s' if a['n'] != 1 else ''})")
    if m.get("test_accuracy"):
        a = m["test_accuracy"]
        out.append(f"  test accuracy {a['mean']:.4f} +- {a['std']:.4f}")
    if s["interrupted"]:
        out.append(f"  stopped: {s['finished']} of {len(s['seeds'])} seeds finished, checkpoints saved; continue "
                   f"with  stdpnet train --resume {s['out']}")
    out.append(f"  summary: {s['summary_json']}; table: {s['results_csv']}; log: {s['log']}")
    return out
