"""One trainer for the three baselines: ``spikegrad``, ``surrogate`` and ``cnn``.

``train_method`` trains with Adam on softmax cross-entropy, in mini-batches drawn from a seeded
numpy generator, and stops early on a validation split of the training data: after every epoch
the validation accuracy is measured, the best parameters kept (ties: lower validation loss), and
training stops ``patience`` epochs after the last improvement or at ``max_epochs``.
Deterministic: same seed and data -> bit-identical parameters (initialisation from numpy, fixed
batch order, fixed batch shapes: the last batch is padded with zero-weight samples).
"""
from __future__ import annotations

import functools
import importlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

from ..errors import ConfigError, ParameterError
from ._jax import require_jax, require_optax
from .costs import ENERGY_NOTE, energy_uj
from .topology import Topology, build_topology, init_params

METHODS = ("spikegrad", "surrogate", "cnn")
_INPUT_HELP = {"counts": "(N, C, H, W) event-count images: frames.dataset_arrays(dataset, idx, kind='counts')",
               "bins": "(N, T, C, H, W) time bins: frames.dataset_arrays(dataset, idx, kind='bins', n_bins=T)"}


def method_module(method: str):
    """The module implementing ``method`` (``NAME``, ``INPUT_KIND``, ``OP_KIND``,
    ``resolve_options``, ``forward``)."""
    if method not in METHODS:
        raise ConfigError(f"unknown backprop method {method!r}; choose one of {', '.join(METHODS)}")
    return importlib.import_module(f"{__package__}.{method}")


def input_kind(method: str) -> str:
    """``"counts"`` or ``"bins"``: what :func:`~.frames.dataset_arrays` must build for ``method``."""
    return method_module(method).INPUT_KIND


@dataclass
class TrainedModel:
    """A trained baseline: parameters (numpy), topology, resolved options and the training record.

    ``epochs``: epochs run; ``best_epoch``: the (1-based) epoch whose parameters were kept;
    ``history``: per epoch ``{"epoch", "train_loss", "val_loss", "val_accuracy"}``;
    ``settings``: the trainer's arguments (``max_epochs``, ``patience``, ``batch_size``, ``lr``,
    training and validation sizes).
    """
    method: str
    topology: Topology
    params: Dict[str, Dict[str, np.ndarray]]
    options: Any
    seed: int
    sample_shape: tuple
    epochs: int
    best_epoch: int
    best_val_accuracy: float
    history: List[Dict[str, float]] = field(default_factory=list)
    wall_time_s: float = 0.0
    settings: Dict[str, Any] = field(default_factory=dict)

    @property
    def n_params(self) -> int:
        return self.topology.n_params


def _check_data(module, topology: Topology, x, y, what: str, sample_shape=None):
    x = np.asarray(x)
    y = np.asarray(y)
    kind = module.INPUT_KIND
    ndim = 4 if kind == "counts" else 5
    if x.ndim != ndim or tuple(x.shape[-3:]) != topology.input_shape:
        raise ConfigError(f"{what}: method {module.NAME!r} needs {_INPUT_HELP[kind]} with (C, H, W) = "
                          f"{topology.input_shape} from the spec, got an array of shape {x.shape}")
    if sample_shape is not None and tuple(x.shape[1:]) != tuple(sample_shape):
        raise ConfigError(f"{what}: samples of shape {x.shape[1:]} differ from the training samples "
                          f"{tuple(sample_shape)}; build them with the same frames.dataset_arrays arguments")
    if y.ndim != 1 or len(y) != len(x):
        raise ConfigError(f"{what}: labels must be a 1-D array with one label per sample "
                          f"({len(x)} samples), got shape {y.shape}")
    if len(y) and (y.min() < 0 or y.max() >= topology.n_classes):
        raise ConfigError(f"{what}: labels must lie in [0, {topology.n_classes}) for a readout of "
                          f"{topology.n_classes} classes, got [{y.min()}, {y.max()}]")
    return x.astype(np.float32, copy=False), y.astype(np.int32)


def _check_hyper(max_epochs, patience, batch_size, lr):
    for name, value in (("max_epochs", max_epochs), ("patience", patience), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ParameterError(f"train_method: {name} must be a positive integer, got {value!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ParameterError(f"train_method: lr must be a positive finite number, got {lr!r}")


def _padded_batches(n: int, batch_size: int, order: np.ndarray):
    """Index and weight arrays of fixed size ``batch_size`` (the last batch padded, weight 0)."""
    for start in range(0, n, batch_size):
        index = order[start:start + batch_size]
        weight = np.ones(batch_size, np.float32)
        if len(index) < batch_size:
            weight[len(index):] = 0.0
            index = np.concatenate([index, np.full(batch_size - len(index), index[0])])
        yield index, weight


@functools.lru_cache(maxsize=8)
def _optimizer(lr: float):
    return require_optax().adam(lr)


@functools.lru_cache(maxsize=8)
def _step_function(module, topology: Topology, options, lr: float):
    """Jitted Adam step on the weighted mean cross-entropy; cached, so repeated runs (seeds,
    determinism checks) compile once."""
    jax, _ = require_jax()
    optax = require_optax()
    optimizer = _optimizer(lr)

    def loss_fn(params, x, y, w):
        logits, _ = module.forward(params, x, topology, options)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)
        return (ce * w).sum() / w.sum()

    def step(params, opt_state, x, y, w):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, w)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return jax.jit(step)


