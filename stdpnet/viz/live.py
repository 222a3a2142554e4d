"""The live view: what a network learning from a live stream is doing, redrawn many times a second.

The learner never draws. It publishes a small :class:`LiveFrame` (a few arrays) to its observers;
the view draws the latest frame it has, in another process (``--view``: a window), or writes the
same panels as PNG files at a fixed interval (``--snapshots``, headless). Learning and drawing
therefore never block each other: a slow window only skips frames.

Panels: input activity of the last ``window_ms`` (events per pixel, ON red, OFF blue); each
layer's inference activity since the last frame (summed over maps: where in the field of view the
layer is active); conv1's kernels as they change (ON - OFF, shared scale); the top layer's most
active neurons; prediction and running accuracy when the stream is labelled; and the counters
(received, dropped, reduced, lag, real-time factor).
"""
from __future__ import annotations

import multiprocessing as mp
import queue
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


@dataclass
class LiveFrame:
    """One frame for the view (plain arrays; pickles cheaply between processes)."""

    t_s: float  # stream time, seconds
    input_on: np.ndarray  # (H, W) events in the last window, ON polarity (or the only one)
    input_off: Optional[np.ndarray]  # (H, W) OFF polarity, None for one-polarity sensors
    layer_activity: Dict[str, np.ndarray]  # layer -> (H_out, W_out) inference spikes since the last frame
    kernels: Optional[np.ndarray]  # conv1 weights (F, C, k, k)
    top_counts: np.ndarray  # top layer inference spikes since the last frame (public index)
    counters: Dict[str, Any] = field(default_factory=dict)
    prediction: Optional[int] = None
    label: Optional[int] = None
    accuracy: Optional[float] = None


def frame_from_network(network, t_s: float, input_events: np.ndarray, record_counts: Dict[str, np.ndarray],
                       counters: Dict[str, Any], prediction=None, label=None, accuracy=None) -> LiveFrame:
    """Build a frame: ``input_events`` the recent input (network input coordinates),
    ``record_counts`` per layer per-neuron (fhw) inference spike counts since the last frame."""
    W, H, P = network.sensor_size
    on = np.zeros((H, W), np.int32)
    off = np.zeros((H, W), np.int32) if P == 2 else None
    if len(input_events):
        x = np.minimum(input_events["x"].astype(np.int64), W - 1)
        y = np.minimum(input_events["y"].astype(np.int64), H - 1)
        p = input_events["p"].astype(np.int64)
        np.add.at(on, (y[p == P - 1], x[p == P - 1]), 1)
        if off is not None:
            np.add.at(off, (y[p == 0], x[p == 0]), 1)
    activity = {}
    for layer in network.learning_layers:
        c = record_counts.get(layer.name)
        if c is None:
            c = np.zeros(layer.n_neurons, np.int64)
        activity[layer.name] = np.asarray(c).reshape(layer.n_maps, *layer.out_hw).sum(axis=0)
    first = network.learning_layers[0]
    kernels = np.array(first.weights) if first.kind == "conv" else None
    top = record_counts.get(network.top.name, np.zeros(network.top.n_neurons, np.int64))
    return LiveFrame(t_s, on, off, activity, kernels, np.asarray(top), dict(counters), prediction, label, accuracy)


