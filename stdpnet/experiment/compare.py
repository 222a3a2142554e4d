"""Side-by-side comparison of online STDP with backprop, same data, same split, same topology.

For every seed, the data is split once, stratified, into a training pool and a test set (or the
test set is ``test_data``); for every training-set size ``n`` a stratified subset of ``n`` samples
of the pool is drawn, the SAME for every method. Then each method learns from it:

- ``stdp``: the STDP network of the spec with its preset's readout and passes (the normal training
  protocol of ``stdpnet train``: online, all layers at once, every label used once per pass);
- ``spikegrad``: Thiele's SpikeGrad (SPEC 11), an integer-activation ANN trained by backprop that
  equals a non-leaky IF network with subtractive reset; the trained weights are then also run in
  stdpnet's own clock-based simulator as static layers (``spikegrad-sim``), so its spikes and
  synaptic operations are counted by the same counters as the STDP network's;
- ``bptt``: a surrogate-gradient LIF network trained with backprop through time on time bins;
- ``cnn``: a ReLU CNN on event-count frames (the accuracy ceiling at this data size).

Backprop methods hold out a stratified fifth of their ``n`` samples for early stopping (they see
fewer samples per update, but the same labels); ``epochs`` reports how many they ran.

Costs per inference, counted once as NeuroBench does: synaptic accumulates (AC) for spike
inputs, multiply-accumulates (MAC) for dense inputs; energy = 0.9 pJ/AC, 4.6 pJ/MAC (an estimate).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

import streams

from ..errors import ConfigError

METHODS = ("stdp", "spikegrad", "bptt", "cnn")
BACKPROP = {"spikegrad": "spikegrad", "bptt": "surrogate", "cnn": "cnn"}
PJ_PER_AC, PJ_PER_MAC = 0.9, 4.6
ENERGY_NOTE = "estimate: 0.9 pJ per accumulate, 4.6 pJ per multiply-accumulate (45 nm, Horowitz 2014)"


class _Indexed(streams.LabelledDataset):
    """``indices`` of ``dataset`` as a data set of its own (what a run is given)."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, np.asarray(indices, np.int64)
        self.labels = np.asarray(dataset.labels, np.int64)[self.indices]
        self.sensor_size = tuple(dataset.sensor_size)
        if getattr(dataset, "duration_us", None) is not None:
            self.duration_us = dataset.duration_us

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.dataset[int(self.indices[i])]


def subsets(labels: np.ndarray, pool: np.ndarray, sizes: Sequence[int], seed: int) -> Dict[int, np.ndarray]:
    """A stratified subset of ``pool`` for each size (seeded; the same for every method)."""
    out = {}
    for n in sizes:
        if n > len(pool):
            raise ConfigError(f"--train-sizes: {n} is more than the {len(pool)} training samples available")
        if n == len(pool):
            out[n] = np.sort(pool)
            continue
        chosen, _ = streams.stratified_split(labels[pool], int(n), seed)
        out[n] = np.sort(pool[chosen])
    return out


def run_stdp(net: str, dataset, train_idx, test_ds, *, seed: int, out_dir: Path) -> Dict[str, Any]:
    """The STDP network trained with the normal protocol on ``train_idx``, tested on ``test_ds``."""
    from .config import build_config
    from .protocol import evaluate, train
    from .run import Run

    config = build_config(net=net, data="synthetic:8", seed=seed, val_fraction=0.0)
    t0 = time.perf_counter()
    summary = train(config, out_dir, source=_Indexed(dataset, train_idx), make_plots=False)
    train_wall = time.perf_counter() - t0
    run = Run.open(out_dir, lock=False, source=_Indexed(dataset, train_idx))
    try:
        from ..sources import open_source

        test_src = open_source(test_ds, command="compare", seed=seed)
        report = evaluate(run, np.arange(len(test_ds)), source=test_src)
        params = sum(l.w.size for l in run.network.learning_layers)
        readout = run.readout
        params += int(getattr(readout, "w", np.zeros(0)).size)
    finally:
        run.close()
    spl = report["spikes_per_sample"]
    synops = float(sum(v["synops"] for v in spl.values()))
    spikes = float(sum(v["inference"] for v in spl.values()))
    n = len(train_idx)
    epochs = config.training.epochs
    label_pass = config.readout.kind == "count"
    return {"accuracy": report["accuracy"], "train_samples": n, "labels_used": n,
            "samples_seen": n * epochs + (n if label_pass else 0), "epochs": epochs, "train_wall_s": train_wall,
            "infer_ops_per_sample": synops, "op_kind": "AC", "spikes_per_sample": spikes,
            "energy_uj_per_sample": synops * PJ_PER_AC * 1e-6, "params": int(params),
            "silent_rate": report.get("silent_rate"), "readout": config.readout.kind}


