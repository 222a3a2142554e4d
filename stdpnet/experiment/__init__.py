"""Experiments over the model: typed configuration, the sample loop, run directories, protocols.

``config`` (:class:`RunConfig`, :func:`merge_config`, :func:`build_config`), ``loop``
(:func:`~stdpnet.experiment.loop.run_pass`, :func:`~stdpnet.experiment.loop.learning_off`),
``rundir`` (:class:`RunDir`: lock, atomic files, stored split), ``run`` (:class:`Run`: the live
objects of a run), ``protocol`` (:func:`train`, :func:`resume`, :func:`evaluate`,
:func:`evaluate_run`, :func:`label_pass`).
"""
from .config import (DataConfig, NetworkConfig, ReadoutConfig, RunConfig, TrainingConfig, build_config,
                     load_config_file, merge_config)
from .loop import learning_off, run_pass
from .protocol import evaluate, evaluate_run, label_pass, resume, train
from .run import Run
from .rundir import RunDir, StoredSplit

__all__ = ["DataConfig", "NetworkConfig", "ReadoutConfig", "Run", "RunConfig", "RunDir", "StoredSplit",
           "TrainingConfig", "build_config", "evaluate", "evaluate_run", "label_pass", "learning_off",
           "load_config_file", "merge_config", "resume", "run_pass", "train"]