class LiveFigure:
    """The panels on one matplotlib figure; :meth:`draw` updates artists in place (fast)."""

    def __init__(self, frame: LiveFrame, title: str = "stdpnet live", figure: Optional[Figure] = None):
        self.fig = figure if figure is not None else Figure(figsize=(10, 6), dpi=72)
        if figure is None:
            FigureCanvasAgg(self.fig)
        names = [k for k, a in frame.layer_activity.items() if a.size > 1]  # dense layers: the top panel
        n = 4 + len(names)  # input, layers, kernels, top, text
        cols = (n + 1) // 2
        axes = [self.fig.add_subplot(2, cols, i + 1) for i in range(2 * cols)]
        for ax in axes[n:]:
            ax.set_axis_off()
        self.axes = axes
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
        self.fig.suptitle(title, fontsize=10)
        self.im_input = axes[0].imshow(self._input_rgb(frame), interpolation="nearest")
        axes[0].set_title("input, last window (ON red, OFF blue)", fontsize=8)
        self.im_layers = []
        for i, name in enumerate(names):
            ax = axes[1 + i]
            a = frame.layer_activity[name]
            self.im_layers.append(ax.imshow(a, cmap="viridis", interpolation="nearest", vmin=0, vmax=max(1, a.max())))
            ax.set_title(f"{name}: inference spikes / frame", fontsize=8)
        k_ax = axes[1 + len(names)]
        self.im_kernels = None
        if frame.kernels is not None:
            self.im_kernels = k_ax.imshow(self._kernel_mosaic(frame.kernels), cmap="RdBu_r", vmin=-1, vmax=1,
                                          interpolation="nearest")
            k_ax.set_title("conv1 kernels (ON - OFF)", fontsize=8)
        self.top_ax = axes[2 + len(names)]
        self.top_ax.set_title("top layer: inference spikes / frame", fontsize=8)
        grid = self._top_grid(frame.top_counts)
        self.im_top = self.top_ax.imshow(grid, cmap="magma", interpolation="nearest", vmin=0, vmax=1)
        self.text_ax = axes[n - 1]
        self.text_ax.set_axis_off()
        self.text = self.text_ax.text(0.0, 1.0, "", va="top", ha="left", fontsize=8, family="monospace",
                                      transform=self.text_ax.transAxes)
        self.names = names
        # blitting: the static parts (titles, frames) are drawn once; a frame redraws only its artists
        self._artists = [a for a in [self.im_input, self.im_kernels, self.im_top, self.text, *self.im_layers]
                         if a is not None]
        for a in self._artists:
            a.set_animated(True)
        self.fig.canvas.draw()
        self._background = self.fig.canvas.copy_from_bbox(self.fig.bbox)
        self.draw(frame)

    TOP_K = 5

    @staticmethod
    def _top_grid(counts: np.ndarray) -> np.ndarray:
        n = len(counts)
        side = int(np.ceil(np.sqrt(n)))
        grid = np.full(side * side, np.nan)
        grid[:n] = counts
        return grid.reshape(side, side)

    @staticmethod
    def _input_rgb(frame: LiveFrame) -> np.ndarray:
        on = frame.input_on.astype(float)
        off = frame.input_off.astype(float) if frame.input_off is not None else np.zeros_like(on)
        scale = max(1.0, float(np.percentile(np.maximum(on, off), 99)) if on.size else 1.0)
        rgb = np.ones(on.shape + (3,))
        rgb[..., 1] -= np.clip((on + off) / scale, 0, 1)
        rgb[..., 0] -= np.clip(off / scale, 0, 1)
        rgb[..., 2] -= np.clip(on / scale, 0, 1)
        return np.clip(rgb, 0, 1)

    @staticmethod
    def _kernel_mosaic(w: np.ndarray) -> np.ndarray:
        f, c, kh, kw = w.shape
        tiles = (w[:, 1] - w[:, 0]) if c == 2 else w[:, 0]
        n_cols = int(np.ceil(np.sqrt(f)))
        n_rows = -(-f // n_cols)
        img = np.full((n_rows * (kh + 1), n_cols * (kw + 1)), np.nan)
        for i in range(f):
            r, cc = divmod(i, n_cols)
            img[r * (kh + 1):r * (kh + 1) + kh, cc * (kw + 1):cc * (kw + 1) + kw] = tiles[i]
        return img

    def draw(self, frame: LiveFrame) -> None:
        """Update every artist from ``frame`` and redraw them over the cached background."""
        self.im_input.set_data(self._input_rgb(frame))
        for name, im in zip(self.names, self.im_layers):
            if im is not None:
                a = frame.layer_activity[name]
                im.set_data(a)
                im.set_clim(0, max(1, a.max()))
        if self.im_kernels is not None and frame.kernels is not None:
            self.im_kernels.set_data(self._kernel_mosaic(frame.kernels))
        top = np.asarray(frame.top_counts)
        self.im_top.set_data(self._top_grid(top))
        self.im_top.set_clim(0, max(1, int(top.max())) if len(top) else 1)
        winners = np.argsort(-top, kind="stable")[:self.TOP_K] if len(top) else []
        c = frame.counters
        lines = [f"stream time {frame.t_s:8.2f} s"]
        for key in ("received", "dropped_by_kernel", "dropped_by_buffer", "rejected", "reduced",
                    "processed_events", "lag_ms_p50", "lag_ms_p99", "realtime_factor", "frames_per_s"):
            if key in c and c[key] is not None:
                v = c[key]
                lines.append(f"{key:18s} {v:,.1f}" if isinstance(v, float) else f"{key:18s} {v:,}")
        if frame.label is not None or frame.prediction is not None:
            lines.append(f"label {frame.label}  predicted {frame.prediction}")
        if frame.accuracy is not None:
            lines.append(f"running accuracy {frame.accuracy:.3f}")
        lines.append("top winners " + " ".join(f"#{i}:{top[i]}" for i in winners if top[i] > 0))
        self.text.set_text("\n".join(lines))
        canvas = self.fig.canvas
        canvas.restore_region(self._background)
        for a in self._artists:
            a.axes.draw_artist(a)
        canvas.blit(self.fig.bbox)

    def rgba(self) -> np.ndarray:
        return np.asarray(self.fig.canvas.buffer_rgba())

    def png(self, path) -> Path:
        from matplotlib.image import imsave

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        imsave(path, self.rgba(), format="png")
        return path


class SnapshotWriter:
    """Observer: writes the panels of the latest frame as ``DIR/live_00001.png`` every ``every_s``
    seconds of wall time (headless)."""

    def __init__(self, directory, every_s: float = 1.0, title: str = "stdpnet live"):
        self.dir = Path(directory)
        self.every_s = float(every_s)
        self.title = title
        self._fig: Optional[LiveFigure] = None
        self._last = -np.inf
        self.written: List[Path] = []

    def __call__(self, frame: LiveFrame, force: bool = False) -> Optional[Path]:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return None
        self._last = now
        if self._fig is None:
            self._fig = LiveFigure(frame, self.title)
        else:
            self._fig.draw(frame)
        path = self._fig.png(self.dir / f"live_{len(self.written) + 1:05d}.png")
        self.written.append(path)
        return path


def _view_main(q, title: str) -> None:  # pragma: no cover - needs a display
    import matplotlib

    try:
        matplotlib.use("TkAgg")
    except Exception:  # noqa: BLE001 - any backend failure: the view cannot open
        return
    import matplotlib.pyplot as plt

    frame = q.get()
    if frame is None:
        return
    fig = plt.figure(figsize=(12, 6.5), dpi=80)
    view = LiveFigure(frame, title, figure=fig)
    plt.show(block=False)
    while plt.fignum_exists(fig.number):
        latest = None
        try:
            while True:  # drain: draw only the newest frame
                latest = q.get_nowait()
        except queue.Empty:
            pass
        if latest is None and not q.empty():
            break
        if latest is not None:
            view.draw(latest)
        fig.canvas.flush_events()
        time.sleep(0.01)


def _snapshot_main(q, directory: str, every_s: float, title: str) -> None:
    writer = SnapshotWriter(directory, every_s, title)
    while True:
        item = q.get()
        if item is None:
            return
        frame, force = item
        writer(frame, force=force)


class SnapshotProcess:
    """Observer: :class:`SnapshotWriter` in another process, so drawing never takes time from the
    learner; frames that find the queue full are skipped. The last frame (``force=True``) is always
    written."""

    def __init__(self, directory, every_s: float = 1.0, title: str = "stdpnet live"):
        ctx = mp.get_context("spawn")
        self.q = ctx.Queue(maxsize=2)
        self.proc = ctx.Process(target=_snapshot_main, args=(self.q, str(directory), float(every_s), title),
                                daemon=True)
        self.proc.start()
        self.every_s = float(every_s)
        self._last = -np.inf

    def __call__(self, frame: LiveFrame, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        try:
            if force:
                self.q.put((frame, True), timeout=5)
            else:
                self.q.put_nowait((frame, False))
            self._last = now
        except queue.Full:
            pass

    def close(self) -> None:
        try:
            self.q.put(None, timeout=5)
        except queue.Full:
            pass
        self.proc.join(timeout=30)
        if self.proc.is_alive():
            self.proc.terminate()


class WindowView:
    """Observer: a window in another process (matplotlib's Tk backend), fed the newest frames
    through a small queue; frames that find the queue full are skipped, never waited for."""

    def __init__(self, title: str = "stdpnet live"):
        import os

        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            from ..errors import ConfigError

            raise ConfigError("--view needs a display (no DISPLAY is set); use --snapshots DIR --every S "
                              "to write the same panels as PNG files")
        ctx = mp.get_context("spawn")
        self.q = ctx.Queue(maxsize=2)
        self.proc = ctx.Process(target=_view_main, args=(self.q, title), daemon=True)
        self.proc.start()

    def __call__(self, frame: LiveFrame, force: bool = False) -> None:
        try:
            self.q.put_nowait(frame)
        except queue.Full:
            pass

    def close(self) -> None:
        try:
            self.q.put_nowait(None)
        except queue.Full:
            pass
        self.proc.join(timeout=2)
        if self.proc.is_alive():
            self.proc.terminate()