def _arrays(cache, dataset, kind, n_bins, window_us=None):
    key = (kind, n_bins)
    if key not in cache:
        from ..backprop import dataset_arrays

        cache[key] = dataset_arrays(dataset, kind=kind, n_bins=n_bins, window_us=window_us if kind == "counts" else None)
    return cache[key]


def run_backprop(method: str, spec: str, dataset, train_idx, test_arrays, *, seed: int, n_classes: int,
                 cache: Dict, options: Dict[str, Any]) -> Dict[str, Any]:
    from .. import backprop as bp

    kind = bp.input_kind(BACKPROP[method])
    n_bins = options.get("n_bins", 10) if kind == "bins" else None
    x_all, y_all = _arrays(cache, dataset, kind, n_bins, options.get("window_us"))
    labels = y_all[train_idx]
    fit, val = streams.stratified_split(labels, 0.8, seed)
    if len(val) == 0:
        fit, val = fit[:-1], fit[-1:]
    t0 = time.perf_counter()
    model = bp.train_method(BACKPROP[method], spec, x_all[train_idx[fit]], labels[fit], x_all[train_idx[val]],
                            labels[val], seed=seed, n_classes=n_classes,
                            max_epochs=options.get("max_epochs", 40), patience=options.get("patience", 6),
                            batch_size=options.get("batch_size", 32), lr=options.get("lr", 1e-3))
    wall = time.perf_counter() - t0
    x_test, y_test = test_arrays(kind, n_bins)
    ev = bp.evaluate(model, x_test, y_test)
    n = len(train_idx)
    out = {"accuracy": ev["accuracy"], "train_samples": n, "labels_used": n,
           "samples_seen": int(len(fit) * model.epochs), "epochs": model.epochs, "best_epoch": model.best_epoch,
           "train_wall_s": wall, "infer_ops_per_sample": ev["infer_ops_per_sample"], "op_kind": ev["op_kind"],
           "spikes_per_sample": ev["spikes_per_sample"], "energy_uj_per_sample": ev["energy_uj_per_sample"],
           "params": ev["params"]}
    return out, model


