"""Online training on a labelled event stream, with run directories, checkpoints and exact resume.

Protocol (SPEC section 9): one continuous stream of the training samples (``epochs`` passes, each
in a fresh seeded order), learning on in every layer at once, no reset between samples; the
readout learns online at the same time (its test-then-train decisions give the running
accuracy). For the spike-count readout a labelling pass follows with learning off. Then the
validation samples are evaluated with learning off.

A run directory holds ``config.json`` (everything needed to rebuild the run), ``checkpoint.npz``
(network + readout + progress, written atomically), ``metrics.json``, ``eval.json`` and
``plots/``. A run interrupted (Ctrl-C, or ``stop_after_samples``) saves a checkpoint at the last
completed chunk; :func:`train` with ``resume=True`` replays the deterministic stream up to the
network's tick and continues bit-identically.
"""
from __future__ import annotations

import copy
import json
import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional

import numpy as np

import streams
from . import checkpoint
from .errors import CheckpointError, SpecError
from .metrics import PassStats, RunningAccuracy
from .network import Network
from .readouts import make_readout
from .sources import open_source
from .spec import PRESETS, parse_spec, resolve_config

CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.npz"
METRICS_FILE = "metrics.json"
EVAL_FILE = "eval.json"

DEFAULT_TRAINING = {"readout": {"kind": "classifier"}, "epochs": 1, "val_fraction": 0.2,
                    "gap_us": 0, "data": "synthetic"}


def build_config(net: str = "synthetic", data: Optional[str] = None, readout: Optional[str] = None,
                 epochs: Optional[int] = None, seed: int = 0, config_file: Optional[Dict] = None,
                 max_train: Optional[int] = None, max_val: Optional[int] = None,
                 val_fraction: Optional[float] = None) -> Dict[str, Any]:
    """The full, resolved configuration of a run. Precedence: explicit arguments > ``config_file``
    (a dict from TOML: network keys plus an optional ``[training]`` table) > the preset's training
    defaults > :data:`DEFAULT_TRAINING`."""
    file_cfg = copy.deepcopy(config_file or {})
    file_training = file_cfg.pop("training", {})
    net_name = file_cfg.pop("net", net) if net == "synthetic" and "net" in file_cfg else net
    network = resolve_config(net_name, {**file_cfg, "seed": seed})
    training = copy.deepcopy(DEFAULT_TRAINING)
    preset_training = PRESETS.get(net_name, {}).get("training", {})
    for layer in (preset_training, file_training):
        for k, v in layer.items():
            training[k] = {**training[k], **v} if isinstance(v, dict) and isinstance(training.get(k), dict) else v
    if readout is not None and readout != training["readout"].get("kind"):
        training["readout"] = {"kind": readout, **preset_training.get("readouts", {}).get(readout, {})}
    training.pop("readouts", None)
    for key, value in (("data", data), ("epochs", epochs), ("max_train", max_train),
                       ("max_val", max_val), ("val_fraction", val_fraction)):
        if value is not None:
            training[key] = value
    if "{data_root}" in str(training["data"]):
        root = streams.data_root()
        if root is None:
            raise SpecError(f"preset {net_name!r} reads its data from the data folder, which is absent: "
                            "pass --data SOURCE or set STDPNET_DATA")
        training["data"] = training["data"].replace("{data_root}", str(root))
    if training["readout"].get("kind") == "rstdp":
        # R-STDP is the top layer's rule, chosen when the network is built (the readout reads it)
        rates = training["readout"].pop("rstdp", {})
        top = parse_spec(network["net"]).learning_layers[-1].name
        layer = network.setdefault("layers", {}).setdefault(top, {})
        layer["rule"] = "rstdp"
        layer["rstdp"] = {**layer.get("rstdp", {}), **rates}
    if int(training["epochs"]) < 1:
        raise SpecError(f"epochs must be >= 1, got {training['epochs']}")
    return {"network": network, "training": training, "seed": int(seed)}


class StopRequest:
    """Set by Ctrl-C (first press: finish the chunk, save, stop; second press: abort at once)."""

    def __init__(self):
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    @contextmanager
    def on_sigint(self):
        def handler(signum, frame):
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True

        try:
            previous = signal.signal(signal.SIGINT, handler)
        except ValueError:  # not in the main thread: no handler, nothing to restore
            yield self
            return
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


