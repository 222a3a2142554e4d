"""Paper-ready figures of a run (SPEC section 10), each from explicit data to one file.

Every function takes plain arrays plus a ``title`` naming the run (and sample), writes one figure in
``fmt`` (``png``, ``pdf`` or ``svg``; vector formats keep text and lines as vectors, dense scatter is
rasterised inside them) and returns its path. Axes carry units; colour scales are stated in a
colour bar and shared where the caption says so. Matplotlib's Agg canvas, no pyplot state.

- :func:`plot_confusion`: true against predicted class (row-normalised colour, counts written in),
  the silent column apart;
- :func:`plot_sample_raster`: one sample, time in ms from its start: input events beneath, then
  every layer's inference (dots) and learning (crosses) spikes; true and predicted class in the title;
- :func:`plot_layer_features`: one figure per layer; with two input polarities each feature is
  drawn as ``ON - OFF`` on a diverging scale (red: ON, blue: OFF) shared by the whole layer; maps that
  never fired (given their activity) are crossed out; a large top layer shows its most active maps;
- :func:`plot_learning_curve`: online running accuracy with epoch boundaries and validation points;
- :func:`plot_weight_history`: each layer's weight histogram at the first, middle and last snapshot.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .features import feature_images

PathLike = Union[str, Path]
FORMATS = ("png", "pdf", "svg")


def _figure(w: float, h: float, dpi: int) -> Figure:
    fig = Figure(figsize=(w, h), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: PathLike, fmt: str = "png", dpi: int = 150) -> Path:
    if fmt not in FORMATS:
        from ..errors import ConfigError

        raise ConfigError(f"figure format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    path = Path(path).with_suffix("." + fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format=fmt, dpi=dpi, bbox_inches="tight")
    return path


# ---- confusion ---------------------------------------------------------------------------------
def plot_confusion(confusion: np.ndarray, path: PathLike, title: str, fmt: str = "png", dpi: int = 150,
                   class_names: Optional[Sequence[str]] = None) -> Path:
    """``confusion (n, n + 1)``: rows true class, columns predicted class then "silent"."""
    cm = np.asarray(confusion, np.int64)
    n = cm.shape[0]
    rows = cm.sum(axis=1, keepdims=True)
    frac = cm / np.where(rows > 0, rows, 1)
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    fig = _figure(0.45 * (n + 1) + 2.2, 0.45 * n + 1.6, dpi)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1, aspect="equal")
    for i in range(n):
        for j in range(n + 1):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if frac[i, j] > 0.6 else "black")
    ax.axvline(n - 0.5, color="gray", lw=1)
    ax.set_xticks(range(n + 1), names + ["silent"], fontsize=7)
    ax.set_yticks(range(n), names, fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    total = int(cm.sum())
    acc = float(np.trace(cm[:, :n])) / total if total else 0.0
    ax.set_title(f"{title}\naccuracy {acc:.4f} on {total} samples", fontsize=8)
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    cb.set_label("fraction of the true class", fontsize=7)
    cb.ax.tick_params(labelsize=6)
    return save_figure(fig, path, fmt, dpi)


# ---- raster --------------------------------------------------------------------------------------
def plot_sample_raster(record: np.ndarray, network, path: PathLike, title: str, *, start_tick: int,
                       n_ticks: int, events: Optional[np.ndarray] = None, sample_start_us: int = 0,
                       true_label: Optional[int] = None, predicted: Optional[int] = None,
                       fmt: str = "png", dpi: int = 150) -> Path:
    """One sample: ``record`` rows ``(tick, layer, kind, neuron)`` (kind 0 learning, 1 inference; public
    index); ``events`` the sample's input events (stream time, us), drawn beneath as pixel index
    ``(p * H + y) * W + x`` coloured by polarity. Time axis: ms from the sample's start."""
    dt_ms = network.dt_us / 1000.0
    rec = np.asarray(record, np.int64).reshape(-1, 4)
    rec = rec[(rec[:, 0] >= start_tick) & (rec[:, 0] < start_tick + n_ticks)]
    t0_us = start_tick * network.dt_us if sample_start_us is None else sample_start_us
    layers = network.learning_layers
    n_panels = len(layers) + (events is not None)
    fig = _figure(7.5, 1.2 + 1.5 * n_panels, dpi)
    axes = fig.subplots(n_panels, 1, sharex=True, squeeze=False)[::-1, 0]  # bottom panel first
    if events is not None:
        ax = axes[0]
        W, H, P = network.sensor_size
        ev = np.asarray(events)
        idx = (ev["p"].astype(np.int64) * H + ev["y"]) * W + ev["x"]
        t_ms = (ev["t"].astype(np.int64) - t0_us) / 1000.0
        for p, colour in zip(range(P), ("tab:blue", "tab:red", "tab:green")):
            sel = ev["p"] == p
            ax.plot(t_ms[sel], idx[sel], ",", color=colour, rasterized=True,
                    label=f"{'OFF' if P == 2 and p == 0 else 'ON' if P == 2 else f'p={p}'} ({int(sel.sum())})")
        ax.set_ylabel("input\npixel", fontsize=7)
        ax.set_ylim(-0.5, W * H * P - 0.5)
        ax.legend(fontsize=6, loc="upper right", markerscale=8)
        ax.tick_params(labelsize=7)
    for li, layer in enumerate(layers):
        ax = axes[li + (events is not None)]
        mine = rec[rec[:, 1] == li]
        for kind, style, colour, label in ((1, ".", "tab:blue", "inference"), (0, "x", "tab:red", "learning")):
            sel = mine[mine[:, 2] == kind]
            ax.plot((sel[:, 0] - start_tick + 0.5) * dt_ms, sel[:, 3], style, color=colour,
                    ms=2 if kind else 3, mew=0.6, label=f"{label} ({len(sel)})", rasterized=True)
        ax.set_ylim(-0.5, layer.n_neurons - 0.5)
        ax.set_ylabel(f"{layer.name}\nneuron", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="upper right", markerscale=2)
    axes[0].set_xlim(0, n_ticks * dt_ms)
    axes[0].set_xlabel("time from the sample's start (ms)")
    marks = []
    if true_label is not None:
        marks.append(f"true class {true_label}")
    if predicted is not None:
        marks.append("predicted " + ("silent" if predicted < 0 else f"class {predicted}")
                     + ("" if true_label is None else (" (correct)" if predicted == true_label else " (wrong)")))
    fig.suptitle(title + ("\n" + ", ".join(marks) if marks else ""), fontsize=8)
    return save_figure(fig, path, fmt, dpi)


