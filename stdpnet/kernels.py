"""Compiled kernels of the clock-based simulator (numba). No state of their own.

Every learning layer, convolutional or fully connected, is described uniformly: input
``(C, H_in, W_in)``, ``F`` maps, kernel ``(k_h, k_w)``, stride 1, no padding, output
``(H_out, W_out, F)``; a fully connected layer is a convolution whose kernel covers its whole input
(``H_out = W_out = 1``). Because of this, one driver (:func:`run_ticks`) steps the whole network
through a chunk of ticks without returning to Python, which keeps the cost proportional to the
number of spikes.

Memory layout (all arrays flat, C order), chosen so the scatter's innermost loop runs over
contiguous maps:
- weights ``w[((c * k_h + ky) * k_w + kx) * F + f]``;
- per neuron ``v_learn``, ``v_infer``, ``t_ref``, ... at ``(oy * W_out + ox) * F + f``;
- per input ``t_pre[(c * H_in + y) * W_in + x]``.
Times are tick indices (int64). ``NEVER`` marks "no spike yet".

Per tick and layer (SPEC sections 2-5): deliver all input spikes to both accumulators, then
choose learning winners greedily by ``V_learn`` (ties in seeded random order), apply STDP and
learning inhibition, then choose inference spikes greedily by ``V_infer`` with inter-map
inhibition within ``r_infer``; the inference spikes, pooled, are the next layer's input in the
same tick.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .rules import clip, rstdp_dw, stdp_dw

NEVER = -(1 << 62)

# Radii of inhibition windows with a special meaning.
R_GLOBAL = -1  # every position
R_NONE = -2  # no inhibition

# Float parameters of a layer: rows of ``fparams``.
(
    FP_THETA_LEARN,
    FP_THETA_INFER,
    FP_ALPHA_PLUS,
    FP_ALPHA_MINUS,
    FP_BETA_PLUS,
    FP_BETA_MINUS,
    FP_W_MIN,
    FP_W_MAX,
    FP_LEAK_TAU,  # ticks; 0 = no leak
    FP_AR_PLUS,
    FP_AR_MINUS,
    FP_AP_PLUS,
    FP_AP_MINUS,
    FP_RW_MIN,
    FP_RW_MAX,
    N_FP,
) = range(16)

# Integer parameters of a layer: rows of ``iparams``.
(
    IP_C,
    IP_H_IN,
    IP_W_IN,
    IP_F,
    IP_K_H,
    IP_K_W,
    IP_H_OUT,
    IP_W_OUT,
    IP_POOL,  # pooling factor applied to this layer's output spikes (1 = none)
    IP_R_LEARN,
    IP_R_INFER,
    IP_LEARNING,  # 0/1
    IP_RULE,  # RULE_STDP / RULE_RSTDP
    IP_RESET,  # RESET_ZERO / RESET_SUBTRACT
    IP_REFRACTORY,  # ticks; 0 = none
    IP_RSTDP_SOFT,  # 0/1
    N_IP,
) = range(17)

RULE_STDP = 0
RULE_RSTDP = 1
RESET_ZERO = 0
RESET_SUBTRACT = 1

# Columns of the recording buffer.
REC_TICK, REC_LAYER, REC_KIND, REC_NEURON = range(4)
KIND_LEARN = 0
KIND_INFER = 1


@njit(cache=True)
def next_random(rng):
    """xorshift64* step on ``rng[0]`` (uint64); returns a uint64. Checkpointable: the state is an array."""
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    return x * np.uint64(2685821657736338717)


@njit(cache=True)
def order_by_potential(cand, n, values, rng):
    """Sort ``cand[:n]`` in place by ``values[cand]`` descending (stable), then shuffle each run of
    exact ties with ``rng``; returns ``cand[:n]``. Insertion sort: candidate lists are short, and
    this runs every tick, so it must not allocate (long lists: stable merge sort)."""
    if n > 48:
        keys = np.empty(n)
        for i in range(n):
            keys[i] = -values[cand[i]]
        order = np.argsort(keys, kind="mergesort")
        sorted_cand = cand[:n][order]
        cand[:n] = sorted_cand
    for i in range(1, n if n <= 48 else 0):
        c = cand[i]
        v = values[c]
        j = i - 1
        while j >= 0 and values[cand[j]] < v:
            cand[j + 1] = cand[j]
            j -= 1
        cand[j + 1] = c
    start = 0
    while start < n:
        stop = start + 1
        while stop < n and values[cand[stop]] == values[cand[start]]:
            stop += 1
        for i in range(stop - 1, start, -1):  # Fisher-Yates on cand[start:stop]
            j = start + np.int64(next_random(rng) % np.uint64(i - start + 1))
            tmp = cand[i]
            cand[i] = cand[j]
            cand[j] = tmp
        start = stop
    return cand[:n]


@njit(cache=True)
def inhibit_learning(v_learn, t_ref, winner, now, n_maps, h_out, w_out, r_learn):
    """Learning inhibition by ``winner``: ``V_learn = 0``, ``t_ref = now`` for every other neuron of the
    winner's map (intra-map) and for neurons of all other maps within the square window of radius
    ``r_learn`` around the winner's position (inter-map; ``R_GLOBAL``: all positions)."""
    f = winner % n_maps
    pos = winner // n_maps
    oy = pos // w_out
    ox = pos % w_out
    for p in range(h_out * w_out):
        i = p * n_maps + f
        if i != winner:
            v_learn[i] = 0.0
            t_ref[i] = now
    if r_learn == R_NONE:
        return
    if r_learn == R_GLOBAL:
        y0, y1, x0, x1 = 0, h_out - 1, 0, w_out - 1
    else:
        y0, y1 = max(0, oy - r_learn), min(h_out - 1, oy + r_learn)
        x0, x1 = max(0, ox - r_learn), min(w_out - 1, ox + r_learn)
    for y in range(y0, y1 + 1):
        for x in range(x0, x1 + 1):
            base = (y * w_out + x) * n_maps
            for g in range(n_maps):
                if g != f:
                    v_learn[base + g] = 0.0
                    t_ref[base + g] = now


