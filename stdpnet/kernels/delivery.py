"""Delivering one tick's input spikes into a layer's two accumulators (SPEC section 2), noting the
positions where a threshold may have been crossed.

An input spike at ``(c, y, x)`` adds ``w[c, ky, kx, f]`` to both ``V_learn`` and ``V_infer`` of the
neuron ``(oy, ox, f) = (y - ky, x - kx, f)`` for every kernel position inside the output: a window of
at most ``k_h x k_w`` positions times ``F`` maps. Every neuron gets at most one add per input spike,
so the adds of one spike may be done in any order without changing a bit.

Contiguous runs. In hwf order the neurons of one kernel row (fixed ``ky``, ``kx`` over its range)
are one contiguous block of ``n_kx * F`` values, ``ox`` ascending; the weights they need are the
same block of a kernel whose ``kx`` axis is reversed. A conv layer (``W_out > 1``) keeps such a
mirror copy of its weights (:func:`sync_mirror`; :func:`stdpnet.kernels.learn_on_winner` updates both),
so each kernel row is one long vectorised loop instead of ``n_kx`` short ones. A dense layer has a
single position: its runs are already ``F`` long, and it keeps no mirror.

Threshold crossings. The threshold test uses the potentials after ALL of the tick's input. The
last add into a neuron leaves its final value, so a neuron that ends the tick at or above threshold
was at or above it right after some add: each run records which accumulators had an add reach
their threshold, and only those accumulators of the positions of such runs are scanned afterwards
(``touched_mark`` bits ``MAYBE_LEARN``, ``MAYBE_INFER``),
with the test itself on the final values, as before. Those comparisons pay only while a tick's adds
barely overlap: when they land at least twice per touched position on average (``nmnist``'s conv2
and fc1 in most ticks: about four adds per neuron), every touched position is marked and scanned
instead, which tests each neuron once rather than once per add. Either way the scan decides on the
final values, so the choice changes no result. The order in which positions are first touched
(``ky`` ascending, then ``kx`` ascending) is kept: it is the candidates' order before sorting, and the
seeded tie shuffle depends on it.
"""
from __future__ import annotations

import math

from numba import njit

from .precision import like

# touched_mark bits: the position received input this tick; one of its adds reached theta_learn
# (scan its V_learn); one reached theta_infer (scan its V_infer)
TOUCHED = 1
MAYBE_LEARN = 2
MAYBE_INFER = 4
MAYBE = MAYBE_LEARN | MAYBE_INFER


@njit(cache=True)
def _add_run_both(v_learn, v_infer, w, nbase, wbase, n, theta_l, theta_i, check):
    """``V_learn[nbase:nbase+n] += w[wbase:wbase+n]``, same for ``V_infer``; with ``check``, returns
    the marks ``MAYBE_LEARN`` / ``MAYBE_INFER`` of the accumulators where some result reached the
    threshold (the comparisons are or-reductions: they vectorise, no fastmath); without, returns
    ``MAYBE`` (the caller scans the positions whatever happened).

    Through slices indexed by the loop counter: an index computed from a signed base gets numba's
    negative-index wraparound test on every element, which stops LLVM vectorising (3x slower)."""
    vl = v_learn[nbase:nbase + n]
    vi = v_infer[nbase:nbase + n]
    wk = w[wbase:wbase + n]
    if not check:
        for k in range(n):
            wv = wk[k]
            vl[k] += wv
            vi[k] += wv
        return MAYBE
    theta_l = like(theta_l, vl)  # exact: thresholds are representable in the potentials' type
    theta_i = like(theta_i, vi)
    hit_l = False
    hit_i = False
    for k in range(n):
        wv = wk[k]
        a = vl[k] + wv
        vl[k] = a
        b = vi[k] + wv
        vi[k] = b
        hit_l |= a >= theta_l
        hit_i |= b >= theta_i
    return (MAYBE_LEARN if hit_l else 0) | (MAYBE_INFER if hit_i else 0)


@njit(cache=True)
def _add_run_infer(v_infer, w, nbase, wbase, n, theta_i, check):
    """``V_infer[nbase:nbase+n] += w[wbase:wbase+n]`` (learning off); with ``check``, ``MAYBE_INFER``
    if any result reached ``theta_i``, else 0; without, ``MAYBE_INFER``."""
    vi = v_infer[nbase:nbase + n]
    wk = w[wbase:wbase + n]
    if not check:
        for k in range(n):
            vi[k] += wk[k]
        return MAYBE_INFER
    theta_i = like(theta_i, vi)
    hit = False
    for k in range(n):
        b = vi[k] + wk[k]
        vi[k] = b
        hit |= b >= theta_i
    return MAYBE_INFER if hit else 0


@njit(cache=True)
def sync_mirror(const, state, scratch):
    """``w_mirror[c, ky, kx', f] = w[c, ky, k_w - 1 - kx', f]`` (conv layers only; a no-op for a
    layer without a mirror). Called at the start of every chunk, so any change to ``w`` between
    chunks (a checkpoint loaded, weights set) is picked up."""
    wm = scratch.w_mirror
    if wm.shape[0] == 0:
        return
    w = state.w
    n_maps = const.n_maps
    k_w = const.k_w
    for row in range(const.c * const.k_h):
        for kx in range(k_w):
            src = (row * k_w + kx) * n_maps
            dst = (row * k_w + (k_w - 1 - kx)) * n_maps
            for f in range(n_maps):
                wm[dst + f] = w[src + f]