@functools.lru_cache(maxsize=8)
def _infer_function(module, topology: Topology, options):
    """Jitted inference: (predicted class, cross-entropy, ops, spikes per layer) per sample."""
    jax, jnp = require_jax()
    optax = require_optax()

    def infer(params, x, y):
        logits, stats = module.forward(params, x, topology, options)
        scores = stats.get("scores", logits)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)
        return jnp.argmax(scores, axis=1), ce, stats["ops"], stats.get("spikes") or {}

    return jax.jit(infer)


def _run_inference(infer, params, x, y, batch_size: int):
    """Predictions, losses, ops and spikes per layer (numpy, one row per sample)."""
    _, jnp = require_jax()
    n = len(x)
    preds, losses, n_ops, spikes = [], [], [], {}
    for index, weight in _padded_batches(n, batch_size, np.arange(n)):
        real = int(weight.sum())
        p, ce, o, s = infer(params, jnp.asarray(x[index]), jnp.asarray(y[index]))
        preds.append(np.asarray(p)[:real])
        losses.append(np.asarray(ce)[:real])
        n_ops.append(np.asarray(o)[:real])
        for name, value in s.items():
            spikes.setdefault(name, []).append(np.asarray(value)[:real])
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0)
    return cat(preds), cat(losses), cat(n_ops), {k: cat(v) for k, v in spikes.items()}


def train_method(method: str, spec_text: str, train_x, train_y, val_x, val_y, *, seed: int = 0,
                 max_epochs: int = 30, patience: int = 5, batch_size: int = 32, lr: float = 1e-3,
                 n_classes: Optional[int] = None, options=None, log=None, init=None,
                 min_epochs: int = 1) -> TrainedModel:
    """Train ``method`` on the topology of ``spec_text`` (plus a readout of ``n_classes``).

    ``train_x``/``val_x``: :func:`~.frames.dataset_arrays` output of the method's
    :func:`input_kind`; ``train_y``/``val_y``: int labels. ``n_classes`` defaults to the spec's
    readout, else ``max label + 1``. ``options``: the method's options dataclass or a dict
    (``SpikeGradOptions``, ``SurrogateOptions``, ``CNNOptions``). ``log``: optional callable
    receiving each epoch's history row. ``init``: parameters to start from (e.g. a previous
    model's ``params``: sequential fine-tuning) instead of the seeded initialisation.
    ``min_epochs``: early stopping is not considered before this many epochs (fine-tuning onto
    classes the readout has learnt to silence can sit at 0 validation accuracy for several epochs
    before it moves). Returns the parameters of the best validation epoch.
    """
    module = method_module(method)
    jax, jnp = require_jax()
    _check_hyper(max_epochs, patience, batch_size, lr)
    if isinstance(min_epochs, bool) or not isinstance(min_epochs, (int, np.integer)) or not 1 <= min_epochs <= max_epochs:
        raise ParameterError(f"train_method: min_epochs must be an integer in [1, max_epochs={max_epochs}], "
                             f"got {min_epochs!r}")
    if n_classes is None and _spec_readout(spec_text) is None:
        labels = np.concatenate([np.asarray(train_y).ravel(), np.asarray(val_y).ravel()])
        n_classes = int(labels.max()) + 1 if len(labels) else None
    topology = build_topology(spec_text, n_classes)
    train_x, train_y = _check_data(module, topology, train_x, train_y, "training data")
    val_x, val_y = _check_data(module, topology, val_x, val_y, "validation data", train_x.shape[1:])
    if len(train_x) == 0 or len(val_x) == 0:
        raise ConfigError("train_method needs training and validation samples (early stopping uses the "
                          "validation split); split the training data with streams.stratified_split")
    options = module.resolve_options(options, train_x)
    step = _step_function(module, topology, options, float(lr))
    infer = _infer_function(module, topology, options)
    if init is not None:  # continue from given parameters (sequential fine-tuning)
        params = jax.tree.map(jnp.asarray, init)
    else:
        params = jax.tree.map(jnp.asarray, init_params(topology, seed, gain=options.init_gain))
    opt_state = _optimizer(float(lr)).init(params)
    rng = np.random.default_rng([int(seed), 1])  # batch order; stream 0 is not used elsewhere
    best = (-1.0, math.inf)
    best_params, best_epoch, history = params, 0, []
    started = time.perf_counter()
    for epoch in range(1, max_epochs + 1):
        losses = []
        for index, weight in _padded_batches(len(train_x), batch_size, rng.permutation(len(train_x))):
            params, opt_state, loss = step(params, opt_state, jnp.asarray(train_x[index]),
                                           jnp.asarray(train_y[index]), jnp.asarray(weight))
            losses.append(float(loss) * weight.sum())
        preds, val_losses, _, _ = _run_inference(infer, params, val_x, val_y, batch_size)
        row = {"epoch": epoch, "train_loss": float(np.sum(losses) / len(train_x)),
               "val_loss": float(np.mean(val_losses)), "val_accuracy": float(np.mean(preds == val_y))}
        history.append(row)
        if log is not None:
            log(row)
        if not all(math.isfinite(row[k]) for k in ("train_loss", "val_loss")):
            raise ParameterError(f"{method}: the loss became {row['train_loss']} at epoch {epoch}; "
                                 f"lower the learning rate (lr={lr})")
        if (row["val_accuracy"], -row["val_loss"]) > (best[0], -best[1]):
            best = (row["val_accuracy"], row["val_loss"])
            best_params, best_epoch = params, epoch
        elif epoch - best_epoch >= patience and epoch >= min_epochs:
            break
    return TrainedModel(
        method=method, topology=topology, options=options, seed=int(seed),
        params=jax.tree.map(lambda a: np.asarray(a).copy(), best_params),
        sample_shape=tuple(train_x.shape[1:]), epochs=len(history), best_epoch=best_epoch,
        best_val_accuracy=float(best[0]), history=history,
        wall_time_s=time.perf_counter() - started,
        settings={"max_epochs": int(max_epochs), "min_epochs": int(min_epochs), "patience": int(patience),
                  "batch_size": int(batch_size),
                  "lr": float(lr), "n_train": len(train_x), "n_val": len(val_x)})


