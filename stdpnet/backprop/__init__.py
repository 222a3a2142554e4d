"""Backprop baselines on the STDP network's topology (optional extra: ``pip install 'stdpnet[backprop]'``).

Three methods, one trainer (:func:`train_method`), one evaluation (:func:`evaluate`):

* ``spikegrad``: the integer ANN equivalent to a non-leaky IF network with signed spikes
  (Thiele, thesis ch. 4; SPEC 11), input event-count images; :func:`spikegrad.simulate_if` runs
  the spiking network itself;
* ``surrogate``: a LIF network trained by backprop through time with a surrogate gradient,
  input time-binned events;
* ``cnn``: a ReLU CNN on event-count images, the accuracy ceiling.

``frames`` (event samples -> arrays), ``topology`` (spec -> layer shapes, parameters, op counts)
and the numba IF simulator need no JAX; everything else imports it lazily through
:func:`require_jax`, which raises :class:`stdpnet.errors.ConfigError` with the install hint.

Typical use::

    import streams
    from stdpnet import backprop as bp

    data = streams.NMNISTFolder(streams.data_root() / "nmnist" / "Train")
    train_idx, test_idx = streams.stratified_split(data.labels, 0.8, seed=0)
    fit_idx, val_idx = ...  # a stratified split of train_idx, for early stopping
    kind = bp.input_kind("spikegrad")                       # "counts" or "bins"
    x, y = bp.dataset_arrays(data, fit_idx, kind=kind)
    xv, yv = bp.dataset_arrays(data, val_idx, kind=kind)
    model = bp.train_method("spikegrad", "34x34x2-16C5-P2-128C5-P2-1024", x, y, xv, yv,
                            seed=0, n_classes=10)
    bp.evaluate(model, *bp.dataset_arrays(data, test_idx, kind=kind))
"""
from ._jax import INSTALL_HINT, require_jax
from .frames import count_frames, dataset_arrays, scale_time, time_bins
from .topology import LayerShape, Topology, build_topology, dense_macs, fan_out, init_params

__all__ = [
    "INSTALL_HINT", "LayerShape", "METHODS", "Topology", "TrainedModel", "build_topology",
    "count_frames", "dataset_arrays", "dense_macs", "evaluate", "export_static_layers", "fan_out",
    "init_params", "input_kind", "predict", "require_jax", "scale_time", "simulate_if", "untrained_model",
    "time_bins", "train_method",
]

_LAZY = {
    "METHODS": "train", "TrainedModel": "train", "train_method": "train", "predict": "train",
    "evaluate": "train", "input_kind": "train", "untrained_model": "train",
    "export_static_layers": "spikegrad", "simulate_if": "if_sim",
}


_SUBMODULES = ("cnn", "costs", "if_sim", "ops", "spikegrad", "surrogate", "train")


def __getattr__(name):  # PEP 562: the trainer and the methods load on first use
    import importlib
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
