"""The conventional ReLU CNN on event-count images: the accuracy ceiling of the comparison.

Same topology as the STDP net (``nCk`` conv + ReLU, ``Pk`` max or average pooling, ``n`` dense +
ReLU, linear readout), input ``x * input_scale`` with ``x`` the ``(C, H, W)`` event-count image
and ``input_scale = 1 / std(training images)`` unless given. Cost per inference: the dense
multiply-accumulates of :func:`~.topology.dense_macs` (every synapse, whatever the input).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Optional

import numpy as np

from ..errors import ConfigError, ParameterError, check_positive
from . import ops
from ._jax import require_jax
from .topology import Topology, dense_macs

NAME = "cnn"
INPUT_KIND = "counts"
OP_KIND = "MAC"


@dataclass(frozen=True)
class CNNOptions:
    """``pool``: ``"max"`` or ``"avg"`` for every ``Pk``; ``input_scale``: multiplies the count
    images (``None``: ``1 / std`` of the training images, fixed at training start);
    ``init_gain``: initial weights ``N(0, sqrt(init_gain / n_in))`` (2: He et al.)."""
    pool: str = "max"
    input_scale: Optional[float] = None
    init_gain: float = 2.0

    def __post_init__(self):
        if self.pool not in ("max", "avg"):
            raise ParameterError(f"cnn pool must be 'max' or 'avg', got {self.pool!r}")
        if self.input_scale is not None:
            check_positive("cnn input_scale", self.input_scale)
        check_positive("cnn init_gain", self.init_gain)


def resolve_options(options, train_x=None) -> CNNOptions:
    if options is None:
        options = CNNOptions()
    elif isinstance(options, dict):
        try:
            options = CNNOptions(**options)
        except TypeError as exc:
            known = ", ".join(f.name for f in fields(CNNOptions))
            raise ConfigError(f"cnn options: {exc}; known: {known}") from None
    elif not isinstance(options, CNNOptions):
        raise ConfigError(f"cnn options must be a CNNOptions or a dict, got {type(options).__name__}")
    if options.input_scale is None and train_x is not None:
        std = float(np.std(train_x))
        options = replace(options, input_scale=1.0 / std if std > 0 else 1.0)
    return options


def forward(params, x, topology: Topology, options: CNNOptions):
    """``x``: ``(B, C, H, W)`` event counts -> ``(logits, stats)``; ``stats["ops"]``: MACs per sample."""
    _, jnp = require_jax()
    s = x * (options.input_scale or 1.0)
    for layer in topology.layers:
        if layer.kind == "pool":
            s = ops.pool(s, layer.size, options.pool)
            continue
        s = ops.apply_linear(layer, params, s)
        if layer is not topology.readout:
            s = jnp.maximum(s, 0.0)
    n_ops = jnp.full(x.shape[0], float(dense_macs(topology)), dtype=x.dtype)
    return s, {"ops": n_ops, "spikes": None}
