"""JAX layer primitives shared by the baselines (batch first, ``(B, C, H, W)`` maps).

All three are the plain formulas, so a baseline's layer is one of these plus its own neuron:

* :func:`conv`: ``y[f, i, j] = b[f] + sum_{c, u, v} w[f, c, u, v] x[c, i + u, j + v]``
  (cross-correlation, stride 1, valid);
* :func:`pool`: ``k x k`` non-overlapping windows, remainder rows/columns dropped; ``sum``,
  ``avg`` (sum / k^2) or ``max``;
* :func:`dense`: ``y = W flatten(x) + b`` with ``flatten`` in ``(C, H, W)`` C order.
"""
from __future__ import annotations

from ._jax import require_jax

POOL_MODES = ("sum", "avg", "max")


def conv(x, w, b):
    jax, _ = require_jax()
    y = jax.lax.conv_general_dilated(x, w, window_strides=(1, 1), padding="VALID",
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return y + b[None, :, None, None]


def pool(x, k: int, mode: str):
    batch, c, h, w = x.shape
    oh, ow = h // k, w // k
    windows = x[:, :, : oh * k, : ow * k].reshape(batch, c, oh, k, ow, k)
    if mode == "sum":
        return windows.sum(axis=(3, 5))
    if mode == "avg":
        return windows.sum(axis=(3, 5)) / (k * k)
    if mode == "max":
        return windows.max(axis=(3, 5))
    raise ValueError(f"pool mode must be one of {POOL_MODES}, got {mode!r}")


def dense(x, w, b):
    return x.reshape(x.shape[0], -1) @ w.T + b


def apply_linear(layer, params, x):
    """The weighted sum of a conv or dense ``layer`` (a :class:`~.topology.LayerShape`)."""
    p = params[layer.name]
    return conv(x, p["w"], p["b"]) if layer.kind == "conv" else dense(x, p["w"], p["b"])


def synaptic_ops(spikes, fan_out):
    """Accumulates caused by ``spikes`` (``(B, *in_shape)`` counts): ``sum spikes * fan_out``, per sample."""
    return (spikes.reshape(spikes.shape[0], -1) * fan_out.reshape(1, -1)).sum(axis=1)
