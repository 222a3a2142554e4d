"""Feature reconstruction: the preferred input of every map of every layer, in sensor pixels.

A map's *preferred input* is built recursively down to the sensor (the source's feature figures).
Let ``F_l[g]`` be the feature image of map ``g`` of layer ``l`` in sensor pixels, shape
``(P, S_l, S_l)`` (``P`` input polarities), and ``s_l`` the pitch, in sensor pixels, of the grid
that layer ``l``'s input units sit on. Then

    sensor:  F_0[c] = one-hot polarity c, S_0 = 1, s = 1
    Pk:      F'[f]  = sum_{dy,dx < k} shift(F[f], (dy, dx) * s),  S' = S + (k-1) s,  s' = k s
    conv:    F_l[g] = sum_{f,u,v} w[g,f,u,v] * shift(F_{l-1}[f], (u, v) * s),  S_l = S + (K-1) s

(a dense layer is a convolution whose kernel covers its whole input). A conv2 map of ``nmnist`` is
``2 x 14 x 14``.
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np


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
    from ..layers import Pool

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