def run_pass(network: Network, readout, chunks: Iterable, learn: bool, stats: PassStats,
             accuracy: Optional[RunningAccuracy] = None, progress=None,
             should_stop: Callable[[], bool] = lambda: False, skip_before_tick: int = 0,
             on_result: Optional[Callable] = None, record_chunks: int = 0) -> tuple:
    """Feed ``chunks`` to the network and the readout. Returns ``(outcomes, stopped)``.

    Chunks starting before ``skip_before_tick`` are skipped (resume). ``learn`` is the readout's
    learning switch; the network's own learning flags are set by the caller. The first
    ``record_chunks`` chunks record every spike (``result.record``) for ``on_result``.
    """
    outcomes: List = []
    n_run = 0
    for chunk in chunks:
        if chunk.start_tick < skip_before_tick:
            continue
        t0 = time.perf_counter()
        result = network.run(chunk, record=n_run < record_chunks)
        n_run += 1
        done = readout.process(result, chunk, network, learn)
        wall = time.perf_counter() - t0
        stats.add_chunk(len(chunk.events), chunk.n_ticks, wall, result.counts)
        stats.samples += len(done)
        outcomes.extend(done)
        if accuracy is not None:
            accuracy.add(done, {"events_per_s": stats.events / max(stats.wall_s, 1e-9)})
        if on_result is not None:
            on_result(result, chunk)
        if progress is not None and done:
            progress.update(len(done))
            post = {"ev/s": f"{stats.events / max(stats.wall_s, 1e-9):,.0f}"}
            if accuracy is not None:
                post["acc"] = f"{accuracy.value:.3f}"
            progress.set_postfix(post, refresh=False)
        if should_stop():
            return outcomes, True
    return outcomes, False


def make_stream(source, indices, network: Network, training: Dict[str, Any], epochs: int = 1,
                shuffle: bool = False, seed: int = 0, start_us: Optional[int] = None):
    """A lazy labelled stream of ``indices`` and its tick chunks; by default it starts where the
    network's clock stands, so successive passes form one continuous stream."""
    if start_us is None:
        start_us = network.now * network.dt_us
    stream = streams.LabelledStream(source.dataset, indices=indices, gap_us=int(training.get("gap_us", 0)),
                                    epochs=epochs, shuffle=shuffle, seed=seed, start_us=start_us)
    return stream, streams.tick_chunks(stream, dt_us=network.dt_us, start_tick=start_us // network.dt_us)


def _progress_bar(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="sample", dynamic_ncols=True)


class Run:
    """A run directory and the live objects of the run it holds."""

    def __init__(self, directory, config: Dict[str, Any]):
        self.dir = Path(directory)
        self.config = config
        training = config["training"]
        self.network = Network.from_config(config["network"])
        self.source = open_source(training["data"], seed=config["seed"])
        self._check_sensor()
        self.n_classes = self.source.n_classes
        self.train_idx, self.val_idx = self.source.split(
            float(training.get("val_fraction", 0.2)), seed=config["seed"],
            max_train=training.get("max_train"), max_val=training.get("max_val"))
        params = {k: v for k, v in training["readout"].items() if k != "kind"}
        self.readout = make_readout(training["readout"]["kind"], self.network, self.n_classes, **params)
        self.accuracy = RunningAccuracy()
        self.phase = "train"

    def _check_sensor(self):
        if tuple(self.source.sensor_size) != tuple(self.network.sensor_size):
            W, H, P = self.source.sensor_size
            raise SpecError(
                f"data {self.source.text!r} has sensor {W}x{H}x{P} but network "
                f"{self.network.spec.text!r} expects {'x'.join(map(str, self.network.sensor_size))}; "
                "choose a matching --net (presets: nmnist for N-MNIST, mnist_reference for MNIST, "
                "synthetic for the built-in stream)"
            )

    # ---- persistence ------------------------------------------------------------------------
    def save(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        state = {"network": self.network.state_dict(), "readout": self.readout.state_dict(),
                 "accuracy": self.accuracy.state_dict(), "phase": self.phase}
        return checkpoint.save(self.dir / CHECKPOINT_FILE, state)

    def restore(self) -> None:
        state = checkpoint.load(self.dir / CHECKPOINT_FILE)
        self.network.load_state_dict(state["network"])
        self.readout.load_state_dict(state["readout"])
        self.accuracy.load_state_dict(state["accuracy"])
        self.phase = state["phase"]

    @classmethod
    def open(cls, directory) -> "Run":
        directory = Path(directory)
        cfg_path = directory / CONFIG_FILE
        if not cfg_path.exists():
            raise CheckpointError(f"{directory} is not a stdpnet run directory (no {CONFIG_FILE})")
        run = cls(directory, json.loads(cfg_path.read_text()))
        run.restore()
        return run

    def write_json(self, name: str, data: Dict[str, Any]) -> Path:
        path = self.dir / name
        path.write_text(json.dumps(data, indent=1, default=_json_default))
        return path


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o)}")


