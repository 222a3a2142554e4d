"""One tick of one layer, and the driver that steps every layer through a chunk of ticks.

Per tick and layer (SPEC sections 2-5): deliver all input spikes to both accumulators, then
choose learning winners greedily by ``V_learn`` (ties in seeded random order), apply the rule and
learning inhibition, then choose inference spikes greedily by ``V_infer`` with inter-map
inhibition within ``r_infer``; the inference spikes, pooled, are the next layer's input in the
same tick. Every layer, convolutional or fully connected, is a stride-1 valid convolution (a dense
layer's kernel covers its whole input), so one driver serves all of them with no per-tick Python.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .delivery import MAYBE_INFER, MAYBE_LEARN, deliver, sync_mirror
from .inhibition import inhibit_inference, inhibit_learning
from .learning import learn_on_winner
from .ordering import has_equal_values, order_by_potential
from .precision import like
from .profiling import PH_DELIVER, PH_INFER, PH_INHIBIT, PH_LEARN, PH_ROUTE, PH_SCAN, PH_SORT_LEARN, clock, lap
from .state import KIND_INFER, KIND_LEARN, R_NONE, RESET_SUBTRACT


@njit(cache=True)
def _any_at_least(v, nbase, n, theta):
    """Whether any of ``v[nbase:nbase+n]`` is ``>= theta``: an or-reduction over a slice, which
    vectorises without fastmath (a max-reduction does not: numba's ``max`` handles NaN)."""
    vs = v[nbase:nbase + n]
    theta = like(theta, vs)
    hit = False
    for f in range(n):
        hit |= vs[f] >= theta
    return hit


@njit(cache=True)
def _collect(v, t_spike, nbase, n, theta, now, refractory, cand, n_c):
    """Append to ``cand[n_c:]`` the neurons ``nbase + f`` (``f < n``) with ``v >= theta`` that are not
    refractory, in ``f`` order; returns the new count. For many maps (``n >= 64``) without a
    refractory period the append is branchless (write the index, advance by the comparison; every
    write lands below the number of neurons seen so far, so ``cand`` never overflows): a branch on
    each of 128 maps mispredicts often; for few maps the branch is cheaper."""
    vs = v[nbase:nbase + n]
    theta = like(theta, vs)
    if refractory == 0 and n >= 64:
        for f in range(n):
            cand[n_c] = nbase + f
            n_c += vs[f] >= theta
    else:
        for f in range(n):
            if vs[f] >= theta and now - t_spike[nbase + f] >= refractory:
                cand[n_c] = nbase + f
                n_c += 1
    return n_c


@njit(cache=True)
def _accept_learning(const, state, scratch, i, now, label, prof, layer, t0):
    """Neuron ``i`` is a learning winner: the rule on its kernel, its reset, learning inhibition.
    Returns the profiling clock (``t0`` advanced through the LEARN and INHIBIT phases)."""
    learn_on_winner(const, state, scratch.w_mirror, i, now, label)
    t0 = lap(prof, layer, PH_LEARN, t0)
    if const.reset == RESET_SUBTRACT:
        state.v_learn[i] -= const.theta_learn
    else:
        state.v_learn[i] = 0.0
    state.t_ref[i] = now
    state.t_spike_learn[i] = now
    inhibit_learning(state.v_learn, state.t_ref, i, now, const.n_maps, const.h_out, const.w_out, const.r_learn)
    return lap(prof, layer, PH_INHIBIT, t0)


@njit(cache=True)
def _accept_inference(const, state, i, now):
    """Neuron ``i`` fires an inference spike: its reset and inference inhibition. Returns ``i``."""
    if const.reset == RESET_SUBTRACT:
        state.v_infer[i] -= const.theta_infer
    else:
        state.v_infer[i] = 0.0
    state.t_spike_infer[i] = now
    inhibit_inference(state.v_infer, i, const.n_maps, const.h_out, const.w_out, const.r_infer)
    return i


@njit(cache=True)
def _take_best(cand, m, values, theta):
    """The greedy step without a sort, valid when no two candidates' values are equal.

    Drops from ``cand[:m]`` every candidate inhibited so far (value below ``theta``: inhibition sets
    it to 0, and ``theta > 0``), removes the one with the largest value and returns it with the new
    count, or ``(-1, 0)`` when none is left. A candidate still at or above threshold was never
    touched since the scan, so its value is the one the sorted order would have used; and with no
    equal values the sort draws no random numbers. So taking the maximum again and again accepts the
    very neurons, in the very order, that sorting then walking the list accepts."""
    j = 0
    best = -1
    best_v = -np.inf
    for k in range(m):
        c = cand[k]
        v = values[c]
        if v >= theta:
            cand[j] = c
            if v > best_v:
                best_v = v
                best = j
            j += 1
    if best < 0:
        return -1, 0
    i = cand[best]
    cand[best] = cand[j - 1]
    return i, j - 1


@njit(cache=True)
def _position_maxima(cand, n, n_maps, values):
    """Replace ``cand[:n]`` (grouped by position, as the scan lists them) with each position's
    candidate of largest value, in position order; returns their number."""
    m = 0
    k = 0
    while k < n:
        pos = cand[k] // n_maps
        best = cand[k]
        best_v = values[best]
        k += 1
        while k < n and cand[k] // n_maps == pos:
            v = values[cand[k]]
            if v > best_v:
                best_v = v
                best = cand[k]
            k += 1
        cand[m] = best
        m += 1
    return m


@njit(cache=True)
def layer_tick(const, state, scratch, now, label, rng, in_c, in_y, in_x, n_in, prof=None, layer=0):
    """Advance one layer by one tick. Returns ``(n_inference_spikes, n_learning_spikes, synops)``.

    ``in_c/in_y/in_x[:n_in]`` are this tick's input spikes (already pooled into this layer's input
    coordinates). Inference spikes (hwf indices) go to ``scratch.spikes``, learning winners to
    ``scratch.winners``. ``prof``: None, or the per-phase cycle counters (:mod:`.profiling`) whose
    row ``layer`` this call adds to.
    """
    t0 = clock(prof)
    n_maps = const.n_maps
    learning = const.learning != 0
    theta_l = const.theta_learn
    theta_i = const.theta_infer
    refractory = const.refractory
    v_learn = state.v_learn
    v_infer = state.v_infer
    t_spike_learn = state.t_spike_learn
    t_spike_infer = state.t_spike_infer
    touched = scratch.touched
    touched_mark = scratch.touched_mark
    # 1. deliver every input spike of this tick to both accumulators; thresholds are tested once
    #    per position after all of the tick's input arrived, only where an add reached one
    n_touched, synops = deliver(const, state, scratch, now, in_c, in_y, in_x, n_in)
    t0 = lap(prof, layer, PH_DELIVER, t0)
    # threshold scan of the touched positions
    cand_learn = scratch.cand_learn
    cand_infer = scratch.cand_infer
    n_cl = 0
    n_ci = 0
    for k in range(n_touched):
        pos = touched[k]
        mark = touched_mark[pos]
        touched_mark[pos] = 0
        nbase = pos * n_maps
        if learning and mark & MAYBE_LEARN and _any_at_least(v_learn, nbase, n_maps, theta_l):
            n_cl = _collect(v_learn, t_spike_learn, nbase, n_maps, theta_l, now, refractory, cand_learn, n_cl)
        if mark & MAYBE_INFER and _any_at_least(v_infer, nbase, n_maps, theta_i):
            n_ci = _collect(v_infer, t_spike_infer, nbase, n_maps, theta_i, now, refractory, cand_infer, n_ci)
    t0 = lap(prof, layer, PH_SCAN, t0)
    # 2. learning winners: greedy by V_learn, the rule, inhibition
    winners = scratch.winners
    n_win = 0
    if n_cl > 0:
        if n_cl == 1 or not has_equal_values(cand_learn, n_cl, v_learn, scratch.tie_v, scratch.tie_gen,
                                             scratch.tie_count):
            # no exact ties: repeatedly take the largest live candidate (see _take_best)
            t0 = lap(prof, layer, PH_SORT_LEARN, t0)
            m = n_cl
            while True:
                i, m = _take_best(cand_learn, m, v_learn, theta_l)
                if i < 0:
                    break
                t0 = _accept_learning(const, state, scratch, i, now, label, prof, layer, t0)
                winners[n_win] = i
                n_win += 1
        else:
            order = order_by_potential(cand_learn, n_cl, v_learn, rng)
            t0 = lap(prof, layer, PH_SORT_LEARN, t0)
            for k in range(n_cl):
                i = order[k]
                if v_learn[i] < theta_l:  # inhibited by an earlier winner of this tick
                    continue
                t0 = _accept_learning(const, state, scratch, i, now, label, prof, layer, t0)
                winners[n_win] = i
                n_win += 1
    # 3. inference spikes: greedy by V_infer with inter-map inhibition (or none)
    spikes = scratch.spikes
    n_spk = 0
    if n_ci > 0:
        r_infer = const.r_infer
        if r_infer == R_NONE:  # no inhibition: every candidate fires, in candidate order
            for k in range(n_ci):
                spikes[n_spk] = _accept_inference(const, state, cand_infer[k], now)
                n_spk += 1
        elif n_ci == 1 or not has_equal_values(cand_infer, n_ci, v_infer, scratch.tie_v, scratch.tie_gen,
                                               scratch.tie_count):
            if r_infer == 0:
                # same-position window: each position's largest candidate fires (they cannot
                # inhibit one another), in descending order of potential
                m = _position_maxima(cand_infer, n_ci, n_maps, v_infer)
                order = order_by_potential(cand_infer, m, v_infer, rng)  # no ties: draws nothing
                for k in range(m):
                    spikes[n_spk] = _accept_inference(const, state, order[k], now)
                    n_spk += 1
            else:
                m = n_ci
                while True:
                    i, m = _take_best(cand_infer, m, v_infer, theta_i)
                    if i < 0:
                        break
                    spikes[n_spk] = _accept_inference(const, state, i, now)
                    n_spk += 1
        else:
            order = order_by_potential(cand_infer, n_ci, v_infer, rng)
            for k in range(n_ci):
                i = order[k]
                if v_infer[i] < theta_i:
                    continue
                spikes[n_spk] = _accept_inference(const, state, i, now)
                n_spk += 1
    lap(prof, layer, PH_INFER, t0)
    return n_spk, n_win, synops


@njit(cache=True, nogil=True)
def run_stage(l_lo, l_hi, start_tick, ev_x, ev_y, ev_p, offsets, labels, input_pool, mid_in_off, mid_in,
              consts, states, scratches, rng, counters, in_buf, next_buf, top_out, n_top, rec, n_rec, record,
              mid_out_off, mid_out, n_mid, prof=None):
    """Step layers ``l_lo <= l < l_hi`` through the ticks ``start_tick + i`` for ``i < len(offsets) - 1``.

    Input of layer ``l_lo``: with ``l_lo == 0`` the sensor events ``ev_*[offsets[i]:offsets[i+1]]``
    (``input_pool`` > 1 pools them first); otherwise the rows ``mid_in[mid_in_off[i]:mid_in_off[i+1]]``
    (channel, y, x in layer ``l_lo``'s input coordinates) that a stage ending at ``l_lo`` wrote.
    Output of layer ``l_hi - 1``: the top layer's inference spikes are appended to ``top_out[n_top:]``
    as ``(tick, neuron)``; a lower layer's, pooled into the next layer's input, to ``mid_out[n_mid:]``
    with ``mid_out_off[i + 1]`` the end of tick ``i``'s rows (``mid_out_off[0]`` is the caller's).
    Layers ``[0, L)`` are the whole network in one call (:func:`run_ticks`); two stages, on two
    threads, pipeline it (:meth:`stdpnet.Network.run` with ``threads=2``) with the same result: a
    layer reads nothing of the layers above it, and each layer draws its exact-tie shuffles from its
    own stream ``rng[l]``.

    ``labels[i]`` is the reward signal (R-STDP layers only). ``consts``/``states``/``scratches``:
    typed lists of every layer's :class:`LayerConst`, :class:`LayerState`, :class:`LayerScratch`,
    bottom-up. With ``record``, every spike of these layers is appended to ``rec[n_rec:]`` as
    ``(tick, layer, kind, neuron)``. ``counters[l]`` accumulates ``(learning spikes, inference
    spikes, synaptic operations)``. ``prof``: None (the normal path: no timers compiled in) or an
    int64 array ``(n_layers, profiling.N_PHASES)`` of per-phase cycle counters to add to.

    Stops early, before a tick whose spikes might not fit in ``top_out``/``rec``/``mid_out``;
    returns ``(ticks_done, n_top, n_rec, n_mid)`` so the caller can grow the buffers and call again.
    """
    n_layers = len(consts)
    n_ticks = len(offsets) - 1
    top = n_layers - 1
    top_c = consts[top]
    top_neurons = top_c.n_maps * top_c.h_out * top_c.w_out
    out_c = consts[l_hi - 1]
    out_neurons = out_c.n_maps * out_c.h_out * out_c.w_out
    stage_neurons = 0
    for l in range(l_lo, l_hi):
        cl = consts[l]
        stage_neurons += cl.n_maps * cl.h_out * cl.w_out
    h0 = consts[0].h_in
    w0 = consts[0].w_in
    for l in range(l_lo, l_hi):  # the conv layers' mirrored weights, from w as it is now
        sync_mirror(consts[l], states[l], scratches[l])
    for t in range(n_ticks):
        if l_hi == n_layers and n_top + top_neurons > top_out.shape[0]:
            return t, n_top, n_rec, n_mid
        if l_hi < n_layers and n_mid + out_neurons > mid_out.shape[0]:
            return t, n_top, n_rec, n_mid
        if record and n_rec + 2 * stage_neurons > rec.shape[0]:
            return t, n_top, n_rec, n_mid
        now = start_tick + t
        label = labels[t]
        n_in = 0
        if l_lo == 0:
            for e in range(offsets[t], offsets[t + 1]):
                y = ev_y[e] // input_pool
                x = ev_x[e] // input_pool
                if y < h0 and x < w0:
                    in_buf[n_in, 0] = ev_p[e]
                    in_buf[n_in, 1] = y
                    in_buf[n_in, 2] = x
                    n_in += 1
        else:
            for e in range(mid_in_off[t], mid_in_off[t + 1]):
                in_buf[n_in, 0] = mid_in[e, 0]
                in_buf[n_in, 1] = mid_in[e, 1]
                in_buf[n_in, 2] = mid_in[e, 2]
                n_in += 1
        for l in range(l_lo, l_hi):
            if n_in == 0:
                # a layer with no input this tick touches no neuron, so it cannot spike: it and
                # every layer above it are left as they are (leak and refractoriness are lazy)
                break
            const = consts[l]
            scratch = scratches[l]
            n_spk, n_win, synops = layer_tick(const, states[l], scratch, now, label, rng[l:l + 1],
                                              in_buf[:, 0], in_buf[:, 1], in_buf[:, 2], n_in, prof, l)
            t_route = clock(prof)
            counters[l, 0] += n_win
            counters[l, 1] += n_spk
            counters[l, 2] += synops
            spikes = scratch.spikes
            if record:
                wins = scratch.winners
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
                # pooled inference spikes become the next layer's input, in the same tick (this
                # stage's last layer: into mid_out, for the next stage)
                last = l == l_hi - 1
                n_maps = const.n_maps
                w_out = const.w_out
                pool = const.pool
                h_next = consts[l + 1].h_in
                w_next = consts[l + 1].w_in
                n_next = 0
                for k in range(n_spk):
                    i = spikes[k]
                    pos = i // n_maps
                    y = (pos // w_out) // pool
                    x = (pos % w_out) // pool
                    if y < h_next and x < w_next:
                        if last:
                            mid_out[n_mid, 0] = i % n_maps
                            mid_out[n_mid, 1] = y
                            mid_out[n_mid, 2] = x
                            n_mid += 1
                        else:
                            next_buf[n_next, 0] = i % n_maps
                            next_buf[n_next, 1] = y
                            next_buf[n_next, 2] = x
                            n_next += 1
                in_buf, next_buf = next_buf, in_buf
                n_in = n_next
            lap(prof, l, PH_ROUTE, t_route)
        if l_hi < n_layers:
            mid_out_off[t + 1] = n_mid
    return n_ticks, n_top, n_rec, n_mid


@njit(cache=True, nogil=True)
def run_ticks(start_tick, ev_x, ev_y, ev_p, offsets, labels, input_pool, consts, states, scratches,
              rng, counters, in_buf, next_buf, top_out, n_top, rec, n_rec, record, prof=None):
    """Every layer through the ticks of ``offsets`` (:func:`run_stage` over ``[0, L)``); returns
    ``(ticks_done, n_top, n_rec)``. ``rng``: one xorshift64* state per layer (uint64)."""
    no_mid = np.zeros((0, 3), np.int64)
    no_off = np.zeros(1, np.int64)
    ticks_done, n_top, n_rec, _ = run_stage(0, len(consts), start_tick, ev_x, ev_y, ev_p, offsets, labels,
                                            input_pool, no_off, no_mid, consts, states, scratches, rng,
                                            counters, in_buf, next_buf, top_out, n_top, rec, n_rec, record,
                                            no_off, no_mid, 0, prof)
    return ticks_done, n_top, n_rec


@njit(cache=True, nogil=True)
def run_ticks_plain(start_tick, ev_x, ev_y, ev_p, offsets, labels, input_pool, consts, states, scratches,
                    rng, counters, in_buf, next_buf, top_out, n_top, rec, n_rec, record):
    """:func:`run_ticks` without profiling, with no optional argument at the Python boundary (an
    omitted or None argument made numba's dispatcher keep an object per call: memory grew with
    the stream)."""
    return run_ticks(start_tick, ev_x, ev_y, ev_p, offsets, labels, input_pool, consts, states, scratches,
                     rng, counters, in_buf, next_buf, top_out, n_top, rec, n_rec, record, None)


@njit(cache=True, nogil=True)
def run_stage_plain(l_lo, l_hi, start_tick, ev_x, ev_y, ev_p, offsets, labels, input_pool, mid_in_off, mid_in,
                    consts, states, scratches, rng, counters, in_buf, next_buf, top_out, n_top, rec, n_rec,
                    record, mid_out_off, mid_out, n_mid):
    """:func:`run_stage` without profiling (see :func:`run_ticks_plain`); it releases the GIL, so
    two stages run on two threads at once."""
    return run_stage(l_lo, l_hi, start_tick, ev_x, ev_y, ev_p, offsets, labels, input_pool, mid_in_off, mid_in,
                     consts, states, scratches, rng, counters, in_buf, next_buf, top_out, n_top, rec, n_rec,
                     record, mid_out_off, mid_out, n_mid, None)
