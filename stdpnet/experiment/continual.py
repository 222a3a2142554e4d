"""Continual-learning protocol for the STDP network (SPEC section 12): tasks on one unbroken stream.

The training samples of every task are laid end to end in one stream (:func:`streams.sequence_stream`):
no state is reset at a task boundary and the learner is never told where it is. After each task
(and before any, for ``b``) the learner is *evaluated*: learning off, on every task's test split,
then the network and every readout are put back exactly as they were (state dicts), so the
training stream resumes bit-exactly as if no evaluation had happened. The chunk that straddles a
task boundary is cut at the boundary tick, so evaluation sees exactly the ticks of the tasks done.

Readouts. All of them read the same network at once (they only read the top layer's spikes): the
event-based classifier and spike-count labelling (labelled online while training: no label pass,
which would replay old tasks), plus a **linear probe** on the top layer's spike counts per sample,
fitted at each evaluation point on a fixed set of training samples of the tasks seen so far. The
probe is an oracle of feature quality: the classifier's forgetting minus the probe's is forgetting
in the readout, the probe's is forgetting in the features.

Every ``probe_every`` training samples, a small fixed probe set per task is evaluated (classifier)
to draw the forgetting curve along the stream.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

import streams
from streams.tasks import TaskSequence, sequence_stream
from streams.ticks import TickChunk

from ..metrics.continual import AccuracyMatrix, linear_probe
from ..network import Network
from ..readouts import make_readout

STDP_READOUTS = ("classifier", "count")


def split_chunk(chunk: TickChunk, i: int):
    """``chunk`` cut before its tick ``i``: two chunks covering the same ticks."""
    off = chunk.offsets
    first = TickChunk(chunk.start_tick, chunk.dt_us, chunk.events[:off[i]], off[:i + 1].copy(),
                      chunk.sample[:i], chunk.label[:i])
    second = TickChunk(chunk.start_tick + i, chunk.dt_us, chunk.events[off[i]:], off[i:] - off[i],
                       chunk.sample[i:], chunk.label[i:])
    return first, second


def top_counts(result, chunk: TickChunk, n_top: int, counts: Dict[int, np.ndarray]) -> None:
    """Add the chunk's top-layer inference spikes to per-sample count vectors (sample -> (n_top,))."""
    if len(result.top_ticks) == 0:
        return
    sample = chunk.sample[result.top_ticks - chunk.start_tick]
    for s in np.unique(sample):
        if s < 0:
            continue
        vec = counts.setdefault(int(s), np.zeros(n_top, np.int64))
        np.add.at(vec, result.top_neurons[sample == s], 1)


@dataclass
class Learner:
    """The STDP network and its readouts, fed by one stream."""

    network: Network
    readouts: Dict[str, Any]

    def snapshot(self):
        return self.network.state_dict(), {k: copy.deepcopy(r) for k, r in self.readouts.items()}

    def restore(self, snap) -> None:
        state, readouts = snap
        self.network.load_state_dict(state)
        self.readouts = readouts

    def feed(self, chunk: TickChunk, learn: bool) -> None:
        result = self.network.run(chunk)
        for r in self.readouts.values():
            r.process(result, chunk, self.network, learn)