def train(config: Dict[str, Any], out_dir, resume: bool = False, progress: bool = True,
          stop_after_samples: Optional[int] = None, make_plots: bool = True) -> Dict[str, Any]:
    """Train (or resume) a run; returns a summary dict (also written to ``metrics.json``/``eval.json``)."""
    out_dir = Path(out_dir)
    if resume:
        run = Run.open(out_dir)
    else:
        if (out_dir / CHECKPOINT_FILE).exists():
            raise FileExistsError(
                f"{out_dir} already holds a run; pass --resume to continue it or choose another --out")
        run = Run(out_dir, config)
        run.dir.mkdir(parents=True, exist_ok=True)
        run.write_json(CONFIG_FILE, config)
    training = run.config["training"]
    net = run.network
    names = [l.name for l in net.learning_layers]
    stop = StopRequest()
    summary: Dict[str, Any] = {"run_dir": str(out_dir), "network": net.spec.text,
                               "data": training["data"], "readout": training["readout"]["kind"],
                               "epochs": int(training["epochs"]), "train_samples": int(len(run.train_idx)),
                               "val_samples": int(len(run.val_idx))}
    if run.phase == "train":
        # the training stream starts at tick 0; a resumed run replays it and skips what was done
        stream, chunks = make_stream(run.source, run.train_idx, net, training, epochs=int(training["epochs"]),
                                     shuffle=True, seed=run.config["seed"], start_us=0)
        skip = net.now
        stats = PassStats(names)
        if stop_after_samples is not None:
            limit = stop_after_samples
            should_stop = lambda: stop() or run.accuracy.samples >= limit
        else:
            should_stop = stop
        bar = _progress_bar(len(stream), "train", progress)
        if bar is not None:
            bar.update(run.accuracy.samples)
        with stop.on_sigint():
            _, stopped = run_pass(net, run.readout, chunks, True, stats, run.accuracy, bar,
                                  should_stop, skip_before_tick=skip)
        if bar is not None:
            bar.close()
        if not stopped:
            last = run.readout.flush(net)
            stats.samples += len(last)
            run.accuracy.add(last)
            run.phase = "trained"
        run.save()
        summary["train"] = stats.summary(net.dt_us)
        summary["running_accuracy"] = run.accuracy.value
        if stopped:
            summary["interrupted"] = True
            run.write_json(METRICS_FILE, {**summary, "curve": run.accuracy.log})
            return summary
    if run.phase == "trained":
        if getattr(run.readout, "needs_label_pass", False):
            _label_pass(run, progress)
        run.phase = "done"
        run.save()
    from .evaluation import evaluate

    report = evaluate(run, run.val_idx, progress=progress, record_first=make_plots)
    raster = report.pop("raster", None)
    summary["validation"] = report
    summary["running_accuracy"] = run.accuracy.value
    run.write_json(METRICS_FILE, {**summary, "curve": run.accuracy.log})
    run.write_json(EVAL_FILE, report)
    if make_plots:
        from .viz.figures import write_run_plots

        summary["plots"] = [str(p) for p in write_run_plots(run, raster)]
    return summary


def _label_pass(run: Run, progress: bool) -> None:
    """Spike-count labelling: learning off, the training samples once, in order."""
    net = run.network
    learning = [l.params.learning for l in net.learning_layers]
    net.set_learning(False)
    run.readout.start_label_pass()
    _, chunks = make_stream(run.source, run.train_idx, net, run.config["training"])
    bar = _progress_bar(len(run.train_idx), "label", progress)
    run_pass(net, run.readout, chunks, True, PassStats([l.name for l in net.learning_layers]), None, bar)
    run.readout.flush(net)
    if bar is not None:
        bar.close()
    for layer, on in zip(net.learning_layers, learning):
        layer.set_learning(on)