@njit(cache=True)
def inhibit_inference(v_infer, winner, n_maps, h_out, w_out, r_infer):
    """Inference inhibition by ``winner``: ``V_infer = 0`` for neurons of other maps within ``r_infer``."""
    if r_infer == R_NONE:
        return
    f = winner % n_maps
    pos = winner // n_maps
    oy = pos // w_out
    ox = pos % w_out
    if r_infer == R_GLOBAL:
        y0, y1, x0, x1 = 0, h_out - 1, 0, w_out - 1
    else:
        y0, y1 = max(0, oy - r_infer), min(h_out - 1, oy + r_infer)
        x0, x1 = max(0, ox - r_infer), min(w_out - 1, ox + r_infer)
    for y in range(y0, y1 + 1):
        for x in range(x0, x1 + 1):
            base = (y * w_out + x) * n_maps
            for g in range(n_maps):
                if g != f:
                    v_infer[base + g] = 0.0


@njit(cache=True)
def learn_on_winner(w, t_pre, winner, t_ref_winner, now, fp, ip, label, decision_map):
    """Apply the layer's rule to the kernel of the winner's map, over the winner's receptive field.

    Input ``j`` is causal when it spiked since the winner's last learning reset:
    ``t_ref < t_pre_j <= now`` (a same-tick input counts as causal). STDP (``rules.stdp_dw``) or,
    for an R-STDP layer, reward/punishment (``rules.rstdp_dw``) chosen by ``decision_map[f] == label``;
    R-STDP does nothing while no label is present (``label < 0``) or for an unassigned neuron.
    Weights are clipped to the rule's range.
    """
    n_maps = ip[IP_F]
    k_h = ip[IP_K_H]
    k_w = ip[IP_K_W]
    h_in = ip[IP_H_IN]
    w_in = ip[IP_W_IN]
    f = winner % n_maps
    pos = winner // n_maps
    oy = pos // ip[IP_W_OUT]
    ox = pos % ip[IP_W_OUT]
    rstdp = ip[IP_RULE] == RULE_RSTDP
    if rstdp:
        if label < 0 or decision_map[f] < 0:
            return
        if decision_map[f] == label:
            a_plus, a_minus = fp[FP_AR_PLUS], fp[FP_AR_MINUS]
        else:
            a_plus, a_minus = fp[FP_AP_PLUS], fp[FP_AP_MINUS]
        w_min, w_max = fp[FP_RW_MIN], fp[FP_RW_MAX]
        soft = ip[IP_RSTDP_SOFT] != 0
    else:
        a_plus, a_minus = fp[FP_ALPHA_PLUS], fp[FP_ALPHA_MINUS]
        w_min, w_max = fp[FP_W_MIN], fp[FP_W_MAX]
        soft = False
    b_plus, b_minus = fp[FP_BETA_PLUS], fp[FP_BETA_MINUS]
    for c in range(ip[IP_C]):
        for ky in range(k_h):
            row = (c * h_in + oy + ky) * w_in + ox
            for kx in range(k_w):
                causal = t_pre[row + kx] > t_ref_winner
                i = ((c * k_h + ky) * k_w + kx) * n_maps + f
                wi = w[i]
                if rstdp:
                    dw = rstdp_dw(wi, causal, a_plus, a_minus, w_min, w_max, soft)
                else:
                    dw = stdp_dw(wi, causal, a_plus, a_minus, b_plus, b_minus, w_min, w_max)
                w[i] = clip(wi + dw, w_min, w_max)


