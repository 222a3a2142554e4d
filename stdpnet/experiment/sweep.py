"""Sweeps: a grid or random search over dotted configuration keys, times seeds, on local worker
processes (default: one per core; the kernels are single-threaded) or on a Ray cluster.

A sweep file (TOML)::

    base = "nmnist"                  # preset or spec string (or a config file: base_config = "x.toml")
    data = "nmnist:../shared/data/nmnist/Train"
    seeds = [0, 1, 2]                # each configuration runs once per seed (seed = split + weights)
    mode = "grid"                    # or "random" with samples = N and sweep_seed = S
    metric = "validation.accuracy"
    [set]                            # fixed overrides
    "training.epochs" = 1
    [grid]                           # swept keys: lists (grid), or {low, high, log} (random)
    "layers.conv1.stdp.alpha_minus" = [-0.002, -0.003, -0.004]
    "layers.fc1.theta_learn" = [40, 60]

Every trial is a normal run directory ``OUT/trials/<id>/`` whose id is a hash of its overrides and
seed, so an interrupted sweep resumes by skipping trials whose ``result.json`` exists, and the same
trial gives the same result on any executor (trials are deterministic functions of their config).
The sweep writes ``results.csv`` / ``results.json`` (one row per trial: every key, the seed, the
metric, wall time), ``summary.csv`` (mean +- std per configuration), ``best.toml`` (the
configuration with the best mean) and ``plots/`` (the metric against each swept key).
"""
from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import os
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from ..errors import ConfigError

EXECUTORS = ("local", "ray")


@dataclass
class SweepSpec:
    base: str
    data: Optional[str]
    seeds: List[int]
    fixed: Dict[str, Any]
    grid: Dict[str, Any]
    mode: str = "grid"
    samples: int = 8
    sweep_seed: int = 0
    metric: str = "validation.accuracy"
    base_config: Optional[str] = None
    trial: str = "stdpnet.experiment.sweep:train_trial"
    extra: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path) -> "SweepSpec":
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"sweep file {path} does not exist") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"sweep file {path} is not valid UTF-8 TOML: {e}") from None
        return cls.from_dict(raw, where=str(path))

    @classmethod
    def from_dict(cls, raw: Dict[str, Any], where: str = "sweep") -> "SweepSpec":
        known = {"base", "data", "seeds", "set", "grid", "mode", "samples", "sweep_seed", "metric",
                 "base_config", "trial"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {unknown}; valid: {sorted(known)}")
        if "base" not in raw and "base_config" not in raw:
            raise ConfigError(f"{where}: give base = PRESET_OR_SPEC (or base_config = FILE)")
        seeds = raw.get("seeds", [0])
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            seeds = list(range(seeds))
        if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool)
                                                                and s >= 0 for s in seeds):
            raise ConfigError(f"{where}: seeds must be a list of integers >= 0 (or a count), got {seeds!r}")
        mode = raw.get("mode", "grid")
        if mode not in ("grid", "random"):
            raise ConfigError(f"{where}: mode must be 'grid' or 'random', got {mode!r}")
        grid = raw.get("grid", {})
        if not isinstance(grid, dict):
            raise ConfigError(f"{where}: [grid] must be a table of dotted keys")
        for key, values in grid.items():
            if mode == "grid" and (not isinstance(values, list) or not values):
                raise ConfigError(f"{where}: grid key {key!r} needs a non-empty list of values, got {values!r}")
            if mode == "random" and not isinstance(values, (list, dict)):
                raise ConfigError(f"{where}: random key {key!r} needs a list or {{low, high, log}}, got {values!r}")
            if isinstance(values, dict):
                if set(values) - {"low", "high", "log", "int"} or not {"low", "high"} <= set(values):
                    raise ConfigError(f"{where}: range of {key!r} must be {{low, high[, log][, int]}}, got {values!r}")
        samples = raw.get("samples", 8)
        if not isinstance(samples, int) or samples < 1:
            raise ConfigError(f"{where}: samples must be an integer >= 1, got {samples!r}")
        return cls(base=raw.get("base", ""), data=raw.get("data"), seeds=list(seeds), fixed=dict(raw.get("set", {})),
                   grid=dict(grid), mode=mode, samples=samples, sweep_seed=int(raw.get("sweep_seed", 0)),
                   metric=raw.get("metric", "validation.accuracy"), base_config=raw.get("base_config"),
                   trial=raw.get("trial", "stdpnet.experiment.sweep:train_trial"))

    def configurations(self) -> List[Dict[str, Any]]:
        """The swept points (dotted key -> value), in a fixed order."""
        keys = list(self.grid)
        if not keys:
            return [{}]
        if self.mode == "grid":
            return [dict(zip(keys, combo)) for combo in itertools.product(*(self.grid[k] for k in keys))]
        rng = np.random.default_rng(self.sweep_seed)
        points = []
        for _ in range(self.samples):
            point = {}
            for k in keys:
                v = self.grid[k]
                if isinstance(v, list):
                    point[k] = v[int(rng.integers(len(v)))]
                else:
                    lo, hi = float(v["low"]), float(v["high"])
                    x = math.exp(rng.uniform(math.log(lo), math.log(hi))) if v.get("log") else rng.uniform(lo, hi)
                    point[k] = int(round(x)) if v.get("int") else float(x)
            points.append(point)
        return points

    def trials(self) -> List["Trial"]:
        out = []
        for ci, point in enumerate(self.configurations()):
            for seed in self.seeds:
                overrides = {**self.fixed, **point}
                out.append(Trial(config_index=ci, swept=point, overrides=overrides, seed=seed, base=self.base,
                                 data=self.data, base_config=self.base_config, metric=self.metric, fn=self.trial))
        return out


