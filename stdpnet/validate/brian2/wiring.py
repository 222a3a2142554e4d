"""Explicit connectivity of the twin: convolution rows, pooling folded into forwarding synapses.

The functions restate SPEC §5 (``nCk``: stride 1, no padding, weight sharing; ``P2``: pooling that
forwards every spike, output ``floor(n/2)``) independently of the simulator's kernels. Index
conventions are stdpnet's public ones, so that results compare directly:

- layer input ``(c * H_in + y) * W_in + x``;
- neuron ``f * H_out * W_out + oy * W_out + ox`` (fhw);
- kernel entry ``((c * k_h + ky) * k_w + kx) * F + f`` (stdpnet's flat weight layout).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np


def conv_rows(C, H_in, W_in, F, k_h, k_w, H_out, W_out) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ``(input, neuron, kernel entry)`` triples of a convolution, sorted by input then neuron.

    Neuron ``(f, oy, ox)`` sees input ``(c, oy + ky, ox + kx)`` through kernel entry ``(c, ky, kx, f)``.
    """
    # independent restatement of SPEC §5 (convolution: stride 1, no padding, shared kernel): do not
    # share with stdpnet.kernels
    c, oy, ox, f = np.meshgrid(np.arange(C), np.arange(H_out), np.arange(W_out), np.arange(F), indexing="ij")
    c, oy, ox, f = (a.ravel().astype(np.int64) for a in (c, oy, ox, f))
    post = f * (H_out * W_out) + oy * W_out + ox
    inp, posts, kid = [], [], []
    for ky in range(k_h):
        for kx in range(k_w):
            inp.append((c * H_in + oy + ky) * W_in + ox + kx)
            posts.append(post)
            kid.append(((c * k_h + ky) * k_w + kx) * F + f)
    inp, post, kid = np.concatenate(inp), np.concatenate(posts), np.concatenate(kid)
    order = np.lexsort((post, inp))
    return inp[order], post[order], kid[order]


def expand_sources(src_inp: np.ndarray, inp: np.ndarray, post: np.ndarray, kid: np.ndarray, n_inputs: int):
    """Delivery synapses with pooling folded in: each source ``s`` with input ``src_inp[s] >= 0``
    gets the convolution rows of that input, so each of its spikes reaches every neuron whose
    receptive field holds the pooled position. Returns ``(pre, post, kidx)``."""
    counts = np.bincount(inp, minlength=n_inputs)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    srcs = np.flatnonzero(src_inp >= 0)
    sinp = src_inp[srcs]
    deg = counts[sinp]
    total = int(deg.sum())
    pre = np.repeat(srcs, deg)
    first = np.repeat(starts[sinp], deg)
    offs = np.arange(total) - np.repeat(np.cumsum(deg) - deg, deg)
    rows = first + offs
    return pre.astype(np.int64), post[rows], kid[rows]


def pooled_target(c: np.ndarray, y: np.ndarray, x: np.ndarray, pool: int, h_next: int, w_next: int) -> np.ndarray:
    """Input index ``(c * h_next + y // pool) * w_next + x // pool`` of the next layer that a spike at
    ``(c, y, x)`` reaches through ``pool x pool`` pooling, or ``-1`` where the pooled position lies
    outside that input (the last row/column of an odd size)."""
    # independent restatement of SPEC §5 (pooling: every spike forwarded, output floor(n/P)): do not
    # share with stdpnet.kernels
    yy, xx = y // pool, x // pool
    return np.where((yy < h_next) & (xx < w_next), (c * h_next + yy) * w_next + xx, -1)


def layer_targets(n_maps: int, h_out: int, w_out: int, pool: int, h_next: int, w_next: int) -> np.ndarray:
    """:func:`pooled_target` of every neuron (fhw index) of a layer, for the next layer's input."""
    nid = np.arange(n_maps * h_out * w_out)
    f, pos = nid // (h_out * w_out), nid % (h_out * w_out)
    return pooled_target(f, pos // w_out, pos % w_out, pool, h_next, w_next)
