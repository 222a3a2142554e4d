"""Continual-learning figures (SPEC section 12): accuracy matrices, forgetting curves, method bars.

Each function takes explicit data and an output path and writes one figure whose format follows
the path's suffix: ``.png`` (raster), ``.pdf`` or ``.svg`` (vector; text stays text, so the
figure can be edited and searched). They draw on matplotlib's Agg canvas directly (no pyplot, no
global backend switch), so they are safe in threads and headless runs. Each returns the path.

* :func:`plot_accuracy_matrices`: ``R[i, j]`` heatmaps, one per method, side by side, values
  written in the cells, one colour scale 0-1 shared by all.
* :func:`plot_forgetting_curves`: each task's probe accuracy against samples seen, with the task
  boundaries of the stream marked.
* :func:`plot_method_bars`: ACC and BWT (or any metrics) per method, mean +- standard deviation
  over seeds.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import ParameterError

PathLike = Union[str, Path]

#: Output formats: suffix -> kind.
FORMATS = {".png": "raster", ".pdf": "vector", ".svg": "vector"}


def _check_path(path: PathLike) -> Path:
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ParameterError(
            f"{path}: unsupported figure format {path.suffix!r}; name the file .png, .pdf or .svg"
        )
    return path


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # vector text as text (editable, searchable) and TrueType fonts in PDF
    with matplotlib.rc_context({"svg.fonttype": "none", "pdf.fonttype": 42}):
        fig.savefig(path, format=path.suffix.lower()[1:])
    return path


def _matrix(name: str, value, n_tasks: Optional[int]) -> np.ndarray:
    array = np.asarray(getattr(value, "values", value), dtype=np.float64)
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise ParameterError(f"accuracy matrix of {name!r} must be square (T, T), got shape {array.shape}")
    if n_tasks is not None and array.shape[0] != n_tasks:
        raise ParameterError(f"accuracy matrix of {name!r} has {array.shape[0]} tasks, the others {n_tasks}")
    return array


def plot_accuracy_matrices(matrices: Mapping[str, object], path: PathLike,
                           task_names: Optional[Sequence[str]] = None,
                           title: str = "accuracy after each task") -> Path:
    """Heatmaps of ``R[i, j]`` (accuracy on task ``j`` after learning task ``i``), one per method.

    ``matrices``: ``{method: (T, T) array or AccuracyMatrix}`` (all with the same ``T``); NaN cells
    (not measured) are left blank. ``task_names``: tick labels (default: those of the first
    :class:`~stdpnet.metrics.continual.AccuracyMatrix`, else ``1..T``). One colour bar, 0 to 1.
    """
    path = _check_path(path)
    if not matrices:
        raise ParameterError("plot_accuracy_matrices needs at least one method's matrix")
    n_tasks = None
    arrays = {}
    for name, value in matrices.items():
        arrays[name] = _matrix(name, value, n_tasks)
        n_tasks = arrays[name].shape[0]
        if task_names is None and hasattr(value, "task_names"):
            task_names = list(value.task_names)
    names = [str(i + 1) for i in range(n_tasks)] if task_names is None else [str(n) for n in task_names]
    if len(names) != n_tasks:
        raise ParameterError(f"{len(names)} task names for {n_tasks} tasks")
    cell = max(0.45, 3.2 / n_tasks)
    side = 1.2 + cell * n_tasks
    fig = Figure(figsize=(side * len(arrays) + 1.0, side + 0.6), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(arrays), squeeze=False)[0]
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="white")
    image = None
    fontsize = 8 if n_tasks <= 6 else 6
    for ax, (method, R) in zip(axes, arrays.items()):
        image = ax.imshow(np.ma.masked_invalid(R), cmap=cmap, vmin=0.0, vmax=1.0)
        for i in range(n_tasks):
            for j in range(n_tasks):
                if np.isfinite(R[i, j]):
                    ax.text(j, i, f"{R[i, j]:.2f}", ha="center", va="center", fontsize=fontsize,
                            color="white" if R[i, j] < 0.6 else "black")
        ax.set_xticks(range(n_tasks), names, rotation=45 if max(map(len, names)) > 3 else 0,
                      ha="right" if max(map(len, names)) > 3 else "center", fontsize=7)
        ax.set_yticks(range(n_tasks), names, fontsize=7)
        ax.set_xlabel("evaluated on task", fontsize=8)
        ax.set_title(method, fontsize=9)
    axes[0].set_ylabel("after learning task", fontsize=8)
    fig.colorbar(image, ax=list(axes), fraction=0.04, pad=0.03, label="accuracy")
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_forgetting_curves(samples_seen: Sequence[float], probe_accuracy, path: PathLike,
                           task_starts: Optional[Sequence[float]] = None,
                           task_names: Optional[Sequence[str]] = None,
                           title: str = "probe accuracy along the stream",
                           chance: Optional[float] = None) -> Path:
    """Each task's probe accuracy against the number of training samples seen.

    ``samples_seen``: ``(P,)`` evaluation points; ``probe_accuracy``: ``(P, T)``, column ``t`` the
    accuracy on task ``t``'s probe set (NaN where not evaluated, e.g. before the task starts).
    ``task_starts``: samples seen when each task begins (``SequenceStream.task_starts``; a last
    entry, the stream's end, is allowed): dashed lines at the boundaries, each task's span
    labelled with its name. ``chance``: a dotted chance level.
    """
    path = _check_path(path)
    x = np.asarray(samples_seen, dtype=np.float64).reshape(-1)
    Y = np.asarray(probe_accuracy, dtype=np.float64)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or len(Y) != len(x):
        raise ParameterError(f"probe_accuracy must be (P, T) with P = {len(x)} evaluation points, got {Y.shape}")
    n_tasks = Y.shape[1]
    names = [f"task {t + 1}" for t in range(n_tasks)] if task_names is None else [str(n) for n in task_names]
    if len(names) != n_tasks:
        raise ParameterError(f"{len(names)} task names for {n_tasks} probe columns")
    fig = Figure(figsize=(7.0, 3.6), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    colours = matplotlib.colormaps["tab10" if n_tasks <= 10 else "tab20"]
    for t in range(n_tasks):
        ax.plot(x, Y[:, t], "o-", ms=2.5, lw=1.2, color=colours(t % colours.N), label=names[t])
    if task_starts is not None:
        starts = np.asarray(task_starts, dtype=np.float64).reshape(-1)
        ends = np.append(starts[1:], x.max() if len(x) else starts[-1])
        for t, (start, end) in enumerate(zip(starts, ends)):
            if t > 0:
                ax.axvline(start, color="gray", ls="--", lw=0.8)
            if t < n_tasks and end > start:
                ax.axvspan(start, end, color=colours(t % colours.N), alpha=0.06, lw=0)
                ax.text((start + end) / 2, 1.01, names[t], ha="center", va="bottom", fontsize=7,
                        transform=ax.get_xaxis_transform(), clip_on=False)
    if chance is not None:
        ax.axhline(chance, color="gray", ls=":", lw=0.8, label="chance")
    ax.set_ylim(0, 1.0)
    ax.set_xlabel("training samples seen")
    ax.set_ylabel("probe accuracy")
    ax.set_title(title, fontsize=9, pad=14)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return _save(fig, path)


def plot_method_bars(results: Mapping[str, Mapping[str, Sequence[float]]], path: PathLike,
                     metrics: Sequence[str] = ("acc", "bwt"),
                     title: str = "continual-learning metrics (mean ± std over seeds)") -> Path:
    """Grouped bars: one group per metric, one bar per method, height = mean over seeds, error
    bar = standard deviation over seeds (``ddof=1``; 0 for a single seed).

    ``results``: ``{method: {metric: [value per seed, ...]}}``, e.g. the ``acc`` and ``bwt`` of
    :func:`stdpnet.metrics.continual.continual_metrics` over seeds (None values are skipped).
    """
    path = _check_path(path)
    if not results:
        raise ParameterError("plot_method_bars needs at least one method")
    methods = list(results)
    means = np.zeros((len(methods), len(metrics)))
    stds = np.zeros_like(means)
    counts = np.zeros(means.shape, dtype=int)
    for m, method in enumerate(methods):
        for k, metric in enumerate(metrics):
            if metric not in results[method]:
                raise ParameterError(f"method {method!r} has no {metric!r} values; it has {sorted(results[method])}")
            values = np.asarray([v for v in results[method][metric] if v is not None], dtype=np.float64)
            if values.size == 0 or not np.isfinite(values).all():
                raise ParameterError(f"{method!r} {metric!r}: needs finite values (one per seed), got {values.tolist()}")
            means[m, k] = values.mean()
            stds[m, k] = values.std(ddof=1) if values.size > 1 else 0.0
            counts[m, k] = values.size
    fig = Figure(figsize=(1.6 + 1.1 * len(metrics) * max(len(methods), 2) * 0.6, 3.4), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(methods)
    colours = matplotlib.colormaps["tab10"]
    group = np.arange(len(metrics))
    for m, method in enumerate(methods):
        xs = group - 0.4 + width * (m + 0.5)
        seeds = sorted(set(counts[m].tolist()))
        label = f"{method} (n={seeds[0]})" if len(seeds) == 1 else method
        ax.bar(xs, means[m], width * 0.9, yerr=stds[m], capsize=3, color=colours(m % 10), label=label)
        for x_bar, mean, std in zip(xs, means[m], stds[m]):
            ax.text(x_bar, mean + (std if mean >= 0 else -std), f"{mean:.2f}", ha="center",
                    va="bottom" if mean >= 0 else "top", fontsize=6)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xticks(group, [metric.upper() for metric in metrics])
    low = min(0.0, float((means - stds).min()) - 0.1)
    high = max(1.0, float((means + stds).max()) + 0.1)
    ax.set_ylim(low, high)
    ax.set_ylabel("value")
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return _save(fig, path)