@dataclass
class Trial:
    config_index: int
    swept: Dict[str, Any]
    overrides: Dict[str, Any]
    seed: int
    base: str
    data: Optional[str]
    base_config: Optional[str]
    metric: str
    fn: str

    @property
    def id(self) -> str:
        blob = json.dumps({"o": self.overrides, "s": self.seed, "b": self.base, "d": self.data,
                           "c": self.base_config, "f": self.fn}, sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]


def nested(dotted: Dict[str, Any]) -> Dict[str, Any]:
    """``{"layers.conv1.theta_learn": 9}`` -> ``{"layers": {"conv1": {"theta_learn": 9}}}``."""
    out: Dict[str, Any] = {}
    for key, value in dotted.items():
        parts = key.split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"sweep key {key!r} collides with another key's value")
        node[parts[-1]] = value
    return out


def lookup(report: Dict[str, Any], dotted: str):
    node: Any = report
    for p in dotted.split("."):
        if not isinstance(node, dict) or p not in node:
            raise ConfigError(f"metric {dotted!r} is not in the trial's report (keys here: "
                              f"{sorted(node) if isinstance(node, dict) else type(node).__name__})")
        node = node[p]
    return node


def _resolve(fn_path: str) -> Callable:
    import importlib

    module, _, name = fn_path.partition(":")
    return getattr(importlib.import_module(module), name)


def run_trial(trial: Trial, out_dir: str) -> Dict[str, Any]:
    """Run one trial into ``out_dir/trials/<id>`` (or return its stored result). Executor-agnostic."""
    trial_dir = Path(out_dir) / "trials" / trial.id
    done = trial_dir / "result.json"
    if done.exists():
        return json.loads(done.read_text())
    if trial_dir.exists():  # a trial stopped midway: trials are deterministic, so run it again from scratch
        import shutil

        shutil.rmtree(trial_dir)
    t0 = time.perf_counter()
    report = _resolve(trial.fn)(trial, trial_dir)
    row = {"trial": trial.id, "config_index": trial.config_index, "seed": trial.seed,
           **{k: v for k, v in trial.swept.items()}, "metric": float(lookup(report, trial.metric)),
           "wall_s": time.perf_counter() - t0, "run_dir": str(trial_dir)}
    trial_dir.mkdir(parents=True, exist_ok=True)
    tmp = done.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(row))
    os.replace(tmp, done)
    return row


def train_trial(trial: Trial, trial_dir: Path) -> Dict[str, Any]:
    """The default trial: ``stdpnet train`` with the trial's overrides, quietly, no figures."""
    from .api import train_from_overrides

    return train_from_overrides(base=trial.base, data=trial.data, base_config=trial.base_config,
                                overrides=nested(trial.overrides), seed=trial.seed, out=trial_dir)


def _local_map(trials: Sequence[Trial], out_dir: str, workers: int, on_done: Callable) -> List[Dict[str, Any]]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    rows = []
    if workers <= 1:
        for t in trials:
            rows.append(run_trial(t, out_dir))
            on_done(rows[-1])
        return rows
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(run_trial, t, out_dir) for t in trials]
        for f in as_completed(futures):
            rows.append(f.result())
            on_done(rows[-1])
    return rows


