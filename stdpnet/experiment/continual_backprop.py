"""The continual protocol for the backprop baselines (SpikeGrad, BPTT, CNN), on the same tasks.

Sequential fine-tuning without replay, the standard lower bound: task ``t``'s training samples
(a stratified fifth held out for early stopping, from task ``t`` only) continue training the
parameters left by task ``t-1``; after each task every task's test split is evaluated, giving the
same accuracy matrix ``R`` as the STDP protocol (one shared output layer over all classes, no task
identity at test time). ``b`` is the untrained network's accuracy; ``joint_acc`` (upper bound) the
mean accuracy over tasks of one network trained on all tasks' training samples at once.

Unlike the STDP learner, these methods see a task as a batch with epochs and an early-stopping
split: they are told where a task ends. That is what fine-tuning baselines do in the literature.

Each fit runs at least ``min_epochs`` (default 10) before early stopping may end it: after a few
tasks the readout has learnt to silence the classes still to come, and fine-tuning onto them can
sit at 0 validation accuracy for several epochs before it moves (with stopping after 5 flat epochs,
BPTT ended the last task of split 5x2 at 0 % on that task in 3 seeds of 3).

Frames (count images, time bins) cover one **fixed observation window** ``[0, D)`` from each
recording's start, ``D`` = the longest training recording of any task (``window_us`` overrides
it), as a network that sees the sensor in real time must: it cannot stretch its bins to a
recording's length before the recording has ended. With per-sample windows a recording played
x4 slower would give the same bins as at x1, and the timescale protocol would measure nothing.
"""
from __future__ import annotations

import time
from typing import Any, Dict, Optional

import numpy as np

import streams
from streams.tasks import TaskSequence

from ..metrics.continual import AccuracyMatrix


def _arrays(ds, kind, n_bins, window_us):
    from ..backprop import dataset_arrays

    return dataset_arrays(ds, kind=kind, n_bins=n_bins, window_us=(0.0, window_us))


def observation_window_us(datasets) -> float:
    """``D``: the longest recording among ``datasets`` (its last event's time + 1 us)."""
    longest = 1
    for ds in datasets:
        for i in range(len(ds)):
            events, _ = ds[i]
            if len(events):
                longest = max(longest, int(events["t"].max()) + 1)
    return float(longest)


def _fit(method, spec, x, y, *, seed, n_classes, init, options):
    from .. import backprop as bp

    fit, val = streams.stratified_split(y, 0.8, seed)
    if len(val) == 0:
        fit, val = fit[:-1], fit[-1:]
    return bp.train_method(method, spec, x[fit], y[fit], x[val], y[val], seed=seed, n_classes=n_classes,
                           max_epochs=options.get("max_epochs", 30), patience=options.get("patience", 5),
                           batch_size=options.get("batch_size", 32), lr=options.get("lr", 1e-3), init=init,
                           min_epochs=min(options.get("min_epochs", 10), options.get("max_epochs", 30)))


def run_continual_backprop(dataset, protocol: str, net: str, method: str, *, seed: int = 0,
                           train_fraction: float = 0.8, **options) -> Dict[str, Any]:
    """One seed of ``protocol`` for backprop ``method`` (``spikegrad``, ``surrogate`` or ``cnn``);
    returns the same keys as the STDP protocol's method entries, plus ``epochs`` per task."""
    from .. import backprop as bp
    from ..spec import PRESETS

    t0 = time.perf_counter()
    spec = PRESETS[net]["net"] if net in PRESETS else net
    seq = TaskSequence.build(dataset, protocol, train_fraction=train_fraction, seed=seed)
    n_classes = int(np.max(np.asarray(dataset.labels))) + 1
    kind = bp.input_kind(method)
    n_bins = options.get("n_bins", 10) if kind == "bins" else None
    T = len(seq.tasks)
    window = options.get("window_us") or observation_window_us(seq.train_dataset(t) for t in range(T))
    tests = [_arrays(seq.test_dataset(t), kind, n_bins, window) for t in range(T)]
    extra = [_arrays(seq.test_dataset(t), kind, n_bins, window) for t in seq.test_only]
    R = AccuracyMatrix(seq.task_names)
    untrained = bp.untrained_model(method, spec, tests[0][0].shape[1:], seed=seed, n_classes=n_classes)
    R.record_baseline([bp.evaluate(untrained, x, y)["accuracy"] for x, y in tests])
    params = None
    epochs = []
    extra_acc = None
    trains = [_arrays(seq.train_dataset(t), kind, n_bins, window) for t in range(T)]  # also the joint fit's
    for t, (x, y) in enumerate(trains):
        model = _fit(method, spec, x, y, seed=seed, n_classes=n_classes, init=params, options=options)
        params = model.params
        epochs.append(model.epochs)
        R.record_row(t, [bp.evaluate(model, xt, yt)["accuracy"] for xt, yt in tests])
        if extra:
            extra_acc = [bp.evaluate(model, xt, yt)["accuracy"] for xt, yt in extra]
    # joint training: every task's training samples at once (the upper bound); with one task (the
    # timescale protocol) that is the fit above: same samples, seed and start
    if T == 1:
        joint = model
    else:
        xs, ys = zip(*trains)
        joint = _fit(method, spec, np.concatenate(xs), np.concatenate(ys), seed=seed, n_classes=n_classes,
                     init=None, options=options)
    joint_acc = float(np.mean([bp.evaluate(joint, xt, yt)["accuracy"] for xt, yt in tests]))
    met = R.metrics()
    out = {"accuracy_matrix": R.values.tolist(), "baseline": R.baseline.tolist(), "acc": met["acc"],
           "bwt": met["bwt"], "fwt": met["fwt"], "forgetting": met["forgetting"], "joint_acc": joint_acc,
           "epochs": epochs, "wall_s": time.perf_counter() - t0, "tasks": seq.describe(), "window_us": window}
    if extra_acc is not None:
        out["test_only"] = dict(zip([t.name for t in seq.test_only], extra_acc))
    return out
