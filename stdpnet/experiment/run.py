"""A run's live objects: its directory, configuration, data source, stored split, network, readout
and progress, and their checkpoint."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from streams.recordings import SkipBad

from ..viz.history import WeightHistory
from ..errors import ConfigError, ParameterError, RunDirError, SpecError
from ..metrics import PassStats, RunningAccuracy
from ..network import Network
from ..sources import Source, check_fits, open_source
from .config import RunConfig
from .rundir import RunDir, StoredSplit

#: Phases of a run, in order: learning online, then (spike-count readout) labelling, then done.
PHASES = ("train", "trained", "done")


def build_network(config: RunConfig) -> Network:
    try:
        return Network.from_config(config.network_dict())
    except (ParameterError, SpecError) as e:
        raise ConfigError(f"network ({config.network.net}): {e}") from None


def build_readout(config: RunConfig, network: Network, source: Source):
    """The configured readout, or ``None`` for an unlabelled source (features only)."""
    if not source.labelled:
        return None
    from ..readouts import make_readout

    params = dict(config.readout.params)
    if config.readout.kind == "classifier" and params.get("seed") is None:
        params["seed"] = config.seed  # the run's seed reaches every random choice, the readout's too
    try:
        return make_readout(config.readout.kind, network, source.n_classes, **params)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"readout ({config.readout.kind}): {e}") from None


def open_run_source(config: RunConfig, command: str = "train", text: Optional[str] = None) -> Source:
    """The run's data source (or ``text``), resolved with the run's seed and window."""
    return open_source(text or config.data.source, command=command, seed=config.seed,
                       window_us=config.data.window_us)


class Run:
    """The live objects of one run (see the module docstring). Build with :meth:`create` (new run
    directory) or :meth:`open` (an existing one, restored from its checkpoint)."""

    def __init__(self, rundir: RunDir, config: RunConfig, source: Source, split: StoredSplit,
                 network: Optional[Network] = None):
        self.dir = rundir
        self.config = config
        self.source = source
        self.split = split
        self.network = network or build_network(config)
        check_fits(source, self.network)
        self.readout = build_readout(config, self.network, source)
        self.accuracy = RunningAccuracy()
        self.phase = "train"
        self.train_stats = PassStats(self.layer_names)
        self.history = WeightHistory()  # weight histograms over training (figures)
        self.dataset = SkipBad(source.dataset) if config.training.on_bad == "skip" else source.dataset

    @property
    def layer_names(self):
        return [l.name for l in self.network.learning_layers]

    @property
    def train_idx(self) -> np.ndarray:
        return self.split.train

    @property
    def val_idx(self) -> np.ndarray:
        return self.split.val

    @property
    def skipped(self) -> Dict[int, str]:
        """Bad samples skipped so far (``on_bad = "skip"``): ``{index: message}``."""
        return dict(getattr(self.dataset, "skipped", {}))

    # -- creation -----------------------------------------------------------------------------
    @classmethod
    def create(cls, out_dir, config: RunConfig, *, source: Any = None) -> "Run":
        """Check everything (source, sensor, readout), then make the run directory (locked) with its
        config, metadata and split. ``source``: a data set object or SOURCE text replacing
        ``config.data.source`` (a data set object cannot be saved: such a run cannot be resumed)."""
        if isinstance(source, str):  # another SOURCE text: it becomes the run's data
            from streams.sources import canonical_source

            config = replace(config, data=replace(config.data, source=canonical_source(source)))
            source = None
        src = open_source(source, seed=config.seed, window_us=config.data.window_us) if source is not None \
            else open_run_source(config)
        network = build_network(config)
        check_fits(src, network)
        d = config.data
        train, val = src.split(d.val_fraction, seed=config.seed, max_train=d.max_train, max_val=d.max_val)
        if len(train) == 0:
            raise ConfigError(f"data.source: {src.text} leaves no training sample (max_train, val_fraction)")
        split = StoredSplit.of(src, train, val)
        run = cls.__new__(cls)
        rundir = RunDir.create(out_dir, config)
        try:
            cls.__init__(run, rundir, config, src, split, network)
            rundir.save_split(split)
        except BaseException:
            rundir.close()
            raise
        return run

    @classmethod
    def open(cls, path, *, lock: bool = True, on_bad: Optional[str] = None, source: Any = None) -> "Run":
        """Open a run directory and restore its checkpoint (a run without one starts afresh).
        ``on_bad`` replaces the saved ``training.on_bad`` (and is saved). ``source``: the data set
        object a run made from Python was trained on (it cannot be saved)."""
        rundir = RunDir.open(path, lock=lock)
        try:
            config = rundir.config()
            if on_bad is not None and on_bad != config.training.on_bad:
                d = config.to_dict()
                d["training"]["on_bad"] = on_bad
                config = RunConfig.from_dict(d)
                if lock:
                    rundir.write_json("config.json", config.to_dict())
            stored = rundir.load_split()
            if stored.fingerprint.get("kind") == "live" and source is not None:
                # a live run has no stored split: it is evaluated on the recorded data given
                src = open_source(source, seed=config.seed, window_us=config.data.window_us)
                run = cls(rundir, config, src, stored)
                if rundir.has_checkpoint():
                    run.restore()
                return run
            if source is not None:
                src = open_source(source, seed=config.seed, window_us=config.data.window_us)
            elif stored.fingerprint.get("kind") == "live":
                raise RunDirError(f"{rundir.path} learned from the live source {stored.fingerprint.get('source')}; "
                                  "evaluate it on recorded data: stdpnet eval RUN --data SOURCE")
            elif stored.fingerprint.get("kind") == "dataset":
                raise RunDirError(f"{rundir.path} was trained on a data set object passed from Python; give it "
                                  "again (source=...) to continue or evaluate the run")
            else:
                src = open_run_source(config, "train")
            run = cls(rundir, config, src, stored.indices_in(src))
            if rundir.has_checkpoint():
                run.restore()
        except BaseException:
            rundir.close()
            raise
        return run

    def close(self) -> None:
        self.dir.close()

    # -- persistence --------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        s = self.train_stats
        return {"network": self.network.state_dict(),
                "readout": self.readout.state_dict() if self.readout is not None else {},
                "accuracy": self.accuracy.state_dict(), "phase": self.phase,
                "train_stats": {"samples": s.samples, "events": s.events, "ticks": s.ticks, "wall_s": s.wall_s,
                                "counts": s.counts.copy()},
                "skipped": {str(k): v for k, v in self.skipped.items()},
                "history": self.history.state_dict()}

    def save(self) -> Path:
        return self.dir.save_checkpoint(self.state_dict())

    def restore(self) -> None:
        state = self.dir.load_checkpoint()
        try:
            self.network.load_state_dict(state["network"])
            if self.readout is not None:
                self.readout.load_state_dict(state["readout"])
            self.accuracy.load_state_dict(state["accuracy"])
        except (KeyError, ValueError) as e:
            raise RunDirError(f"{self.dir.checkpoint_path} does not fit the run's configuration: {e}") from None
        self.phase = state["phase"]
        if state.get("history"):
            self.history.load_state_dict(state["history"])
        ts = state.get("train_stats")
        if ts:
            self.train_stats.samples, self.train_stats.events = int(ts["samples"]), int(ts["events"])
            self.train_stats.ticks, self.train_stats.wall_s = int(ts["ticks"]), float(ts["wall_s"])
            self.train_stats.counts = np.asarray(ts["counts"], np.int64).copy()
        if isinstance(self.dataset, SkipBad):
            self.dataset.skipped.update({int(k): v for k, v in state.get("skipped", {}).items()})