def _ray_map(trials: Sequence[Trial], out_dir: str, address: Optional[str], workers: int,
             on_done: Callable) -> List[Dict[str, Any]]:
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'stdpnet[ray]'") from None
    started = False
    if not ray.is_initialized():
        kwargs = {"address": address} if address else {"num_cpus": workers, "include_dashboard": False}
        ray.init(ignore_reinit_error=True, log_to_driver=False, **kwargs)
        started = True
    try:
        remote = ray.remote(num_cpus=1)(run_trial)
        pending = [remote.remote(t, out_dir) for t in trials]
        rows = []
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            rows.append(ray.get(ready[0]))
            on_done(rows[-1])
        return rows
    finally:
        if started:
            ray.shutdown()


def run_sweep(spec: SweepSpec, out_dir, executor: str = "local", workers: Optional[int] = None,
              address: Optional[str] = None, progress: Optional[Callable[[int, int], None]] = None) -> Dict[str, Any]:
    """Run every trial not yet done, then write the tables, ``best.toml`` and figures."""
    if executor not in EXECUTORS:
        raise ConfigError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(spec.__dict__, indent=1, default=str))
    trials = spec.trials()
    workers = workers or os.cpu_count() or 1
    todo = [t for t in trials if not (out / "trials" / t.id / "result.json").exists()]
    done_count = [len(trials) - len(todo)]

    def on_done(_row):
        done_count[0] += 1
        if progress:
            progress(done_count[0], len(trials))

    if todo:
        if executor == "local":
            _local_map(todo, str(out), workers, on_done)
        else:
            _ray_map(todo, str(out), address, workers, on_done)
    rows = [json.loads((out / "trials" / t.id / "result.json").read_text()) for t in trials]
    return write_results(spec, rows, out)


def write_results(spec: SweepSpec, rows: List[Dict[str, Any]], out: Path) -> Dict[str, Any]:
    keys = list(spec.grid)
    cols = ["trial", "config_index", "seed", *keys, "metric", "wall_s", "run_dir"]
    with open(out / "results.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    summary = []
    for ci, point in enumerate(spec.configurations()):
        vals = [r["metric"] for r in rows if r["config_index"] == ci]
        summary.append({"config_index": ci, **point, "mean": float(np.mean(vals)),
                        "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0, "n": len(vals)})
    with open(out / "summary.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["config_index", *keys, "mean", "std", "n"])
        w.writeheader()
        w.writerows(summary)
    best = max(summary, key=lambda s: (s["mean"], -s["config_index"]))
    (out / "results.json").write_text(json.dumps({"metric": spec.metric, "trials": rows, "summary": summary,
                                                  "best": best}, indent=1, default=str))
    best_over = {**spec.fixed, **{k: best[k] for k in keys}}
    lines = [f"# best of {len(summary)} configurations by mean {spec.metric} over seeds {spec.seeds}: "
             f"{best['mean']:.4f} +- {best['std']:.4f}", f'net = "{spec.base}"']
    lines += _toml_tables(nested(best_over))
    (out / "best.toml").write_text("\n".join(lines) + "\n")
    _plot(spec, summary, out / "plots")
    return {"metric": spec.metric, "summary": summary, "best": best, "trials": len(rows)}


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if v is None:
        return '"none"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def _toml_tables(tree: Dict[str, Any], prefix: str = "") -> List[str]:
    lines, tables = [], []
    for k, v in tree.items():
        if isinstance(v, dict):
            tables.append((k, v))
        else:
            lines.append(f"{k} = {_toml_value(v)}")
    for k, v in tables:
        name = f"{prefix}.{k}" if prefix else k
        lines.append(f"[{name}]")
        lines += _toml_tables(v, name)
    return lines


def _plot(spec: SweepSpec, summary: List[Dict[str, Any]], out: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out.mkdir(parents=True, exist_ok=True)
    for key in spec.grid:
        xs = [s[key] for s in summary]
        if not all(isinstance(x, (int, float)) for x in xs):
            continue
        fig = Figure(figsize=(4.5, 3.2), dpi=120)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        ax.errorbar(xs, [s["mean"] for s in summary], yerr=[s["std"] for s in summary], fmt="o", ms=4, capsize=3)
        ax.set_xlabel(key, fontsize=8)
        ax.set_ylabel(f"{spec.metric} (mean +- std over {len(spec.seeds)} seeds)", fontsize=7)
        ax.grid(alpha=0.3)
        ax.set_title(f"sweep over {key}", fontsize=8)
        fig.tight_layout()
        fig.savefig(out / f"{key.replace('.', '_')}.png")