def _spec_readout(spec_text):
    from ..spec import parse_spec
    return parse_spec(spec_text).readout_classes if isinstance(spec_text, str) else spec_text.readout_classes


def predict(model: TrainedModel, x, *, batch_size: int = 64) -> np.ndarray:
    """Predicted class of every sample of ``x`` (same kind and shape as the training samples)."""
    module = method_module(model.method)
    x, y = _check_data(module, model.topology, x, np.zeros(len(x), np.int64), "predict input",
                       model.sample_shape)
    preds, _, _, _ = _run_inference(_infer_function(module, model.topology, model.options),
                                     _device(model.params), x, y, batch_size)
    return preds.astype(np.int64)


def evaluate(model: TrainedModel, x, y, *, batch_size: int = 64) -> Dict[str, Any]:
    """Accuracy and inference cost of ``model`` on ``(x, y)``.

    Returns ``accuracy``, ``n_samples``, ``infer_ops_per_sample`` (mean; ``op_kind`` ``"AC"``
    accumulates for the spiking baselines, ``"MAC"`` for the CNN), ``spikes_per_sample`` (mean
    spikes of all neurons; ``None`` for the CNN), ``spikes_per_layer``,
    ``input_events_per_sample``, ``params`` and ``energy_uj_per_sample`` with ``energy_note``
    (an estimate, see :mod:`.costs`).
    """
    module = method_module(model.method)
    x, y = _check_data(module, model.topology, x, y, "evaluation data", model.sample_shape)
    preds, _, n_ops, spikes = _run_inference(_infer_function(module, model.topology, model.options),
                                     _device(model.params), x, y, batch_size)
    mean_ops = float(np.mean(n_ops)) if len(n_ops) else 0.0
    per_layer = {name: float(np.mean(v)) for name, v in spikes.items()}
    return {
        "method": model.method,
        "accuracy": float(np.mean(preds == y)) if len(y) else float("nan"),
        "n_samples": int(len(y)),
        "infer_ops_per_sample": mean_ops,
        "op_kind": module.OP_KIND,
        "spikes_per_sample": float(sum(per_layer.values())) if per_layer else None,
        "spikes_per_layer": per_layer or None,
        "input_events_per_sample": float(x.reshape(len(x), -1).sum(axis=1).mean()) if len(x) else 0.0,
        "params": int(model.n_params),
        "energy_uj_per_sample": energy_uj(mean_ops, module.OP_KIND),
        "energy_note": ENERGY_NOTE,
    }


def _device(params):
    jax, jnp = require_jax()
    return jax.tree.map(jnp.asarray, params)


def untrained_model(method: str, spec_text: str, sample_shape, *, seed: int = 0, n_classes: int,
                    options=None) -> TrainedModel:
    """The network of ``method`` with its seeded initial parameters, never trained (the baseline
    ``b`` of continual-learning metrics)."""
    module = method_module(method)
    topology = build_topology(spec_text, n_classes)
    options = module.resolve_options(options)
    params = init_params(topology, seed, gain=getattr(options, "init_gain", 2.0))
    return TrainedModel(method=method, topology=topology, params=params, options=options, seed=int(seed),
                        sample_shape=tuple(sample_shape), epochs=0, best_epoch=0, best_val_accuracy=float("nan"))
