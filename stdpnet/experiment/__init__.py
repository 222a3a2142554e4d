"""Experiments over the model: typed configuration, the sample loop, run directories, protocols.

``config`` (:class:`RunConfig`, :func:`merge_config`), ``loop`` (:func:`run_pass`,
:func:`learning_off`), ``rundir`` (:class:`RunDir`), ``run`` (:class:`Run`: the live objects of a
run), ``protocol`` (:func:`train`, :func:`resume`, :func:`evaluate`, :func:`label_pass`).
"""
from .config import (DataConfig, NetworkConfig, ReadoutConfig, RunConfig, TrainingConfig, build_config,
                     load_config_file, merge_config)

__all__ = ["DataConfig", "NetworkConfig", "ReadoutConfig", "RunConfig", "TrainingConfig", "build_config",
           "load_config_file", "merge_config"]