def aggregate(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Mean (and std of the accuracy) over seeds, per training-set size."""
    out = []
    for n in sorted({r["train_samples"] for r in rows}):
        rs = [r for r in rows if r["train_samples"] == n]
        acc = [r["accuracy"] for r in rs]
        entry = {"train_samples": n, "accuracy": float(np.mean(acc)),
                 "accuracy_std": float(np.std(acc, ddof=1)) if len(acc) > 1 else 0.0, "seeds": len(rs)}
        for k in ("labels_used", "samples_seen", "epochs", "train_wall_s", "infer_ops_per_sample",
                  "spikes_per_sample", "energy_uj_per_sample", "params"):
            vals = [r.get(k) for r in rs if r.get(k) is not None]
            entry[k] = float(np.mean(vals)) if vals else None
        entry["op_kind"] = rs[0].get("op_kind")
        out.append(entry)
    return out


def compare(net: str, source, *, test_source=None, train_sizes: Sequence[int] = (50, 100, 200, 400),
            seeds: Sequence[int] = (0,), methods: Sequence[str] = METHODS, out_dir=None,
            backprop: Optional[Dict[str, Any]] = None, test_fraction: float = 0.2,
            progress: Optional[Callable[[str], None]] = None) -> Dict[str, Any]:
    """The comparison (module docstring); returns the JSON object of ``stdpnet compare --json``
    (``methods``: per method, one entry per training-set size) and writes the table and figures."""
    from ..sources import open_source
    from ..spec import PRESETS, parse_spec

    bad = [m for m in methods if m not in METHODS and m != "spikegrad-sim"]
    if bad:
        raise ConfigError(f"unknown method(s) {bad}; choose from {', '.join(METHODS)}")
    if any(m in BACKPROP for m in methods):
        from ..backprop import require_jax

        require_jax()
    src = open_source(source, command="compare")
    if not src.labelled:
        raise ConfigError(f"compare needs labelled data; {src.text} has no labels")
    spec_text = PRESETS[net]["net"] if net in PRESETS else net
    spec = parse_spec(spec_text)
    if tuple(spec.sensor_size) != tuple(src.sensor_size):
        raise ConfigError(f"network {spec_text} expects a {spec.sensor_size} sensor, the data has {src.sensor_size}")
    labels = np.asarray(src.labels, np.int64)
    n_classes = int(labels.max()) + 1
    test = open_source(test_source, command="compare") if test_source is not None else None
    out = Path(out_dir) if out_dir else None
    bp_options = dict(backprop or {})
    if src.kind == "synthetic" and "window_us" not in bp_options:
        # a bar sweeping the whole sensor leaves a uniform count image: frame-based methods see a
        # 10 ms window of it (the bar's position, hence its orientation), as their tests do
        bp_options["window_us"] = (20_000, 30_000)
    rows: Dict[str, List[Dict[str, Any]]] = {m: [] for m in methods}
    sim_check: List[Dict[str, Any]] = []
    t_start = time.perf_counter()
    cache: Dict = {}
    test_cache: Dict = {}
    for seed in seeds:
        if test is None:
            pool, test_idx = streams.stratified_split(labels, 1.0 - test_fraction, seed)
            test_ds = _Indexed(src.dataset, test_idx)
        else:
            pool, test_ds = np.arange(len(labels)), test.dataset
        test_cache.clear()

        def test_arrays(kind, n_bins):
            if (kind, n_bins) not in test_cache:
                from ..backprop import dataset_arrays

                test_cache[(kind, n_bins)] = dataset_arrays(
                    test_ds, kind=kind, n_bins=n_bins, window_us=bp_options.get("window_us") if kind == "counts" else None)
            return test_cache[(kind, n_bins)]

        for n, idx in subsets(labels, pool, train_sizes, seed).items():
            for m in methods:
                if progress:
                    progress(f"seed {seed}, {n} training samples: {m}")
                if m == "stdp":
                    d = out / "runs" / f"stdp-n{n}-seed{seed}" if out else Path(f"/tmp/stdpnet-compare-{time.time_ns()}")
                    r = run_stdp(net, src.dataset, idx, test_ds, seed=seed, out_dir=d)
                else:
                    r, model = run_backprop(m, spec_text, src.dataset, idx, test_arrays, seed=seed,
                                            n_classes=n_classes, cache=cache, options=bp_options)
                    if m == "spikegrad" and bp_options.get("simulate", True):
                        from .spikegrad_sim import simulate_in_stdpnet

                        sim = simulate_in_stdpnet(model, spec_text, test_ds,
                                                  max_samples=bp_options.get("simulate_samples", 100))
                        rows.setdefault("spikegrad-sim", []).append({**r, **sim["row"], "seed": seed})
                        sim_check.append({"seed": seed, "train_samples": n, **sim["equivalence"]})
                rows[m].append({**r, "seed": seed})
    result = {"net": spec_text, "data": src.text, "test_data": test.text if test is not None else
              f"stratified {test_fraction:.0%} of {src.text}", "seeds": list(seeds), "train_sizes": list(train_sizes),
              "energy_note": ENERGY_NOTE, "methods": {m: aggregate(r) for m, r in rows.items() if r},
              "per_seed": rows, "wall_s": time.perf_counter() - t_start}
    if sim_check:
        result["spikegrad_equivalence"] = sim_check
    if out is not None:
        write_outputs(result, out)
    return result


def merge_results(results: Sequence[Dict[str, Any]], where: Sequence[str] = ()) -> Dict[str, Any]:
    """One comparison from several runs of the same design (methods run apart, e.g. on other
    machines): the network, data, test data, seeds and sizes must agree, and no method may appear
    twice. Raises :class:`ConfigError` naming the first disagreement."""
    from ..errors import ConfigError

    if not results:
        raise ConfigError("merge needs at least one comparison result")
    names = list(where) or [f"result {i + 1}" for i in range(len(results))]
    first = results[0]
    merged = {**first, "methods": {}, "per_seed": {}, "wall_s": 0.0}
    for name, r in zip(names, results):
        for key in ("net", "data", "test_data", "seeds", "train_sizes"):
            if r.get(key) != first.get(key):
                raise ConfigError(f"{name}: {key} is {r.get(key)!r}, but {names[0]} has {first.get(key)!r}; only "
                                  "runs of the same design can share a table")
        for m, entries in r["methods"].items():
            if m in merged["methods"]:
                raise ConfigError(f"{name}: method {m!r} is already in another result; merge each method once")
            merged["methods"][m] = entries
            merged["per_seed"][m] = r.get("per_seed", {}).get(m, [])
        merged["wall_s"] += float(r.get("wall_s", 0.0))
        if "spikegrad_equivalence" in r:
            merged["spikegrad_equivalence"] = r["spikegrad_equivalence"]
    return merged


def markdown_table(result: Dict[str, Any]) -> str:
    lines = [f"| method | train samples | accuracy (mean +- std over {len(result['seeds'])} seeds) | labels | "
             "samples seen | epochs | train wall (s) | ops / inference | spikes / inference | energy (uJ, est.) | "
             "params |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for m, entries in result["methods"].items():
        for e in entries:
            def f(v, fmt):
                return "-" if v is None else format(v, fmt)
            lines.append(f"| {m} | {e['train_samples']} | {e['accuracy']:.3f} +- {e['accuracy_std']:.3f} | "
                         f"{f(e['labels_used'], ',.0f')} | {f(e['samples_seen'], ',.0f')} | {f(e['epochs'], '.1f')} | "
                         f"{f(e['train_wall_s'], '.1f')} | {f(e['infer_ops_per_sample'], ',.0f')} {e['op_kind'] or ''} | "
                         f"{f(e['spikes_per_sample'], ',.0f')} | {f(e['energy_uj_per_sample'], '.3f')} | "
                         f"{f(e['params'], ',.0f')} |")
    return "\n".join(lines)


def write_outputs(result: Dict[str, Any], out: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(result, indent=1, default=float))
    (out / "compare.md").write_text(f"# {result['net']} on {result['data']}\n\ntest: {result['test_data']}\n\n"
                                    + markdown_table(result) + f"\n\n{result['energy_note']}\n")
    colours = {"stdp": "tab:blue", "spikegrad": "tab:orange", "spikegrad-sim": "tab:brown", "bptt": "tab:green",
               "cnn": "tab:gray"}
    figs = [("accuracy_vs_size", "training samples (labelled)", "train_samples", "linear"),
            ("accuracy_vs_ops", "operations per inference (AC or MAC, log)", "infer_ops_per_sample", "log"),
            ("training_cost", "training samples (labelled)", "train_wall_s", "linear")]
    for name, xlabel, key, scale in figs:
        fig = Figure(figsize=(5.5, 3.6), dpi=150)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        for m, entries in result["methods"].items():
            xs = [e["train_samples"] if name != "accuracy_vs_ops" else e[key] for e in entries]
            if name == "training_cost":
                ax.plot(xs, [e["train_wall_s"] for e in entries], "o-", color=colours.get(m), label=m, ms=4)
            else:
                ax.errorbar(xs, [e["accuracy"] for e in entries], yerr=[e["accuracy_std"] for e in entries],
                            fmt="o-", color=colours.get(m), label=m, ms=4, capsize=3)
        ax.set_xscale(scale)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel("training wall time (s)" if name == "training_cost" else
                      f"test accuracy (mean +- std, {len(result['seeds'])} seeds)", fontsize=8)
        ax.set_title(f"{result['net']}\n{result['data']}", fontsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / f"{name}.png")
        fig.savefig(out / f"{name}.pdf")