def evaluate_frozen(learner: Learner, datasets: Sequence, *, probe_fit=None) -> Dict[str, List[float]]:
    """Accuracy of every readout (and of a linear probe) on each of ``datasets``, learning off;
    leaves ``learner`` exactly as it was.

    ``probe_fit``: a labelled dataset whose top-layer counts fit the linear probe (None: no probe).
    """
    snap = learner.snapshot()
    net = learner.network
    was = [l.params.learning for l in net.learning_layers]
    try:
        net.set_learning(False)
        readouts = {k: copy.deepcopy(r) for k, r in learner.readouts.items()}
        for r in readouts.values():
            r.flush(net)  # close the training stream's open window (outcome discarded)
        n_top = net.top.n_neurons
        out: Dict[str, List[float]] = {k: [] for k in readouts}
        feats = []
        for ds in ([probe_fit] if probe_fit is not None else []) + list(datasets):
            outcomes = {k: [] for k in readouts}
            counts: Dict[int, np.ndarray] = {}
            stream = streams.LabelledStream(ds, start_us=net.now * net.dt_us)
            for chunk in streams.tick_chunks(stream, dt_us=net.dt_us, start_tick=net.now):
                result = net.run(chunk)
                top_counts(result, chunk, n_top, counts)
                for k, r in readouts.items():
                    outcomes[k].extend(r.process(result, chunk, net, False))
            for k, r in readouts.items():
                outcomes[k].extend(r.flush(net))
            labels = np.asarray(ds.labels)
            x = np.stack([counts.get(i, np.zeros(n_top, np.int64)) for i in range(len(ds))]) if len(ds) else \
                np.zeros((0, n_top))
            feats.append((x, labels))
            if probe_fit is None or len(feats) > 1:
                for k in readouts:
                    n = len(outcomes[k])
                    out[k].append(sum(o.correct for o in outcomes[k]) / n if n else float("nan"))
        if probe_fit is not None:
            (xf, yf), rest = feats[0], feats[1:]
            out["probe"] = []
            for x, y in rest:
                if len(np.unique(yf)) < 2:
                    out["probe"].append(float(np.mean(y == yf[0])) if len(y) else float("nan"))
                else:
                    out["probe"].append(linear_probe(xf, yf, x, y).accuracy if len(y) else float("nan"))
        return out
    finally:
        learner.restore(snap)
        for layer, on in zip(net.learning_layers, was):
            if layer.rule is not None:
                layer.set_learning(on)


@dataclass
class ContinualResult:
    protocol: str
    tasks: List[Dict[str, Any]]
    matrices: Dict[str, AccuracyMatrix]
    curve: Dict[str, Any] = field(default_factory=dict)
    joint_acc: Dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0

    def method_dicts(self) -> Dict[str, Dict[str, Any]]:
        out = {}
        for name, m in self.matrices.items():
            met = m.metrics()
            out[name] = {"accuracy_matrix": _plain(m.values), "baseline": _plain(m.baseline),
                         "acc": met["acc"], "bwt": met["bwt"], "fwt": met["fwt"],
                         "forgetting": met["forgetting"], "joint_acc": self.joint_acc.get(name)}
            extra = self.curve.get("test_only")
            if extra:  # e.g. timescale: trained at x1, tested at each factor
                out[name]["test_only"] = dict(zip(extra["tasks"], extra["accuracy"][name]))
        return out


def _plain(a):
    if a is None:
        return None
    return [[None if np.isnan(v) else float(v) for v in row] for row in np.atleast_2d(a)] if np.ndim(a) == 2 else \
        [None if np.isnan(v) else float(v) for v in a]


def _build(network_config: Dict[str, Any], readout_params: Dict[str, Dict[str, Any]], n_classes: int,
           readouts: Sequence[str], seed: int) -> Learner:
    net = Network.from_config({**network_config, "seed": seed})
    return Learner(net, {k: make_readout(k, net, n_classes, **readout_params.get(k, {})) for k in readouts})


