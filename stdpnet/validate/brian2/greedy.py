"""The greedy same-tick winner rule as a Brian2 ``network_operation`` (SPEC §4).

Brian2 has no construct for "sort this tick's candidates by potential (exact ties in seeded
random order) and accept each unless an earlier winner inhibits it": it is sequential and data
dependent. :class:`GreedyWinners` runs once per step and layer, after the step's input has been
integrated and before the threshold conditions are tested. It rebuilds the candidate list in
stdpnet's order, orders it, and applies the **inhibition** to the Brian2 state (learning:
``V_learn = 0``, ``t_ref = now``, intra-map and inter-map square window ``r_learn``; inference:
``V_infer = 0`` of other maps within ``r_infer``). Rejected candidates are thereby inhibited, so
Brian2's threshold conditions that run next emit exactly the accepted winners; resets and STDP are
then Brian2's. The operation does not touch weights, does not reset winners and does not decide
what crosses threshold: Brian2's conditions do (the candidate scan only mirrors them to build the
order).

What it restates and what it shares. The scan order, the threshold test of the scan, the
inhibition windows and the pooling of the layer's spikes are written here again, independently of
stdpnet.kernels (each marked "independent restatement of SPEC §N"). The one thing shared with the simulator is the seeded tie-break
order: :func:`stdpnet.kernels.order_by_potential` applied to the twin's **own copy** of the
xorshift64* state, called in stdpnet's order (layers bottom-up, learning then inference), so the
state advances identically. A seeded random order cannot be restated independently and still
agree draw for draw; a tie-break that differed would show up as a mismatch.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
from numba import njit

from ... import kernels as K

STATE_VARIABLES = ("touched", "V_learn", "V_infer", "t_ref", "t_spike_learn", "t_spike_infer")


@njit(cache=True)
def touched_order(in_c, in_y, in_x, n_in, k_h, k_w, h_out, w_out, mark, out):
    """Output positions receiving input this tick, in first-touch order of the input list.

    The simulator's scatter order: inputs in list order, each reaching positions
    ``(y - ky, x - kx)`` for ky, kx in the kernel, ky then kx.
    """
    # independent restatement of SPEC §4/§5 (scatter order, hence candidate order): do not share
    # with stdpnet.kernels
    n = 0
    for s in range(n_in):
        y = in_y[s]
        x = in_x[s]
        ky0 = max(0, y - h_out + 1)
        ky1 = min(k_h - 1, y)
        kx0 = max(0, x - w_out + 1)
        kx1 = min(k_w - 1, x)
        for ky in range(ky0, ky1 + 1):
            oy = y - ky
            for kx in range(kx0, kx1 + 1):
                ox = x - kx
                pos = oy * w_out + ox
                if mark[pos] == 0:
                    mark[pos] = 1
                    out[n] = pos
                    n += 1
    return n


@njit(cache=True)
def candidates(pos_buf, n_pos, n_maps, hw, touched, v, theta, t_spike, now, refractory, cand):
    """Neurons of the touched positions at or above ``theta`` and not refractory, written to
    ``cand`` in scan order (position by position, maps in order); returns their count.

    The threshold rule ``V >= theta`` is tested only where input arrived this tick.
    """
    # independent restatement of SPEC §2 (threshold rule): do not share with stdpnet.kernels
    n_c = 0
    for k in range(n_pos):
        p = pos_buf[k]
        for f in range(n_maps):
            i = f * hw + p
            if touched[i] != 0 and v[i] >= theta and now - t_spike[i] >= refractory:
                cand[n_c] = i
                n_c += 1
    return n_c


@njit(cache=True)
def window(pos, w_out, h_out, r):
    """Inhibition window: the square ``|dx| <= r, |dy| <= r`` clipped to the map (``R_GLOBAL``: the
    whole map). Returns ``(y0, y1, x0, x1)``, inclusive."""
    # independent restatement of SPEC §4 (inhibition window): do not share with stdpnet.kernels
    oy = pos // w_out
    ox = pos % w_out
    if r == K.R_GLOBAL:
        return 0, h_out - 1, 0, w_out - 1
    return max(0, oy - r), min(h_out - 1, oy + r), max(0, ox - r), min(w_out - 1, ox + r)


@njit(cache=True)
def decide(now, in_c, in_y, in_x, n_in, k_h, k_w, h_out, w_out, n_maps, mark, pos_buf,
           touched, v_learn, v_infer, t_ref, t_spike_learn, t_spike_infer,
           theta_l, theta_i, r_learn, r_infer, learning, refractory, rng,
           cand, win_out, spk_out):
    """The greedy same-tick rule of one layer on the Brian2 state (neuron index ``f*H*W + pos``).

    Returns ``(n_winners, n_inference_spikes, n_touched_missing, n_learning_candidates,
    n_inference_candidates)``; the accepted learning winners and inference spikes are written to
    ``win_out``/``spk_out`` in acceptance order. Inhibition is applied to the given arrays; winners
    are left for Brian2 to reset. ``n_touched_missing`` counts positions Brian2 marked touched that
    the input list does not reach (0 unless the twin's synapses are wired wrong); they are
    appended to the candidate order.
    """
    hw = h_out * w_out
    n_pos = touched_order(in_c, in_y, in_x, n_in, k_h, k_w, h_out, w_out, mark, pos_buf)
    # positions touched in Brian2 but not reached by the input list (should not happen)
    missing = 0
    n_touched_neurons = 0
    for i in range(touched.shape[0]):
        if touched[i] != 0:
            n_touched_neurons += 1
    if n_touched_neurons != n_pos * n_maps:
        for p in range(hw):
            if mark[p] == 0:
                for f in range(n_maps):
                    if touched[f * hw + p] != 0:
                        pos_buf[n_pos] = p
                        mark[p] = 1
                        n_pos += 1
                        missing += 1
                        break
    for k in range(n_pos):
        mark[pos_buf[k]] = 0
    # learning winners (SPEC §4, learning accumulators)
    n_win = 0
    n_cl = 0
    if learning:
        n_c = candidates(pos_buf, n_pos, n_maps, hw, touched, v_learn, theta_l, t_spike_learn, now,
                         refractory, cand)
        n_cl = n_c
        if n_c > 0:
            # shared on purpose: the seeded tie-break order (stdpnet.kernels.order_by_potential on
            # the twin's own copy of the RNG state), see the module docstring
            order = K.order_by_potential(cand, n_c, v_learn, rng)
            for k in range(n_c):
                i = order[k]
                if v_learn[i] < theta_l:
                    continue  # inhibited by an earlier winner of this tick
                win_out[n_win] = i
                n_win += 1
                f = i // hw
                p0 = i % hw
                # independent restatement of SPEC §4 (intra-map: every other position of the
                # map; inter-map: other maps in the square window r_learn; inhibiting sets
                # V_learn = 0 and t_ref = now): do not share with stdpnet.kernels
                for p in range(hw):
                    j = f * hw + p
                    if j != i:
                        v_learn[j] = 0.0
                        t_ref[j] = now
                if r_learn != K.R_NONE:
                    y0, y1, x0, x1 = window(p0, w_out, h_out, r_learn)
                    for y in range(y0, y1 + 1):
                        for x in range(x0, x1 + 1):
                            for g in range(n_maps):
                                if g != f:
                                    j = g * hw + y * w_out + x
                                    v_learn[j] = 0.0
                                    t_ref[j] = now
    # inference spikes (SPEC §4, inference accumulators)
    n_spk = 0
    n_c = candidates(pos_buf, n_pos, n_maps, hw, touched, v_infer, theta_i, t_spike_infer, now,
                     refractory, cand)
    if n_c > 0:
        if r_infer == K.R_NONE:
            order = cand[:n_c].copy()
        else:
            order = K.order_by_potential(cand, n_c, v_infer, rng)  # shared on purpose (tie-break)
        for k in range(n_c):
            i = order[k]
            if v_infer[i] < theta_i:
                continue
            spk_out[n_spk] = i
            n_spk += 1
            if r_infer != K.R_NONE:
                # independent restatement of SPEC §4 (inference: other maps within r_infer,
                # V_infer = 0 only): do not share with stdpnet.kernels
                f = i // hw
                y0, y1, x0, x1 = window(i % hw, w_out, h_out, r_infer)
                for y in range(y0, y1 + 1):
                    for x in range(x0, x1 + 1):
                        for g in range(n_maps):
                            if g != f:
                                v_infer[g * hw + y * w_out + x] = 0.0
    return n_win, n_spk, missing, n_cl, n_c


@njit(cache=True)
def pool_spikes(spk, n_spk, n_maps, h_out, w_out, pool, h_next, w_next, oc, oy, ox):
    """Pooled coordinates of a layer's inference spikes (in order), dropping those outside the next input.

    Pooling forwards every spike to ``(f, y // P, x // P)``; output ``floor(n/P)``.
    """
    # independent restatement of SPEC §5 (pooling): do not share with stdpnet.kernels
    hw = h_out * w_out
    n = 0
    for k in range(n_spk):
        i = spk[k]
        f = i // hw
        p = i % hw
        y = (p // w_out) // pool
        x = (p % w_out) // pool
        if y < h_next and x < w_next:
            oc[n] = f
            oy[n] = y
            ox[n] = x
            n += 1
    return n


def warm_up() -> None:
    """Compile (or load from numba's cache) the helpers before any timing starts."""
    z = np.zeros(4, np.int64)
    f = np.zeros(4)
    rng = np.array([0x9E3779B97F4A7C15], np.uint64)
    decide(0.0, z, z, z, 0, 1, 1, 2, 2, 1, np.zeros(4, np.uint8), z.copy(), np.zeros(4, np.int32),
           f.copy(), f.copy(), f.copy(), f.copy(), f.copy(), 1.0, 1.0, 0, 0, True, 0.0, rng,
           z.copy(), z.copy(), z.copy())
    pool_spikes(z, 0, 1, 2, 2, 1, 2, 2, z.copy(), z.copy(), z.copy())


class GreedyWinners:
    """One layer's greedy operation: call it once per Brian2 step (wrapped in a
    ``NetworkOperation`` by the twin).

    ``inputs`` gives the step's input list: ``inputs.at(step) -> (c, y, x, n)`` (the first layer:
    :class:`~.inputs.TickInputs`; higher layers: the :class:`GreedyWinners` below, whose pooled
    spikes of the same step it returns). ``group`` is the layer's Brian2 ``NeuronGroup``; ``rng``
    the twin's copy of the tie-breaking state, shared by all layers' operations. ``next_hw``: the
    next layer's input ``(H, W)``, or None for the top layer.

    After the run: :meth:`decisions` (rows ``(tick, layer, kind, neuron)`` in acceptance order),
    ``counts`` (learning candidates, learning winners, inference candidates, inference spikes) and
    ``missing`` (see :func:`decide`).
    """

    def __init__(self, layer_index: int, shape: Tuple[int, int, int], kernel: Tuple[int, int], group,
                 inputs, rng: np.ndarray, t0: int, theta_learn: float, theta_infer: float, r_learn: int,
                 r_infer: int, learning: bool, refractory: int, pool: int, next_hw: Optional[Tuple[int, int]]):
        self.layer_index = layer_index
        self.shape = shape
        self.kernel = kernel
        self.group = group
        self.inputs = inputs
        self.rng = rng
        self.t0 = t0
        self.theta_learn = float(theta_learn)
        self.theta_infer = float(theta_infer)
        self.r_learn = int(r_learn)
        self.r_infer = int(r_infer)
        self.learning = bool(learning)
        self.refractory = float(refractory)
        self.pool = int(pool)
        self.next_hw = next_hw
        F, H_out, W_out = shape
        N = F * H_out * W_out
        self._mark = np.zeros(H_out * W_out, np.uint8)
        self._positions = np.zeros(H_out * W_out, np.int64)
        self._cand = np.zeros(N, np.int64)
        self._win = np.zeros(N, np.int64)
        self._spk = np.zeros(N, np.int64)
        self._out_c = np.zeros(N, np.int64)
        self._out_y = np.zeros(N, np.int64)
        self._out_x = np.zeros(N, np.int64)
        self._n_out = 0
        self._arrays = {}
        self._step = 0
        self._decisions: List[np.ndarray] = []
        self.missing = 0
        self.counts = np.zeros(4, np.int64)

    def at(self, step: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """This layer's pooled inference spikes of the current step (the next layer's input list)."""
        return self._out_c, self._out_y, self._out_x, self._n_out

    def __call__(self) -> None:
        if not self._arrays:  # Brian2's own arrays (views): inhibition writes into the Brian2 state
            for v in STATE_VARIABLES:
                self._arrays[v] = self.group.variables[v].get_value()
        a = self._arrays
        now = self._step
        self._step += 1
        ic, iy, ix, n_in = self.inputs.at(now)
        F, H_out, W_out = self.shape
        k_h, k_w = self.kernel
        n_win, n_spk, missing, n_cl, n_ci = decide(
            float(now), ic, iy, ix, n_in, k_h, k_w, H_out, W_out, F, self._mark, self._positions,
            a["touched"], a["V_learn"], a["V_infer"], a["t_ref"], a["t_spike_learn"], a["t_spike_infer"],
            self.theta_learn, self.theta_infer, self.r_learn, self.r_infer, self.learning, self.refractory,
            self.rng, self._cand, self._win, self._spk)
        self.missing += missing
        self.counts += (n_cl, n_win, n_ci, n_spk)
        if n_win or n_spk:
            rows = np.empty((n_win + n_spk, 4), np.int64)
            rows[:, 0] = now + self.t0
            rows[:, 1] = self.layer_index
            rows[:n_win, 2] = K.KIND_LEARN
            rows[n_win:, 2] = K.KIND_INFER
            rows[:n_win, 3] = self._win[:n_win]
            rows[n_win:, 3] = self._spk[:n_spk]
            self._decisions.append(rows)
        if self.next_hw is not None:
            self._n_out = pool_spikes(self._spk, n_spk, F, H_out, W_out, self.pool, self.next_hw[0],
                                      self.next_hw[1], self._out_c, self._out_y, self._out_x)

    def decisions(self) -> np.ndarray:
        return np.concatenate(self._decisions) if self._decisions else np.zeros((0, 4), np.int64)