@njit(cache=True)
def _decay(v, t_upd, i, now, tau):
    if t_upd[i] != now:
        v[i] *= math.exp(-(now - t_upd[i]) / tau)
        t_upd[i] = now


@njit(cache=True)
def deliver(const, state, scratch, now, in_c, in_y, in_x, n_in):
    """Add this tick's input spikes ``in_c/in_y/in_x[:n_in]`` into the layer's accumulators.

    Fills ``scratch.touched[:n_touched]`` with the positions that received input, in first-touch
    order, and marks them in ``scratch.touched_mark`` (``TOUCHED``, plus ``MAYBE_LEARN`` /
    ``MAYBE_INFER`` where an add reached that accumulator's threshold: scan it for candidates). Returns ``(n_touched, synops)``; synops counts one per neuron reached.
    With the optional leak or refractory period every add is done neuron by neuron (and every
    touched position is scanned)."""
    n_maps = const.n_maps
    k_h = const.k_h
    k_w = const.k_w
    h_out = const.h_out
    w_out = const.w_out
    h_in = const.h_in
    w_in = const.w_in
    learning = const.learning != 0
    theta_l = const.theta_learn
    theta_i = const.theta_infer
    tau = const.leak_tau
    refractory = const.refractory
    plain = tau == 0.0 and refractory == 0
    # Compare during the adds only while they barely overlap: when the tick's adds land at least
    # twice per touched position on average, testing every touched position once afterwards costs
    # fewer comparisons than testing every add (the scan tests final values either way).
    reach = min(k_h, h_out) * min(k_w, w_out)  # output positions one input spike reaches (at most)
    check = n_in * reach < 2 * h_out * w_out
    w = state.w
    wm = scratch.w_mirror
    mirrored = wm.shape[0] > 0
    v_learn = state.v_learn
    v_infer = state.v_infer
    t_spike_learn = state.t_spike_learn
    t_spike_infer = state.t_spike_infer
    t_pre = state.t_pre
    touched = scratch.touched
    touched_mark = scratch.touched_mark
    n_touched = 0
    synops = 0
    for s in range(n_in):
        c = in_c[s]
        y = in_y[s]
        x = in_x[s]
        t_pre[(c * h_in + y) * w_in + x] = now
        ky0 = max(0, y - h_out + 1)
        ky1 = min(k_h - 1, y)
        kx0 = max(0, x - w_out + 1)
        kx1 = min(k_w - 1, x)
        n_kx = kx1 - kx0 + 1
        for ky in range(ky0, ky1 + 1):
            row = (y - ky) * w_out
            for kx in range(kx0, kx1 + 1):  # first-touch order: kx ascending (ox descending)
                pos = row + x - kx
                if touched_mark[pos] == 0:
                    touched_mark[pos] = TOUCHED
                    touched[n_touched] = pos
                    n_touched += 1
            synops += n_kx * n_maps
            if plain:
                if mirrored:  # one run: ox = x - kx1 .. x - kx0, mirrored kx' = k_w - 1 - kx1 ..
                    nbase = (row + x - kx1) * n_maps
                    wbase = ((c * k_h + ky) * k_w + (k_w - 1 - kx1)) * n_maps
                    if learning:
                        hit = _add_run_both(v_learn, v_infer, wm, nbase, wbase, n_kx * n_maps, theta_l, theta_i, check)
                    else:
                        hit = _add_run_infer(v_infer, wm, nbase, wbase, n_kx * n_maps, theta_i, check)
                    if hit:
                        for kx in range(kx0, kx1 + 1):
                            touched_mark[row + x - kx] |= hit
                else:
                    for kx in range(kx0, kx1 + 1):
                        pos = row + x - kx
                        nbase = pos * n_maps
                        wbase = ((c * k_h + ky) * k_w + kx) * n_maps
                        if learning:
                            hit = _add_run_both(v_learn, v_infer, w, nbase, wbase, n_maps, theta_l, theta_i, check)
                        else:
                            hit = _add_run_infer(v_infer, w, nbase, wbase, n_maps, theta_i, check)
                        touched_mark[pos] |= hit
            else:
                for kx in range(kx0, kx1 + 1):
                    pos = row + x - kx
                    touched_mark[pos] |= MAYBE
                    nbase = pos * n_maps
                    wbase = ((c * k_h + ky) * k_w + kx) * n_maps
                    for f in range(n_maps):
                        i = nbase + f
                        if learning and now - t_spike_learn[i] >= refractory:
                            if tau > 0.0:
                                _decay(v_learn, state.t_upd_learn, i, now, tau)
                            v_learn[i] += w[wbase + f]
                        if now - t_spike_infer[i] >= refractory:
                            if tau > 0.0:
                                _decay(v_infer, state.t_upd_infer, i, now, tau)
                            v_infer[i] += w[wbase + f]
    return n_touched, synops