def run_continual_stdp(dataset, protocol: str, network_config: Dict[str, Any], *, seed: int = 0,
                       readouts: Sequence[str] = STDP_READOUTS,
                       readout_params: Optional[Dict[str, Dict[str, Any]]] = None,
                       train_fraction: float = 0.8, epochs_per_task: int = 1, probe_every: int = 0,
                       probe_per_task: int = 10, probe_fit_per_task: int = 40, joint: bool = True,
                       progress: Optional[Callable[[str, int, int], None]] = None) -> ContinualResult:
    """Run ``protocol`` (e.g. ``split:5x2``) over ``dataset`` with the STDP network; see the module
    docstring. Returns the accuracy matrix of every readout and of the probe, the forgetting curve
    and each readout's joint-training accuracy (all tasks shuffled into one stream, one pass)."""
    t0 = time.perf_counter()
    readout_params = readout_params or {}
    seq = TaskSequence.build(dataset, protocol, train_fraction=train_fraction, seed=seed)
    n_classes = int(np.max(np.asarray(dataset.labels))) + 1
    T = len(seq.tasks)
    names = seq.task_names
    test_sets = [seq.test_dataset(t) for t in range(T)]
    extra_tests = [seq.test_dataset(t) for t in seq.test_only]
    rng = np.random.default_rng([seed, 7])
    fit_idx = [np.sort(rng.permutation(task.train_indices)[:probe_fit_per_task]) for task in seq.tasks]

    def probe_fit_set(upto: int):
        idx = np.concatenate(fit_idx[:upto + 1])
        tasks_of = np.concatenate([[t] * len(fit_idx[t]) for t in range(upto + 1)])
        return _MixedTasks(seq, idx, tasks_of)

    learner = _build(network_config, readout_params, n_classes, readouts, seed)
    all_names = list(readouts) + ["probe"]
    matrices = {k: AccuracyMatrix(list(names)) for k in all_names}
    if progress:
        progress("evaluate before training", 0, T)
    base = evaluate_frozen(learner, test_sets, probe_fit=probe_fit_set(0))
    for k in all_names:
        matrices[k].record_baseline(base[k])
    run = sequence_stream(seq, epochs_per_task=epochs_per_task, seed=seed)
    net = learner.network
    curve_samples: List[int] = []
    curve_acc: List[List[float]] = []
    probes = [seq.test_dataset(t, p) for t, p in enumerate(seq.probe_indices(probe_per_task, seed))] \
        if probe_every else []
    task = 0
    seen = 0
    next_probe = probe_every
    test_only_rows = []

    def close_task(t):
        res = evaluate_frozen(learner, test_sets + extra_tests, probe_fit=probe_fit_set(t))
        for k in all_names:
            matrices[k].record_row(t, res[k][:T])
        if extra_tests:
            test_only_rows.append({k: res[k][T:] for k in all_names})
        if progress:
            progress(f"task {t + 1}/{T} done", t + 1, T)

    for chunk in streams.tick_chunks(run.stream, dt_us=net.dt_us):
        while task < T:
            end = run.task_end(task)
            after = np.flatnonzero(chunk.sample > end)
            if len(after) == 0:
                break
            i = int(after[0])
            if i > 0:
                head, chunk = split_chunk(chunk, i)
                learner.feed(head, True)
            close_task(task)
            task += 1
        if chunk.n_ticks:
            learner.feed(chunk, True)
        done = int(np.max(chunk.sample, initial=-1)) if chunk.n_ticks else seen
        if probe_every and done >= next_probe:
            acc = evaluate_frozen(learner, probes)[readouts[0]]
            curve_samples.append(done)
            curve_acc.append(acc)
            next_probe += probe_every
        seen = max(seen, done)
    while task < T:
        close_task(task)
        task += 1
    result = ContinualResult(protocol, seq.describe(), matrices, wall_s=0.0)
    if test_only_rows:
        result.curve["test_only"] = {"tasks": [t.name for t in seq.test_only],
                                     "accuracy": test_only_rows[-1]}
    if probe_every:
        result.curve.update({"samples": curve_samples, "accuracy": curve_acc,
                             "task_starts": [int(s) for s in run.task_starts], "readout": readouts[0]})
    if joint:
        result.joint_acc = joint_stdp(seq, network_config, readout_params, n_classes, readouts, seed,
                                      epochs_per_task, probe_fit_set(T - 1), test_sets)
    result.wall_s = time.perf_counter() - t0
    return result


class _MixedTasks(streams.LabelledDataset):
    """Samples of several tasks, each read under its own task's transform (probe fitting, joint
    training). ``indices`` into the base data set, ``tasks_of`` the task of each."""

    def __init__(self, seq: TaskSequence, indices: np.ndarray, tasks_of: np.ndarray):
        self.seq = seq
        self.indices = np.asarray(indices, np.int64)
        self.tasks_of = np.asarray(tasks_of, np.int64)
        self.sensor_size = seq.sensor_size
        self.labels = np.asarray(seq.dataset.labels, np.int64)[self.indices]
        duration = getattr(seq.dataset, "duration_us", None)
        if duration is not None and all(seq.tasks[t].transform is None for t in set(self.tasks_of.tolist())):
            self.duration_us = duration

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, k):
        events, label = self.seq.dataset[int(self.indices[k])]
        transform = self.seq.tasks[int(self.tasks_of[k])].transform
        return (events if transform is None else transform(events)), int(label)