@njit(cache=True)
def _decay(v, t_upd, i, now, tau):
    if t_upd[i] != now:
        v[i] *= math.exp(-(now - t_upd[i]) / tau)
        t_upd[i] = now


@njit(cache=True)
def _add_into(v, wk):
    """``v += wk`` on equally long slices (explicit loop: numba's array expression is slower here)."""
    for f in range(wk.shape[0]):
        v[f] += wk[f]


@njit(cache=True)
def _add_into_both(v_learn, v_infer, wk):
    """``v_learn += wk; v_infer += wk`` on equally long slices, loading each weight once."""
    for f in range(wk.shape[0]):
        wv = wk[f]
        v_learn[f] += wv
        v_infer[f] += wv


@njit(cache=True, fastmath=True)
def _max_of(v, start, n):
    """max(v[start:start+n]); fastmath only lets the exact max-reduction vectorise."""
    m = -np.inf
    for f in range(start, start + n):
        m = max(m, v[f])
    return m


@njit(cache=True)
def layer_tick(
    now, label, fp, ip, w, v_learn, v_infer, t_ref, t_spike_learn, t_spike_infer, t_upd_learn,
    t_upd_infer, t_pre, touched, touched_mark, cand_learn, cand_infer, decision_map, rng,
    in_c, in_y, in_x, n_in, spikes_out, winners_out,
):
    """Advance one learning layer by one tick. Returns ``(n_inference_spikes, n_learning_spikes, synops)``.

    ``in_c/in_y/in_x[:n_in]`` are this tick's input spikes (already pooled into this layer's input
    coordinates). Inference spikes are written (as flat neuron indices) to ``spikes_out``, learning
    winners to ``winners_out``. ``touched``/``touched_mark`` list the output positions that received
    input this tick (scratch, cleared on return).
    """
    n_maps = ip[IP_F]
    k_h = ip[IP_K_H]
    k_w = ip[IP_K_W]
    h_out = ip[IP_H_OUT]
    w_out = ip[IP_W_OUT]
    h_in = ip[IP_H_IN]
    w_in = ip[IP_W_IN]
    learning = ip[IP_LEARNING] != 0
    theta_l = fp[FP_THETA_LEARN]
    theta_i = fp[FP_THETA_INFER]
    tau = fp[FP_LEAK_TAU]
    refractory = ip[IP_REFRACTORY]
    subtract = ip[IP_RESET] == RESET_SUBTRACT
    plain = tau == 0.0 and refractory == 0
    n_touched = 0
    synops = 0
    # 1. deliver every input spike of this tick to both accumulators (adds only, vectorised);
    #    thresholds are checked once per touched position after all of the tick's input arrived
    for s in range(n_in):
        c = in_c[s]
        y = in_y[s]
        x = in_x[s]
        t_pre[(c * h_in + y) * w_in + x] = now
        ky0 = max(0, y - h_out + 1)
        ky1 = min(k_h - 1, y)
        kx0 = max(0, x - w_out + 1)
        kx1 = min(k_w - 1, x)
        for ky in range(ky0, ky1 + 1):
            oy = y - ky
            for kx in range(kx0, kx1 + 1):
                ox = x - kx
                pos = oy * w_out + ox
                if touched_mark[pos] == 0:
                    touched_mark[pos] = 1
                    touched[n_touched] = pos
                    n_touched += 1
                wbase = ((c * k_h + ky) * k_w + kx) * n_maps
                wk = w[wbase:wbase + n_maps]
                nbase = pos * n_maps
                synops += n_maps
                if plain:
                    if learning:
                        _add_into_both(v_learn[nbase:nbase + n_maps], v_infer[nbase:nbase + n_maps], wk)
                    else:
                        _add_into(v_infer[nbase:nbase + n_maps], wk)
                else:
                    for f in range(n_maps):
                        i = nbase + f
                        if learning and now - t_spike_learn[i] >= refractory:
                            if tau > 0.0:
                                _decay(v_learn, t_upd_learn, i, now, tau)
                            v_learn[i] += w[wbase + f]
                        if now - t_spike_infer[i] >= refractory:
                            if tau > 0.0:
                                _decay(v_infer, t_upd_infer, i, now, tau)
                            v_infer[i] += w[wbase + f]
    # threshold scan of the touched positions
    n_cl = 0
    n_ci = 0
    for k in range(n_touched):
        pos = touched[k]
        touched_mark[pos] = 0
        nbase = pos * n_maps
        if learning and _max_of(v_learn, nbase, n_maps) >= theta_l:
            for f in range(n_maps):
                if v_learn[nbase + f] >= theta_l and now - t_spike_learn[nbase + f] >= refractory:
                    cand_learn[n_cl] = nbase + f
                    n_cl += 1
        if _max_of(v_infer, nbase, n_maps) >= theta_i:
            for f in range(n_maps):
                if v_infer[nbase + f] >= theta_i and now - t_spike_infer[nbase + f] >= refractory:
                    cand_infer[n_ci] = nbase + f
                    n_ci += 1
    # 2. learning winners: greedy by V_learn, STDP, inhibition
    n_win = 0
    if n_cl > 0:
        order = order_by_potential(cand_learn, n_cl, v_learn, rng)
        for k in range(n_cl):
            i = order[k]
            if v_learn[i] < theta_l:  # inhibited by an earlier winner of this tick
                continue
            learn_on_winner(w, t_pre, i, t_ref[i], now, fp, ip, label, decision_map)
            if subtract:
                v_learn[i] -= theta_l
            else:
                v_learn[i] = 0.0
            t_ref[i] = now
            t_spike_learn[i] = now
            inhibit_learning(v_learn, t_ref, i, now, n_maps, h_out, w_out, ip[IP_R_LEARN])
            winners_out[n_win] = i
            n_win += 1
    # 3. inference spikes: greedy by V_infer with inter-map inhibition (or none)
    n_spk = 0
    if n_ci > 0:
        r_infer = ip[IP_R_INFER]
        if r_infer == R_NONE:
            order = cand_infer[:n_ci]
        else:
            order = order_by_potential(cand_infer, n_ci, v_infer, rng)
        for k in range(n_ci):
            i = order[k]
            if v_infer[i] < theta_i:
                continue
            if subtract:
                v_infer[i] -= theta_i
            else:
                v_infer[i] = 0.0
            t_spike_infer[i] = now
            inhibit_inference(v_infer, i, n_maps, h_out, w_out, r_infer)
            spikes_out[n_spk] = i
            n_spk += 1
    return n_spk, n_win, synops


