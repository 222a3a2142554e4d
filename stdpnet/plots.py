"""Figures of a network and a run (SPEC section 10): learned features, weight histograms, the
running-accuracy learning curve and a spike raster.

Every function takes explicit data and an output path, writes one PNG and returns the path. They
draw with matplotlib's Agg canvas directly (no pyplot, no global backend switch, no open-figure
state), and render many small images as one mosaic per layer, so each takes well under a second
even for the ``nmnist`` preset (1024 dense features).

Feature reconstruction (the source's feature figures): a map's *preferred input* is built
recursively down to the sensor. Let ``F_l[g]`` be the feature image of map ``g`` of layer ``l`` in
sensor pixels, shape ``(P, S_l, S_l)`` (``P`` input polarities), and ``s_l`` the pitch, in sensor
pixels, of the grid that layer ``l``'s input units sit on. Then

    sensor:  F_0[c] = one-hot polarity c, S_0 = 1, s = 1
    Pk:      F'[f]  = sum_{dy,dx < k} shift(F[f], (dy, dx) * s),  S' = S + (k-1) s,  s' = k s
    conv:    F_l[g] = sum_{f,u,v} w[g,f,u,v] * shift(F_{l-1}[f], (u, v) * s),  S_l = S + (K-1) s

(a dense layer is a convolution whose kernel covers its whole input). Each map is normalised to
``[0, 1]`` for display (jointly over its polarities). A conv2 map of ``nmnist`` is ``2 x 14 x 14``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

PathLike = Union[str, Path]


# ---- feature reconstruction -----------------------------------------------------------------
def _pool_features(feat: np.ndarray, pitch: int, k: int) -> Tuple[np.ndarray, int]:
    """Pooling: a pooled unit's feature is the sum of its ``k x k`` source units' features."""
    n, p, sh, sw = feat.shape
    out = np.zeros((n, p, sh + (k - 1) * pitch, sw + (k - 1) * pitch))
    for dy in range(k):
        for dx in range(k):
            out[:, :, dy * pitch:dy * pitch + sh, dx * pitch:dx * pitch + sw] += feat
    return out, pitch * k


def _conv_features(weights: np.ndarray, feat: np.ndarray, pitch: int) -> np.ndarray:
    """``weights (G, F, kh, kw)`` over input features ``feat (F, P, Sh, Sw)`` -> ``(G, P, Sh', Sw')``."""
    g, f, kh, kw = weights.shape
    _, p, sh, sw = feat.shape
    out = np.zeros((g, p, sh + (kh - 1) * pitch, sw + (kw - 1) * pitch))
    flat = feat.reshape(f, -1)
    for u in range(kh):
        for v in range(kw):
            # one BLAS product per kernel offset: (G, F) @ (F, P*Sh*Sw)
            contrib = (weights[:, :, u, v] @ flat).reshape(g, p, sh, sw)
            out[:, :, u * pitch:u * pitch + sh, v * pitch:v * pitch + sw] += contrib
    return out


def feature_images(network) -> List[Tuple[str, np.ndarray]]:
    """Reconstructed preferred input of every map of every learning layer, bottom-up:
    ``[(layer name, array (F, P, S_h, S_w)), ...]`` in sensor pixels and polarities (unnormalised).
    See the module docstring for the recursion."""
    from .layers import Pool

    c0 = network.spec.input_shape[0]
    feat = np.eye(c0).reshape(c0, c0, 1, 1)
    pitch = 1
    out = []
    for layer in network.layers:
        if isinstance(layer, Pool):
            feat, pitch = _pool_features(feat, pitch, layer.k)
        else:
            feat = _conv_features(np.asarray(layer.weights, float), feat, pitch)
            out.append((layer.name, feat))
    return out


def _normalise(feat: np.ndarray) -> np.ndarray:
    """Per map to [0, 1], jointly over polarities and pixels."""
    flat = feat.reshape(len(feat), -1)
    lo = flat.min(axis=1)[:, None]
    span = flat.max(axis=1)[:, None] - lo
    return ((flat - lo) / np.where(span > 0, span, 1.0)).reshape(feat.shape)


def _mosaic(tiles: np.ndarray, n_cols: int, pad: int = 1, fill: float = np.nan) -> np.ndarray:
    """``tiles (N, h, w)`` -> one image of ``ceil(N / n_cols)`` rows, ``pad`` pixels between tiles."""
    n, h, w = tiles.shape
    n_rows = -(-n // n_cols)
    img = np.full((n_rows * (h + pad) - pad, n_cols * (w + pad) - pad), fill)
    for i in range(n):
        r, c = divmod(i, n_cols)
        img[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = tiles[i]
    return img


def _grey_rgb(img: np.ndarray) -> np.ndarray:
    """A [0, 1] image (NaN: padding, shown white) as uint8 RGB: cheap for matplotlib to draw."""
    g = np.where(np.isnan(img), 255, np.clip(img, 0, 1) * 230).astype(np.uint8)
    return np.repeat(g[:, :, None], 3, axis=2)


def _feature_tiles(feat: np.ndarray) -> np.ndarray:
    """``(F, P, Sh, Sw)`` normalised -> ``(F, Sh, P*Sw + P-1)``: the polarities side by side."""
    f, p, sh, sw = feat.shape
    tiles = np.full((f, sh, p * sw + (p - 1)), np.nan)
    for c in range(p):
        tiles[:, :, c * (sw + 1):c * (sw + 1) + sw] = feat[:, c]
    return tiles


def plot_features(network, path: PathLike, max_maps: Optional[int] = 256) -> Path:
    """Learned features of every learning layer, one panel per layer.

    First layer: its kernels, one tile per (polarity, map): rows are polarities, columns maps.
    Higher layers: the reconstructed preferred input of each map (module docstring), polarities
    side by side within a tile (``OFF | ON`` for a DVS), tiles in a grid. Each map normalised to
    [0, 1] (black = its smallest value). ``max_maps``: show at most that many maps per layer (the
    first ones; default 256, which keeps the figure readable and fast: ``None`` shows all).
    """
    layers = feature_images(network)
    p = network.spec.input_shape[0]
    fig = Figure(figsize=(4.5 * len(layers), 4.8), dpi=110)
    FigureCanvasAgg(fig)
    for k, (name, feat) in enumerate(layers):
        shown = feat if max_maps is None else feat[:max_maps]
        norm = _normalise(shown)
        ax = fig.add_subplot(1, len(layers), k + 1)
        if k == 0:
            f, _, kh, kw = norm.shape
            img = _mosaic(norm.transpose(1, 0, 2, 3).reshape(p * f, kh, kw), n_cols=f)
            title = f"{name}: {f} kernels {kh}x{kw}\nrows: polarity 0..{p - 1}"
        else:
            tiles = _feature_tiles(norm)
            n_cols = int(np.ceil(np.sqrt(len(tiles) * tiles.shape[1] / tiles.shape[2])))
            img = _mosaic(tiles, n_cols=max(n_cols, 1))
            title = (f"{name}: {len(feat)} maps" + (f" (first {len(shown)})" if len(shown) < len(feat) else "")
                     + f"\npreferred input {feat.shape[2]}x{feat.shape[3]} px"
                     + (", polarities side by side" if p > 1 else ""))
        ax.imshow(_grey_rgb(img), interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    fig.suptitle(f"learned features, {network.spec.text}", fontsize=9)
    return _save(fig, path)


# ---- weights ----------------------------------------------------------------------------------
def plot_weight_histograms(network, path: PathLike, bins: int = 50) -> Path:
    """Histogram of the weights of every learning layer (log count axis)."""
    layers = network.learning_layers
    fig = Figure(figsize=(3.2 * len(layers), 2.8), dpi=110)
    FigureCanvasAgg(fig)
    for k, layer in enumerate(layers):
        ax = fig.add_subplot(1, len(layers), k + 1)
        w = np.asarray(layer.w)
        counts, edges = np.histogram(w, bins=bins)
        ax.stairs(counts, edges, fill=True, color="tab:blue")
        ax.set_yscale("symlog", linthresh=1)
        ax.set_title(f"{layer.name} ({w.size} weights)\nmean {w.mean():.3f}, std {w.std():.3f}", fontsize=8)
        ax.set_xlabel("w", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _save(fig, path)


# ---- accuracy ---------------------------------------------------------------------------------
def plot_running_accuracy(samples: Sequence[float], accuracy: Sequence[float], path: PathLike,
                          second: Optional[Tuple[Sequence[float], Sequence[float]]] = None,
                          labels: Tuple[str, str] = ("online running accuracy", "second"),
                          title: str = "learning curve", chance: Optional[float] = None) -> Path:
    """Accuracy against samples seen; ``second = (samples, accuracy)`` adds another curve (e.g. a
    test accuracy); ``chance`` draws a dashed chance level."""
    fig = Figure(figsize=(5.5, 3.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(np.asarray(samples), np.asarray(accuracy), color="tab:blue", label=labels[0])
    if second is not None:
        ax.plot(np.asarray(second[0]), np.asarray(second[1]), "o-", color="tab:orange", ms=3, label=labels[1])
    if chance is not None:
        ax.axhline(chance, color="gray", ls="--", lw=0.8, label="chance")
    ax.set_ylim(0, 1)
    ax.set_xlabel("samples seen")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _save(fig, path)


# ---- raster -------------------------------------------------------------------------------------
def plot_raster(record: np.ndarray, network, path: PathLike, title: str = "spike raster",
                tick_range: Optional[Tuple[int, int]] = None) -> Path:
    """Spike raster of every learning layer for one sample (or any tick range).

    ``record``: rows ``(tick, layer, kind, neuron)`` from ``network.run(chunk, record=True)`` (kind
    0 = learning spike, 1 = inference spike; public neuron index). One panel per layer (neuron
    index against tick), inference spikes as blue dots, learning spikes as red crosses.
    """
    rec = np.asarray(record, np.int64).reshape(-1, 4)
    if tick_range is not None:
        rec = rec[(rec[:, 0] >= tick_range[0]) & (rec[:, 0] < tick_range[1])]
    layers = network.learning_layers
    fig = Figure(figsize=(7, 1.2 + 1.6 * len(layers)), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(layers), 1, sharex=True, squeeze=False)[:, 0]
    for li, (ax, layer) in enumerate(zip(axes, layers)):
        mine = rec[rec[:, 1] == li]
        for kind, style, colour, label in ((1, ".", "tab:blue", "inference"), (0, "x", "tab:red", "learning")):
            sel = mine[mine[:, 2] == kind]
            ax.plot(sel[:, 0], sel[:, 3], style, color=colour, ms=2 if kind else 3, mew=0.6,
                    label=f"{label} ({len(sel)})", rasterized=True)
        ax.set_ylim(-0.5, layer.n_neurons - 0.5)
        ax.set_ylabel(f"{layer.name}\nneuron", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="upper right", markerscale=2)
    if tick_range is not None:
        axes[-1].set_xlim(tick_range[0] - 0.5, tick_range[1] - 0.5)
    axes[-1].set_xlabel("tick")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig: Figure, path: PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


# ---- a run's figures -------------------------------------------------------------------------
def write_run_plots(run, raster: Optional[Dict[str, Any]] = None) -> List[Path]:
    """The standard figures of a run directory (``run.dir / 'plots'``): features, weight
    histograms, the running-accuracy curve (from ``run.accuracy.log``) and, when given, the raster
    of one evaluation sample (``{'record', 'start_tick', 'n_ticks', 'label'}``)."""
    out_dir = Path(run.dir) / "plots"
    net = run.network
    paths = [plot_features(net, out_dir / "features.png"),
             plot_weight_histograms(net, out_dir / "weights.png")]
    log = getattr(getattr(run, "accuracy", None), "log", None) or []
    if log:
        samples = [entry["samples"] for entry in log]
        acc = [entry["running_accuracy"] for entry in log]
        n_classes = getattr(run, "n_classes", None)
        paths.append(plot_running_accuracy(samples, acc, out_dir / "running_accuracy.png",
                                           chance=1.0 / n_classes if n_classes else None))
    if raster is not None and raster.get("record") is not None:
        start, n = int(raster.get("start_tick", 0)), raster.get("n_ticks")
        paths.append(plot_raster(raster["record"], net, out_dir / "raster.png",
                                 title=f"one sample (label {raster.get('label', '?')})",
                                 tick_range=None if n is None else (start, start + int(n))))
    return paths