def joint_stdp(seq, network_config, readout_params, n_classes, readouts, seed, epochs, probe_fit, test_sets):
    """Upper bound: one network learns all tasks' training samples shuffled into one stream."""
    learner = _build(network_config, readout_params, n_classes, readouts, seed)
    idx = np.concatenate([t.train_indices for t in seq.tasks])
    tasks_of = np.concatenate([[i] * len(t.train_indices) for i, t in enumerate(seq.tasks)])
    mixed = _MixedTasks(seq, idx, tasks_of)
    stream = streams.LabelledStream(mixed, shuffle=True, seed=seed, epochs=epochs)
    for chunk in streams.tick_chunks(stream, dt_us=learner.network.dt_us):
        learner.feed(chunk, True)
    res = evaluate_frozen(learner, test_sets, probe_fit=probe_fit)
    return {k: float(np.nanmean(v)) for k, v in res.items()}


# ---- the experiment: every method, several seeds, one table and its figures --------------------
STDP_METHOD_NAMES = {"classifier": "stdp/classifier", "count": "stdp/count", "probe": "stdp/linear-probe"}
BACKPROP_ALIASES = {"bptt": "surrogate", "surrogate": "surrogate", "spikegrad": "spikegrad", "cnn": "cnn"}


def stdp_settings(net: str, data: Optional[str] = None):
    """Network configuration and each STDP readout's parameters, from the preset's experiment defaults."""
    from .config import build_config

    network = None
    params = {}
    for kind in STDP_READOUTS:
        cfg = build_config(net=net, data=data or "synthetic:8", readout=kind)
        network = cfg.network_dict()
        params[kind] = dict(cfg.readout.params)
    epochs = build_config(net=net, data=data or "synthetic:8").training.epochs
    return {k: network[k] for k in ("net", "dt_us", "layers")}, params, epochs


def continual_experiment(dataset, protocol: str, net: str, *, methods: Sequence[str] = ("stdp",),
                         seeds: Sequence[int] = (0,), probe_every: int = 0, epochs_per_task: int = 1,
                         data_text: Optional[str] = None, out_dir=None, backprop: Optional[Dict[str, Any]] = None,
                         progress: Optional[Callable[[str], None]] = None) -> Dict[str, Any]:
    """Run ``protocol`` for every method and seed; returns (and writes to ``out_dir``) the JSON
    object of ``stdpnet continual --json``: ``protocol``, ``tasks``, and per method the mean accuracy
    matrix, ``acc``/``bwt``/``fwt``/``forgetting``/``joint_acc`` (mean, with ``*_std`` over seeds)
    and the per-seed values."""
    from ..errors import ConfigError

    unknown = [m for m in methods if m != "stdp" and m not in BACKPROP_ALIASES]
    if unknown:
        raise ConfigError(f"unknown method(s) {unknown}; choose from stdp, spikegrad, bptt, cnn")
    network, rparams, _ = stdp_settings(net, data_text)
    per_method: Dict[str, List[Dict[str, Any]]] = {}
    curves: Dict[str, Any] = {}
    tasks = None
    t0 = time.perf_counter()
    for seed in seeds:
        if "stdp" in methods:
            if progress:
                progress(f"seed {seed}: STDP ({protocol})")
            r = run_continual_stdp(dataset, protocol, network, seed=seed, readout_params=rparams,
                                   probe_every=probe_every, epochs_per_task=epochs_per_task)
            tasks = r.tasks
            for k, d in r.method_dicts().items():
                per_method.setdefault(STDP_METHOD_NAMES[k], []).append({**d, "seed": seed, "wall_s": r.wall_s})
            if r.curve:
                curves.setdefault("stdp/classifier", []).append(r.curve)
        for m in methods:
            if m == "stdp":
                continue
            from .continual_backprop import run_continual_backprop

            if progress:
                progress(f"seed {seed}: {m} ({protocol})")
            d = run_continual_backprop(dataset, protocol, net, BACKPROP_ALIASES[m], seed=seed,
                                       **(backprop or {}))
            tasks = tasks or d.pop("tasks", None)
            d.pop("tasks", None)
            per_method.setdefault(m, []).append({**d, "seed": seed})
    out = {"protocol": protocol, "tasks": tasks, "seeds": list(seeds), "methods": {},
           "wall_s": time.perf_counter() - t0}
    for name, runs in per_method.items():
        out["methods"][name] = _aggregate(runs)
    if curves:
        out["curves"] = curves
    if out_dir is not None:
        write_continual_outputs(out, out_dir)
    return out