@njit(cache=True)
def run_ticks(
    start_tick, ev_x, ev_y, ev_p, offsets, labels, input_pool,
    fparams, iparams, W, VL, VI, TREF, TSL, TSI, TUL, TUI, TPRE, TOUCHED, TMARK, CAND_L, CAND_I, SPK, WIN,
    DMAP, rng, counters, in_buf, next_buf, top_out, n_top, rec, n_rec, record,
):
    """Step every layer through the ticks ``start_tick + i`` for ``i < len(offsets) - 1``.

    ``ev_*[offsets[i]:offsets[i+1]]`` are the input events of tick ``i`` (sensor coordinates;
    ``input_pool`` > 1 pools them first). ``labels[i]`` is the reward signal (R-STDP layers only).
    Per-layer arrays come in typed lists indexed by layer. Top-layer inference spikes are appended
    to ``top_out[n_top:]`` as ``(tick, neuron)``; with ``record``, every spike of every layer is
    appended to ``rec[n_rec:]`` as ``(tick, layer, kind, neuron)``. ``counters[l]`` accumulates
    ``(learning spikes, inference spikes, synaptic operations)``.

    Stops early, before a tick whose spikes might not fit in ``top_out``/``rec``; returns
    ``(ticks_done, n_top, n_rec)`` so the caller can grow the buffers and call again.
    """
    n_layers = fparams.shape[0]
    n_ticks = len(offsets) - 1
    top = n_layers - 1
    top_neurons = iparams[top, IP_F] * iparams[top, IP_H_OUT] * iparams[top, IP_W_OUT]
    all_neurons = 0
    for l in range(n_layers):
        all_neurons += iparams[l, IP_F] * iparams[l, IP_H_OUT] * iparams[l, IP_W_OUT]
    h0 = iparams[0, IP_H_IN]
    w0 = iparams[0, IP_W_IN]
    for t in range(n_ticks):
        if n_top + top_neurons > top_out.shape[0]:
            return t, n_top, n_rec
        if record and n_rec + 2 * all_neurons > rec.shape[0]:
            return t, n_top, n_rec
        now = start_tick + t
        label = labels[t]
        n_in = 0
        for e in range(offsets[t], offsets[t + 1]):
            y = ev_y[e] // input_pool
            x = ev_x[e] // input_pool
            if y < h0 and x < w0:
                in_buf[n_in, 0] = ev_p[e]
                in_buf[n_in, 1] = y
                in_buf[n_in, 2] = x
                n_in += 1
        for l in range(n_layers):
            ip = iparams[l]
            n_spk, n_win, synops = layer_tick(
                now, label, fparams[l], ip, W[l], VL[l], VI[l], TREF[l], TSL[l], TSI[l], TUL[l],
                TUI[l], TPRE[l], TOUCHED[l], TMARK[l], CAND_L[l], CAND_I[l], DMAP[l], rng,
                in_buf[:, 0], in_buf[:, 1], in_buf[:, 2], n_in, SPK[l], WIN[l],
            )
            counters[l, 0] += n_win
            counters[l, 1] += n_spk
            counters[l, 2] += synops
            spikes = SPK[l]
            if record:
                wins = WIN[l]
                for k in range(n_win):
                    rec[n_rec, 0] = now
                    rec[n_rec, 1] = l
                    rec[n_rec, 2] = KIND_LEARN
                    rec[n_rec, 3] = wins[k]
                    n_rec += 1
                for k in range(n_spk):
                    rec[n_rec, 0] = now
                    rec[n_rec, 1] = l
                    rec[n_rec, 2] = KIND_INFER
                    rec[n_rec, 3] = spikes[k]
                    n_rec += 1
            if l == top:
                for k in range(n_spk):
                    top_out[n_top, 0] = now
                    top_out[n_top, 1] = spikes[k]
                    n_top += 1
            else:
                # pooled inference spikes become the next layer's input, in the same tick
                n_maps = ip[IP_F]
                w_out = ip[IP_W_OUT]
                pool = ip[IP_POOL]
                h_next = iparams[l + 1, IP_H_IN]
                w_next = iparams[l + 1, IP_W_IN]
                n_next = 0
                for k in range(n_spk):
                    i = spikes[k]
                    pos = i // n_maps
                    y = (pos // w_out) // pool
                    x = (pos % w_out) // pool
                    if y < h_next and x < w_next:
                        next_buf[n_next, 0] = i % n_maps
                        next_buf[n_next, 1] = y
                        next_buf[n_next, 2] = x
                        n_next += 1
                in_buf, next_buf = next_buf, in_buf
                n_in = n_next
    return n_ticks, n_top, n_rec