# ---- features -------------------------------------------------------------------------------------
def _tile_grid(tiles: np.ndarray, n_cols: int) -> np.ndarray:
    n, h, w = tiles.shape
    n_rows = -(-n // n_cols)
    img = np.full((n_rows * (h + 1) - 1, n_cols * (w + 1) - 1), np.nan)
    for i in range(n):
        r, c = divmod(i, n_cols)
        img[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = tiles[i]
    return img


def plot_layer_features(network, layer_name: str, path: PathLike, title: str, *,
                        activity: Optional[np.ndarray] = None, max_maps: int = 64,
                        fmt: str = "png", dpi: int = 150) -> Path:
    """Preferred inputs (:mod:`.features`) of the maps of one layer.

    Two polarities: each tile is ``ON - OFF`` on a diverging scale symmetric about 0, shared by
    every tile of the figure (red ON, blue OFF). One polarity: the feature on a sequential scale
    from 0. ``activity`` (inference spikes per map, e.g. from an evaluation): maps that never fired
    are crossed out, and when a layer has more than ``max_maps`` maps the most active ones are shown
    (otherwise the first ones), which the title says.
    """
    feats = dict(feature_images(network))
    if layer_name not in feats:
        from ..errors import ParameterError

        raise ParameterError(f"no layer {layer_name!r}; layers: {list(feats)}")
    feat = feats[layer_name]
    n_maps, P = feat.shape[0], feat.shape[1]
    order = np.arange(n_maps)
    how = "all maps"
    if n_maps > max_maps:
        if activity is not None:
            order = np.argsort(-np.asarray(activity), kind="stable")[:max_maps]
            how = f"the {max_maps} most active of {n_maps} maps"
        else:
            order = order[:max_maps]
            how = f"the first {max_maps} of {n_maps} maps"
    if P == 2:
        img_tiles = feat[order, 1] - feat[order, 0]
        lim = float(np.max(np.abs(img_tiles))) or 1.0
        cmap, vmin, vmax, label = "RdBu_r", -lim, lim, "ON - OFF preferred input (shared scale)"
    else:
        img_tiles = feat[order].sum(axis=1)
        lim = float(np.max(img_tiles)) or 1.0
        cmap, vmin, vmax, label = "magma", min(0.0, float(img_tiles.min())), lim, "preferred input (shared scale)"
    n = len(order)
    n_cols = int(np.ceil(np.sqrt(n)))
    grid = _tile_grid(img_tiles, n_cols)
    h, w = img_tiles.shape[1:]
    fig = _figure(min(9.0, 1.0 + 0.55 * n_cols * max(1, w / 8)), min(9.0, 1.2 + 0.55 * (-(-n // n_cols)) * max(1, h / 8)), dpi)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    dead = 0
    if activity is not None:
        act = np.asarray(activity)
        for k, m in enumerate(order):
            if act[m] == 0:
                dead += 1
                r, c = divmod(k, n_cols)
                y0, x0 = r * (h + 1) - 0.5, c * (w + 1) - 0.5
                ax.plot([x0, x0 + w], [y0, y0 + h], color="black", lw=0.8)
                ax.plot([x0, x0 + w], [y0 + h, y0], color="black", lw=0.8)
    ax.set_axis_off()
    layer = network.layer(layer_name)
    silent = "" if activity is None else f"; {int(np.sum(np.asarray(activity) == 0))} of {n_maps} maps silent (crossed)"
    ax.set_title(f"{title}\n{layer.describe()}: {how}, each {h}x{w} sensor px{silent}", fontsize=7)
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    cb.set_label(label, fontsize=7)
    cb.ax.tick_params(labelsize=6)
    return save_figure(fig, path, fmt, dpi)


# ---- learning curve ----------------------------------------------------------------------------
def plot_learning_curve(samples: Sequence[int], accuracy: Sequence[float], path: PathLike, title: str, *,
                        epoch_samples: Optional[int] = None, n_epochs: int = 1,
                        validation: Sequence[Tuple[int, float]] = (), chance: Optional[float] = None,
                        window: int = 1000, fmt: str = "png", dpi: int = 150) -> Path:
    fig = _figure(6.0, 3.4, dpi)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(np.asarray(samples), np.asarray(accuracy), color="tab:blue",
            label=f"online running accuracy (last {window} samples, test-then-train)")
    if epoch_samples:
        for e in range(1, n_epochs):
            ax.axvline(e * epoch_samples, color="gray", lw=0.8, ls=":")
            ax.text(e * epoch_samples, 0.02, f" epoch {e + 1}", fontsize=6, color="gray")
    if len(validation):
        v = np.asarray(validation, float).reshape(-1, 2)
        ax.plot(v[:, 0], v[:, 1], "o", color="tab:orange", ms=5, label="validation (learning off)")
        for x, y in v:
            ax.annotate(f"{y:.3f}", (x, y), textcoords="offset points", xytext=(-10, 6), fontsize=6)
    if chance is not None:
        ax.axhline(chance, color="gray", ls="--", lw=0.8, label="chance")
    ax.set_ylim(0, 1)
    ax.set_xlabel("training samples seen")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="lower right")
    return save_figure(fig, path, fmt, dpi)


# ---- weights -----------------------------------------------------------------------------------
def plot_weight_history(history, path: PathLike, title: str, fmt: str = "png", dpi: int = 150) -> Path:
    """``history``: a :class:`stdpnet.viz.history.WeightHistory`; first, middle and last snapshot."""
    names = list(history.counts)
    picks = history.first_middle_last()
    fig = _figure(3.0 * max(1, len(names)), 2.9, dpi)
    colours = ("tab:gray", "tab:orange", "tab:blue")
    for k, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), k + 1)
        edges = history.edges[name]
        for colour, i in zip(colours[-len(picks):], picks):
            counts = history.counts[name][i]
            ax.stairs(counts, edges, color=colour, lw=1.2, label=f"after {history.samples[i]:,} samples")
        ax.set_yscale("symlog", linthresh=1)
        ax.set_xlabel("weight w (dimensionless)", fontsize=7)
        ax.set_ylabel("synapses" if k == 0 else "", fontsize=7)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=5)
    fig.suptitle(title + "\nweight histograms over training", fontsize=8)
    return save_figure(fig, path, fmt, dpi)


def layer_activity(report_spikes: Dict[str, np.ndarray], name: str) -> Optional[np.ndarray]:
    """Per-map activity from a per-neuron (public fhw) inference-spike count array."""
    counts = report_spikes.get(name)
    return None if counts is None else np.asarray(counts)


def map_activity(network, neuron_counts: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Per-map inference spikes from per-neuron (fhw) counts: sum over each map's positions."""
    out = {}
    for layer in network.learning_layers:
        c = neuron_counts.get(layer.name)
        if c is not None:
            out[layer.name] = np.asarray(c).reshape(layer.n_maps, -1).sum(axis=1)
    return out


def write_figures(out_dir: PathLike, network, title: str, *, confusion=None, raster=None, curve=None,
                  history=None, activity: Optional[Dict[str, np.ndarray]] = None, n_classes: Optional[int] = None,
                  fmt: str = "png", dpi: int = 150) -> List[Path]:
    """The full set for one run (whatever data is given): features of every layer, confusion,
    raster, learning curve, weight history. ``raster``: dict of :func:`plot_sample_raster`'s keyword
    arguments plus ``record``; ``curve``: dict of :func:`plot_learning_curve`'s (``samples``,
    ``accuracy``, ...)."""
    out = Path(out_dir)
    paths = []
    for layer in network.learning_layers:
        act = None if activity is None else activity.get(layer.name)
        paths.append(plot_layer_features(network, layer.name, out / f"features_{layer.name}", title,
                                         activity=act, fmt=fmt, dpi=dpi))
    if confusion is not None:
        paths.append(plot_confusion(confusion, out / "confusion", title, fmt, dpi))
    if raster is not None and raster.get("record") is not None:
        r = dict(raster)
        paths.append(plot_sample_raster(r.pop("record"), network, out / "raster", r.pop("title", title),
                                        fmt=fmt, dpi=dpi, **r))
    if curve is not None and len(curve.get("samples", ())):
        c = dict(curve)
        paths.append(plot_learning_curve(c.pop("samples"), c.pop("accuracy"), out / "learning_curve", title,
                                         chance=None if not n_classes else 1.0 / n_classes, fmt=fmt, dpi=dpi, **c))
    if history is not None and history.samples:
        paths.append(plot_weight_history(history, out / "weights", title, fmt, dpi))
    return paths


def write_run_plots(run, raster=None, fmt: str = "png", dpi: int = 150) -> List[Path]:
    """The full figure set of a run object (``run.dir``, ``run.network``, ``run.accuracy``, and what
    the run recorded: ``run.history``, the last evaluation's confusion and activity) into
    ``run.dir / 'plots'``."""
    net = run.network
    title = f"{Path(run.dir).name}: {net.spec.text}"
    log = getattr(getattr(run, "accuracy", None), "log", None) or []
    curve = None
    if log:
        curve = {"samples": [e["samples"] for e in log], "accuracy": [e["running_accuracy"] for e in log]}
        extra = getattr(run, "curve_extra", None)
        if extra:
            curve.update(extra)
    report = getattr(run, "last_eval", None) or {}
    activity = None
    if raster is not None and raster.get("neuron_counts") is not None:
        activity = map_activity(net, raster["neuron_counts"])
    r = None
    if raster is not None and raster.get("record") is not None:
        r = {k: raster[k] for k in ("record", "start_tick", "n_ticks", "events", "sample_start_us",
                                    "true_label", "predicted") if k in raster}
        r["title"] = f"{title}, validation sample {raster.get('sample', '?')}"
    return write_figures(Path(run.dir) / "plots", net, title, confusion=report.get("confusion"), raster=r,
                         curve=curve, history=getattr(run, "history", None), activity=activity,
                         n_classes=getattr(run, "n_classes", None), fmt=fmt, dpi=dpi)