def _mean_std(values):
    vals = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if not vals:
        return None, None
    return float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0


def _aggregate(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    R = np.array([np.array(r["accuracy_matrix"], dtype=float) for r in runs])
    agg: Dict[str, Any] = {"accuracy_matrix": _plain(np.nanmean(R, axis=0)),
                           "accuracy_matrix_std": _plain(np.nanstd(R, axis=0, ddof=1) if len(R) > 1 else np.zeros_like(R[0]))}
    for key in ("acc", "bwt", "fwt", "joint_acc"):
        agg[key], agg[f"{key}_std"] = _mean_std([r.get(key) for r in runs])
    F = [r.get("forgetting") or [] for r in runs]
    agg["forgetting"] = [float(np.mean([f[j] for f in F])) for j in range(len(F[0]))] if F and F[0] else []
    agg["per_seed"] = [{k: r.get(k) for k in ("seed", "acc", "bwt", "fwt", "joint_acc", "wall_s", "epochs", "test_only", "window_us")
                        if k in r} for r in runs]
    if runs[0].get("test_only"):
        names = list(runs[0]["test_only"])
        agg["test_only"] = {n: _mean_std([r["test_only"].get(n) for r in runs]) for n in names}
    return agg


def _plot_test_only(out: Dict[str, Any], path: Path) -> Path:
    """Accuracy under each test-only condition (e.g. time scale factors), per method, mean +- std."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.5), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for name, m in out["methods"].items():
        conds = m.get("test_only") or {}
        if not conds:
            continue
        labels = list(conds)
        ax.errorbar(range(len(labels)), [conds[c][0] for c in labels], yerr=[conds[c][1] or 0 for c in labels],
                    fmt="o-", ms=4, capsize=3, label=name)
        ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_xlabel("test condition (trained as recorded)")
    ax.set_ylabel(f"test accuracy (mean +- std, {len(out['seeds'])} seeds)", fontsize=8)
    ax.set_title(f"{out['protocol']}", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    fig.savefig(path.with_suffix(".pdf"))
    return path


def write_continual_outputs(out: Dict[str, Any], out_dir) -> List[Path]:
    """``results.json``, ``results.csv`` (one row per method) and the figures."""
    import csv
    import json

    from ..viz.continual import plot_accuracy_matrices, plot_forgetting_curves, plot_method_bars

    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    (d / "results.json").write_text(json.dumps(out, indent=1, default=float))
    with open(d / "results.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["method", "acc", "acc_std", "bwt", "bwt_std", "fwt", "fwt_std", "joint_acc", "joint_acc_std",
                    "seeds", "protocol"])
        for name, m in out["methods"].items():
            w.writerow([name, m["acc"], m["acc_std"], m["bwt"], m["bwt_std"], m["fwt"], m["fwt_std"],
                        m["joint_acc"], m["joint_acc_std"], len(m["per_seed"]), out["protocol"]])
    names = [t["task"] for t in out["tasks"] if not t.get("test_only")] if out.get("tasks") else None
    mats = {k: np.array(m["accuracy_matrix"], dtype=float) for k, m in out["methods"].items()}
    paths = [plot_accuracy_matrices(mats, d / "accuracy_matrices.png", task_names=names)]
    with_bwt = all(s.get("bwt") is not None for m in out["methods"].values() for s in m["per_seed"])
    metrics = ("acc", "bwt") if with_bwt else ("acc",)
    bars = {k: {key: [s[key] for s in m["per_seed"]] for key in metrics} for k, m in out["methods"].items()}
    paths.append(plot_method_bars(bars, d / "acc_bwt.png", metrics=metrics))
    if any(m.get("test_only") for m in out["methods"].values()):
        paths.append(_plot_test_only(out, d / "test_conditions.png"))
    for name, curves in out.get("curves", {}).items():
        c = curves[0]
        if c.get("samples"):
            paths.append(plot_forgetting_curves(c["samples"], np.array(c["accuracy"], float),
                                                d / f"forgetting_{name.replace('/', '_')}.png",
                                                task_starts=c["task_starts"], task_names=names))
    return paths
