"""Brian2 twin of a stdpnet :class:`~stdpnet.network.Network` (cross-validation, issue 5).

:class:`Brian2Twin` takes a stdpnet network *as it is now* (spec, per-layer parameters, current
weights, accumulators, ``t_ref``, last presynaptic spike times and the tie-breaking RNG state) and
a list of :class:`streams.ticks.TickChunk`, and builds the equivalent Brian2 model; running it
gives every learning and inference spike of every layer and the final weights, to be compared
with what stdpnet does on the same chunks (:mod:`stdpnet.validate.crosscheck`).

What is genuine Brian2
----------------------
- **Input**: a ``SpikeGeneratorGroup`` whose spikes are the chunk's events binned to ``dt`` (tick
  ``k`` -> Brian2 step ``k - t0``). Brian2 allows one spike per neuron and step, while a pixel may
  fire several times in one tick: the generator has one neuron per ``(rank, pixel)``, rank being
  the occurrence number of the pixel's event within its tick, so every event is one spike.
- **Each learning layer** is a ``NeuronGroup`` (neuron ``i`` = stdpnet's public index
  ``f*H*W + y*W + x``) with both accumulators ``V_learn`` and ``V_infer`` (with the optional leak
  they are real equations ``dV/dt = -V/tau``, integrated by Brian2's ``exact`` method), ``t_ref``,
  the times of the last learning/inference spike (refractory period) and a ``touched`` flag.
  The inference spike is the group's ``spike`` event (``threshold`` / ``reset``), the learning
  spike a custom event ``learn`` (``events=`` / ``run_on_event``), both with their real
  conditions ``V >= theta`` (only at positions that received input this tick, as in stdpnet, and
  outside the refractory period).
- **Shared kernels**: a ``NeuronGroup`` per layer holds the kernel weights (one element per
  weight, stdpnet's flat layout); every synapse reads its weight through a Brian2 *linked
  variable* indexed by its kernel entry, so weight sharing needs no copying.
- **Convolution** is expanded into explicit ``Synapses`` (one per input/neuron pair of every
  receptive field) with ``on_pre: V_learn_post += w; V_infer_post += w``. **Pooling** is folded
  into these forwarding synapses: a spike of neuron ``(f, y, x)`` of the layer below is delivered
  to every neuron whose receptive field contains ``(f, y // k, x // k)``, so every spike is
  forwarded individually, as stdpnet's stateless pooling does.
- **STDP** is Brian2 code on the learning spikes: ``Synapses`` from the layer's (pooled) input
  group to the layer, ``on_post`` triggered by the ``learn`` event, write
  ``w = clip(w + dw, w_min, w_max)`` into the shared kernel (causal iff the input's last spike
  ``tlast_pre`` is later than ``t_ref_post``). The input group's ``tlast`` (stdpnet's ``t_pre``) is
  kept up to date by forwarding synapses ``on_pre: tlast_post = t_in_timesteps``.

What is a ``network_operation`` and why
---------------------------------------
One operation per layer, once per step, between the integration of the step's input and the
threshold test: the **greedy same-tick winner rule** (SPEC section 4). Brian2 has no construct for
"sort this tick's candidates by potential (exact ties in seeded random order) and accept each
unless an earlier winner inhibits it": it is sequential and data dependent. The operation
rebuilds the candidate list in stdpnet's order, orders it with
:func:`stdpnet.kernels.order_by_potential` on the twin's own copy of the xorshift64* state (the
calls are made in stdpnet's order: layers bottom-up, learning then inference, so the state
advances identically), and applies the **inhibition** (learning: ``V_learn = 0``, ``t_ref = now``,
intra-map and inter-map square window ``r_learn``; inference: ``V_infer = 0`` of other maps within
``r_infer``) to the Brian2 state. Rejected candidates are thereby inhibited, so the Brian2
threshold conditions that run next emit exactly the accepted winners; resets and STDP are then
done by Brian2. The operation does not touch weights, does not reset winners and does not decide
what crosses threshold.

Brian2's one-tick latency per layer, and how it is removed
----------------------------------------------------------
With Brian2's default schedule (``start, groups, thresholds, synapses, resets, end``) a spike
emitted in step ``n`` is delivered by a delay-0 ``Synapses`` in the same step's ``synapses`` slot,
but the receiving group's threshold is tested only in step ``n + 1``'s ``thresholds`` slot: each
layer adds one ``dt``, and resets (``resets`` slot) would come after the next step's input.
stdpnet decides every layer within one tick, bottom-up (SPEC section 5). A pipelined twin (layer
``l``'s step ``n`` = tick ``n - l``) cannot reproduce that exactly: the shared tie-breaking RNG
would be drawn in another order as soon as there are three layers, and the leak would decay each
layer's accumulators once more before its threshold test. The twin therefore schedules each
layer's chain explicitly inside the ``synapses`` slot of one step, with ``order`` values
``100 * (l + 1) + k`` (``k`` below), so Brian2 step ``n`` is stdpnet tick ``t0 + n`` **for every
layer** (the tick mapping is the identity plus the chunk's start tick, see
:meth:`Brian2Twin.tick_of_step`)::

    groups           leak (state updaters)
    thresholds       SpikeGeneratorGroup emits tick n's input events
    synapses  +0     forwarding synapses -> input group (tlast = now)      [stdpnet t_pre]
              +1     conv/pool synapses: V_learn += w, V_infer += w, touched = 1
              +2     network_operation: greedy winners, inhibition
              +3     thresholders: 'spike' (inference), 'learn'
              +4     STDP synapses (on_post, 'learn' event) -> shared kernel
              +5     resets: V_infer (spike), V_learn and t_ref (learn)
              +6     touched = 0
              ...    next layer: +0 of 100 * (l + 2) reads this layer's spikes of this step
    end              monitors

Float summation order: Brian2 adds a step's input spikes in order of presynaptic index, stdpnet in
the order of its input list. For the first layer both agree when the chunk's events are put in
canonical order within each tick (:func:`canonical_chunk`: by rank, then channel, row, column;
the order of events within a tick is no part of the model); higher layers receive spikes in
greedy order in stdpnet and in index order in Brian2, so their potentials may differ in the last
bits. The STDP code is written as stdpnet's formula and compiled without Brian2's loop-invariant
hoisting, with the C library's ``exp`` on every target (numpy's vectorised one may differ in the
last bit), so weights are bitwise equal to stdpnet's.

Cost: the shared kernel needs no copying, but the explicit expansion does: every input (after
pooling: every neuron of the layer below) has one synapse per neuron of its receptive field, and
the STDP synapses one per input/neuron pair (about 9.5 million synapses for
``34x34x2-16C5-P2-32C5-P2-100``). On the numpy target the STDP code runs as a Python loop over the
winner's synapses (Brian2 cannot vectorise a write through a possibly repeated kernel index).

Not supported: R-STDP layers (``rule='rstdp'``) raise :class:`TwinError`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
from numba import njit

from .. import kernels as K
from ..layers import LearningLayer, rule_name
from ..rules import STDPParams
from ..network import Network

# Brian2 holds tick times as float64 steps relative to the first tick; "never" is far in the past
# (exactly representable, and far enough that ``now - NEVER_STEP >= refractory`` always holds).
NEVER_STEP = -1.0e18

# scheduling: order offsets within the 'synapses' slot, per layer
_ORD_FORWARD, _ORD_DELIVER, _ORD_DECIDE, _ORD_THRESH, _ORD_STDP, _ORD_RESET, _ORD_CLEAR = range(7)


class TwinError(RuntimeError):
    """The network (or input) uses something the Brian2 twin cannot represent."""


class _DropSTDPNotices(logging.Filter):
    """Two Brian2 notices about the twin's STDP code, both expected:
    - "may not be well-defined: the outcome may depend on the order of execution": several synapses
      write the same shared kernel entry. Within one tick at most one winner per map learns, and a
      winner's receptive field holds each kernel entry once, so no entry is written twice in a step;
    - "Failed to vectorise code, falling back on Python loop" (numpy target): for the same reason
      (a write through an index that may repeat); it costs time on learning spikes only."""

    def filter(self, record):
        msg = record.getMessage()
        return not ("dwp" in msg and ("well-defined" in msg or "vectorise" in msg))


_quieted = False


def _quiet_brian2() -> None:
    global _quieted
    if not _quieted:
        for name in ("brian2.codegen.generators.base", "brian2.codegen.generators.numpy_generator"):
            logging.getLogger(name).addFilter(_DropSTDPNotices())
        _quieted = True


@contextlib.contextmanager
def _brian2_prefs(b2, target):
    """Brian2 preferences of the twin, for IEEE arithmetic in the order written:
    - the code generation target;
    - no loop-invariant optimisation (Brian2 would hoist ``-beta_plus / w_span`` out of
      ``-beta_plus * (w - w_min) / w_span`` and round differently);
    - for the cython target, GCC flags without ``-ffast-math`` (reassociation, vectorised ``exp``)
      and with ``-ffp-contract=off`` (no fused multiply-add), otherwise as Brian2's defaults; the
      modules go to their own sub-directory ``stdpnet_ieee`` of Brian2's Cython cache, as Brian2's
      cache key ignores compiler flags.
    """
    from brian2.codegen.runtime.cython_rt.extension_manager import get_cython_cache_dir

    p = b2.prefs.codegen
    old = (p.target, p.loop_invariant_optimisations, p.cpp.extra_compile_args_gcc,
           p.runtime.cython.cache_dir)
    p.target = target
    p.loop_invariant_optimisations = False
    flags = [f for f in old[2] if f not in ("-ffast-math", "-fno-finite-math-only")]
    p.cpp.extra_compile_args_gcc = flags + ["-ffp-contract=off"]
    base = get_cython_cache_dir()
    if base:
        p.runtime.cython.cache_dir = os.path.join(os.path.expanduser(base), "stdpnet_ieee")
    try:
        yield
    finally:
        (p.target, p.loop_invariant_optimisations, p.cpp.extra_compile_args_gcc,
         p.runtime.cython.cache_dir) = old


_LIBM_EXP = None


def _libm_exp(b2):
    """The C library's ``exp`` as a Brian2 function, on every target.

    stdpnet's kernels (numba) and Brian2's cython target call the C library; numpy's own vectorised
    ``exp`` may differ in the last bit, which is enough to turn an exact tie of two potentials
    (common with regular input) into a strict order, and change a winner.
    """
    global _LIBM_EXP
    if _LIBM_EXP is None:
        import math

        @b2.implementation("cython", "cdef double libm_exp(double x):\n    return exp(x)\n")
        @b2.check_units(x=1, result=1)
        def libm_exp(x):
            if np.ndim(x) == 0:
                return math.exp(x)
            x = np.asarray(x, float)
            return np.fromiter((math.exp(v) for v in x.ravel()), float, x.size).reshape(x.shape)

        _LIBM_EXP = libm_exp
    return _LIBM_EXP


def _layer_order(l: int) -> int:
    return 100 * (l + 1)


# ------------------------------------------------------------------------------------------------
# Input preparation
# ------------------------------------------------------------------------------------------------
def _event_ranks(tick_of: np.ndarray, pix: np.ndarray) -> np.ndarray:
    """Occurrence number of each event's pixel within its tick (0 for the first, 1, ...)."""
    n = len(pix)
    if n == 0:
        return np.zeros(0, np.int64)
    o = np.lexsort((np.arange(n), pix, tick_of))
    t_s, p_s = tick_of[o], pix[o]
    new_group = np.ones(n, bool)
    new_group[1:] = (t_s[1:] != t_s[:-1]) | (p_s[1:] != p_s[:-1])
    starts = np.flatnonzero(new_group)
    group_start = starts[np.cumsum(new_group) - 1]
    rank = np.empty(n, np.int64)
    rank[o] = np.arange(n) - group_start
    return rank


def canonical_chunk(chunk, sensor_size):
    """The same chunk with the events of each tick reordered by (rank, channel, row, column).

    Same events, same ticks: stdpnet delivers all of a tick's events in that tick, so only the
    floating-point summation order changes, and it then equals Brian2's for the first layer.
    ``sensor_size`` is ``(W, H, C)``.
    """
    from streams.ticks import TickChunk

    W, H, _ = sensor_size
    ev = chunk.events
    offsets = np.asarray(chunk.offsets, np.int64)
    tick_of = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    pix = (ev["p"].astype(np.int64) * H + ev["y"].astype(np.int64)) * W + ev["x"].astype(np.int64)
    rank = _event_ranks(tick_of, pix)
    order = np.lexsort((pix, rank, tick_of))
    return TickChunk(chunk.start_tick, chunk.dt_us, ev[order], offsets.copy(),
                     np.asarray(chunk.sample).copy(), np.asarray(chunk.label).copy())


# ------------------------------------------------------------------------------------------------
# Compiled helpers of the network operation
# ------------------------------------------------------------------------------------------------
@njit(cache=True)
def _touched_order(in_c, in_y, in_x, n_in, k_h, k_w, h_out, w_out, mark, out):
    """Output positions receiving input this tick, in stdpnet's first-touch order (its scatter loop)."""
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
def _candidates(pos_buf, n_pos, n_maps, hw, touched, v, theta, t_spike, now, refractory, cand):
    """Neurons of the touched positions at or above ``theta`` and not refractory, written to
    ``cand`` in stdpnet's scan order (position by position, maps in order); returns their count."""
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
def _window(pos, w_out, h_out, r):
    oy = pos // w_out
    ox = pos % w_out
    if r == K.R_GLOBAL:
        return 0, h_out - 1, 0, w_out - 1
    return max(0, oy - r), min(h_out - 1, oy + r), max(0, ox - r), min(w_out - 1, ox + r)


@njit(cache=True)
def _decide(now, in_c, in_y, in_x, n_in, k_h, k_w, h_out, w_out, n_maps, mark, pos_buf,
            touched, v_learn, v_infer, t_ref, t_spike_learn, t_spike_infer,
            theta_l, theta_i, r_learn, r_infer, learning, refractory, rng,
            cand, win_out, spk_out):
    """The greedy same-tick rule of one layer on the Brian2 state (neuron index ``f*H*W + pos``).

    Returns ``(n_winners, n_inference_spikes, n_touched_missing, n_learning_candidates,
    n_inference_candidates)``; the accepted learning winners
    and inference spikes are written to ``win_out``/``spk_out`` in acceptance order. Inhibition
    is applied to the given arrays; winners are left for Brian2 to reset.
    ``n_touched_missing`` counts positions Brian2 marked touched that stdpnet's input list does not
    reach (0 unless the twin's synapses are wired wrong); they are appended to the candidate order.
    """
    hw = h_out * w_out
    n_pos = _touched_order(in_c, in_y, in_x, n_in, k_h, k_w, h_out, w_out, mark, pos_buf)
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
    # learning winners
    n_win = 0
    n_cl = 0
    if learning:
        n_c = _candidates(pos_buf, n_pos, n_maps, hw, touched, v_learn, theta_l, t_spike_learn, now,
                          refractory, cand)
        n_cl = n_c
        if n_c > 0:
            order = K.order_by_potential(cand, n_c, v_learn, rng)
            for k in range(n_c):
                i = order[k]
                if v_learn[i] < theta_l:
                    continue  # inhibited by an earlier winner of this tick
                win_out[n_win] = i
                n_win += 1
                f = i // hw
                p0 = i % hw
                for p in range(hw):  # intra-map: every other position of the map
                    j = f * hw + p
                    if j != i:
                        v_learn[j] = 0.0
                        t_ref[j] = now
                if r_learn != K.R_NONE:  # inter-map: other maps in the square window
                    y0, y1, x0, x1 = _window(p0, w_out, h_out, r_learn)
                    for y in range(y0, y1 + 1):
                        for x in range(x0, x1 + 1):
                            for g in range(n_maps):
                                if g != f:
                                    j = g * hw + y * w_out + x
                                    v_learn[j] = 0.0
                                    t_ref[j] = now
    # inference spikes
    n_spk = 0
    n_c = _candidates(pos_buf, n_pos, n_maps, hw, touched, v_infer, theta_i, t_spike_infer, now,
                      refractory, cand)
    if n_c > 0:
        if r_infer == K.R_NONE:
            order = cand[:n_c].copy()
        else:
            order = K.order_by_potential(cand, n_c, v_infer, rng)
        for k in range(n_c):
            i = order[k]
            if v_infer[i] < theta_i:
                continue
            spk_out[n_spk] = i
            n_spk += 1
            if r_infer != K.R_NONE:
                f = i // hw
                y0, y1, x0, x1 = _window(i % hw, w_out, h_out, r_infer)
                for y in range(y0, y1 + 1):
                    for x in range(x0, x1 + 1):
                        for g in range(n_maps):
                            if g != f:
                                v_infer[g * hw + y * w_out + x] = 0.0
    return n_win, n_spk, missing, n_cl, n_c


@njit(cache=True)
def _pool_spikes(spk, n_spk, n_maps, h_out, w_out, pool, h_next, w_next, oc, oy, ox):
    """Pooled coordinates of a layer's inference spikes (in order), dropping those outside the next input."""
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


def _warm_up_numba() -> None:
    """Compile (or load from numba's cache) the helpers before any timing starts."""
    z = np.zeros(4, np.int64)
    f = np.zeros(4)
    rng = np.array([0x9E3779B97F4A7C15], np.uint64)
    _decide(0.0, z, z, z, 0, 1, 1, 2, 2, 1, np.zeros(4, np.uint8), z.copy(), np.zeros(4, np.int32),
            f.copy(), f.copy(), f.copy(), f.copy(), f.copy(), 1.0, 1.0, 0, 0, True, 0.0, rng,
            z.copy(), z.copy(), z.copy())
    _pool_spikes(z, 0, 1, 2, 2, 1, 2, 2, z.copy(), z.copy(), z.copy())


# ------------------------------------------------------------------------------------------------
# Connectivity
# ------------------------------------------------------------------------------------------------
def _conv_rows(C, H_in, W_in, F, k_h, k_w, H_out, W_out):
    """All (input, neuron, kernel entry) triples of a convolution, sorted by input then neuron.

    input = ``(c*H_in + y)*W_in + x``; neuron = ``f*H_out*W_out + oy*W_out + ox`` (public index);
    kernel entry = ``((c*k_h + ky)*k_w + kx)*F + f`` (stdpnet's flat weight layout).
    """
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


def _expand_sources(src_inp: np.ndarray, inp: np.ndarray, post: np.ndarray, kid: np.ndarray, n_inputs: int):
    """Forwarding (pooling) synapses: each source ``s`` with input ``src_inp[s] >= 0`` gets the
    conv rows of its input. Returns ``(pre, post, kidx)``."""
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


# ------------------------------------------------------------------------------------------------
# The twin
# ------------------------------------------------------------------------------------------------
@dataclass
class TwinResult:
    """What a twin run produced.

    ``record``: every Brian2 spike as rows ``(tick, layer, kind, neuron)`` (kind 0 = learning,
    1 = inference, public neuron index), sorted; same format as stdpnet's ``RunResult.record``.
    ``decisions``: the same rows as decided by the network operations, in acceptance order
    (diagnostic: they equal ``record`` unless Brian2's thresholds disagree with the greedy rule).
    ``wall_s``: wall time of the simulation loop (first to last step); ``setup_s``: Brian2's code
    generation/compilation and other preparation inside ``run`` before the first step.
    """

    start_tick: int
    n_ticks: int
    record: np.ndarray
    decisions: np.ndarray
    wall_s: float
    setup_s: float
    build_s: float
    target: str
    touched_missing: int = 0
    #: per layer: learning candidates, learning winners, inference candidates, inference spikes
    #: (candidates beyond winners are same-tick conflicts resolved by the greedy rule)
    conflicts: Dict[str, Dict[str, int]] = field(default_factory=dict)
    traces: Dict[str, Dict[str, np.ndarray]] = field(default_factory=dict)


class Brian2Twin:
    """The Brian2 model equivalent to ``net`` on the ticks of ``chunks`` (see the module docstring).

    The network's current state is copied, not shared: run stdpnet on the same chunks afterwards
    (or before, from a saved state) and compare. ``overrides`` maps layer names to parameters of
    the *twin only* (``theta_learn``, ``theta_infer``): a deliberately perturbed twin, to check
    that a comparison can fail. ``trace`` maps layer names to neuron indices whose ``V_learn`` and
    ``V_infer`` are recorded at the end of every step (``StateMonitor``).
    """

    def __init__(self, net: Network, chunks: Sequence, target: str = "numpy",
                 overrides: Optional[Dict[str, Dict[str, float]]] = None,
                 trace: Optional[Dict[str, Sequence[int]]] = None):
        import brian2 as b2

        t_build = time.perf_counter()
        if not chunks:
            raise ValueError("Brian2Twin needs at least one TickChunk")
        if target not in ("numpy", "cython"):
            raise ValueError(f"target must be 'numpy' or 'cython', got {target!r}")
        for layer in net.learning_layers:
            if not isinstance(layer.rule, STDPParams):
                raise TwinError(f"{layer.name}: the Brian2 twin supports the STDP rule only, not "
                                f"{rule_name(layer.rule)!r}")
        _quiet_brian2()
        _warm_up_numba()
        with _brian2_prefs(b2, target):  # synapse creation is generated code too
            self._build(b2, net, chunks, target, overrides, trace)
        self.build_s = time.perf_counter() - t_build

    def _build(self, b2, net, chunks, target, overrides, trace):
        self._ran = False
        self.net = net
        self.target = target
        self.dt_us = net.dt_us
        self.t0 = int(chunks[0].start_tick)
        overrides = overrides or {}
        trace = trace or {}
        unknown = (set(overrides) | set(trace)) - {l.name for l in net.learning_layers}
        if unknown:
            raise ValueError(f"unknown layer(s) {sorted(unknown)}")

        # ---- input events -> steps ------------------------------------------------------------
        W_s, H_s, C_s = net.sensor_size
        n_pix = C_s * H_s * W_s
        ticks, xs, ys, ps = [], [], [], []
        last_tick = self.t0 - 1
        for ch in chunks:
            if int(ch.start_tick) <= last_tick:
                raise ValueError("chunks must follow each other in time")
            if ch.dt_us != net.dt_us:
                raise ValueError(f"chunk dt_us={ch.dt_us} but the network's is {net.dt_us}")
            off = np.asarray(ch.offsets, np.int64)
            ticks.append(int(ch.start_tick) + np.repeat(np.arange(len(off) - 1), np.diff(off)))
            ev = ch.events[off[0]:off[-1]]
            xs.append(ev["x"].astype(np.int64))
            ys.append(ev["y"].astype(np.int64))
            ps.append(ev["p"].astype(np.int64))
            last_tick = int(ch.start_tick) + len(off) - 2
        self.n_ticks = last_tick + 1 - self.t0
        step = np.concatenate(ticks) - self.t0
        x, y, p = np.concatenate(xs), np.concatenate(ys), np.concatenate(ps)
        self.n_events = len(x)
        if len(x) and ((x < 0) | (x >= W_s) | (y < 0) | (y >= H_s) | (p < 0) | (p >= C_s)).any():
            raise ValueError(f"input events lie outside the network's sensor {net.sensor_size}")
        pix = (p * H_s + y) * W_s + x
        rank = _event_ranks(step, pix)
        gen_idx = rank * n_pix + pix
        n_gen = int(rank.max() + 1) * n_pix if len(rank) else n_pix
        # layer-0 input list per step, in the chunks' order, pooled and clipped like stdpnet
        L0 = net.learning_layers[0]
        _, H0, W0 = L0.in_shape
        P0 = net.input_pool
        keep = ((y // P0) < H0) & ((x // P0) < W0)
        self._in0 = (p[keep], (y // P0)[keep], (x // P0)[keep])
        self._in0_off = np.searchsorted(step[keep], np.arange(self.n_ticks + 1), side="left").astype(np.int64)
        if len(step) and np.any(np.diff(step[keep]) < 0):
            raise ValueError("events are not in tick order")

        clock = b2.Clock(dt=self.dt_us * b2.us, name="stdpnet_twin_clock*")
        self._clock = clock
        objects: List = []
        gen_order = np.lexsort((gen_idx, step))
        used_gen = np.unique(gen_idx)
        gen = b2.SpikeGeneratorGroup(n_gen, gen_idx[gen_order].astype(np.int64),
                                     step[gen_order] * (self.dt_us * b2.us), clock=clock,
                                     sorted=True, name="input*")
        objects.append(gen)
        gen_pix = np.arange(n_gen) % n_pix
        gp, gy, gx = gen_pix // (H_s * W_s), (gen_pix // W_s) % H_s, gen_pix % W_s
        src_inp = np.where((gy // P0 < H0) & (gx // P0 < W0), (gp * H0 + gy // P0) * W0 + gx // P0, -1)
        unused = np.ones(n_gen, bool)
        unused[used_gen] = False
        src_inp[unused] = -1  # no synapses for generator neurons that never fire

        # ---- layers -----------------------------------------------------------------------------
        self.rng = net.rng_state.copy()
        self.layers = []
        source = gen
        for li, layer in enumerate(net.learning_layers):
            info = self._build_layer(b2, clock, li, layer, source, src_inp, overrides.get(layer.name, {}),
                                     trace.get(layer.name), objects)
            self.layers.append(info)
            # sources for the next layer: this layer's neurons, pooled
            F, (Ho, Wo) = layer.n_maps, layer.out_hw
            if li + 1 < len(net.learning_layers):
                nxt = net.learning_layers[li + 1]
                _, Hn, Wn = nxt.in_shape
                k = layer.pool_after
                nid = np.arange(layer.n_neurons)
                f, pos = nid // (Ho * Wo), nid % (Ho * Wo)
                yy, xx = (pos // Wo) // k, (pos % Wo) // k
                src_inp = np.where((yy < Hn) & (xx < Wn), (f * Hn + yy) * Wn + xx, -1)
                source = info["group"]

        # timing probe: first step of the simulation loop
        def _first_step():
            if self._t_first is None:
                self._t_first = time.perf_counter()
        self._t_first = None
        objects.append(b2.NetworkOperation(_first_step, clock=clock, when="start", order=-1000,
                                           name="twin_timer*"))
        self.b2net = b2.Network(*objects)

    # --------------------------------------------------------------------------------------------
    def _build_layer(self, b2, clock, li, layer: LearningLayer, source, src_inp, over, trace_idx, objects):
        p = layer.params
        C, H_in, W_in = layer.in_shape
        F = layer.n_maps
        k_h, k_w = layer.kernel
        H_out, W_out = layer.out_hw
        N = layer.n_neurons
        base = _layer_order(li)
        const = layer.const(self.dt_us)
        rule = p.rule
        theta_l = float(over.get("theta_learn", const.theta_learn))
        theta_i = float(over.get("theta_infer", const.theta_infer))
        bad = set(over) - {"theta_learn", "theta_infer"}
        if bad:
            raise ValueError(f"{layer.name}: the twin can override theta_learn/theta_infer only, not {sorted(bad)}")
        learning = bool(p.learning)
        refractory = int(const.refractory)
        tau_ticks = float(const.leak_tau)
        subtract = p.reset == "subtract"
        name = layer.name
        ns = {"theta_l": theta_l, "theta_i": theta_i, "refractory": refractory,
              "tau_leak": tau_ticks * self.dt_us * b2.us if tau_ticks > 0 else 1 * b2.second,
              "alpha_plus": rule.alpha_plus, "alpha_minus": rule.alpha_minus,
              "beta_plus": rule.beta_plus, "beta_minus": rule.beta_minus,
              "w_min": rule.w_min, "w_max": rule.w_max, "w_span": rule.w_max - rule.w_min,
              "libm_exp": _libm_exp(b2)}

        # kernel (shared weights), stdpnet's flat layout
        kern = b2.NeuronGroup(len(layer.w), "w : 1", clock=clock, name=f"{name}_kernel*")
        kern.w = layer.w
        kern.state_updater.active = False  # parameters only
        # neurons: public index f*H*W + pos; stdpnet's arrays are (pos*F + f)
        if tau_ticks > 0:
            eqs = "dV_learn/dt = -V_learn/tau_leak : 1\ndV_infer/dt = -V_infer/tau_leak : 1\n"
            method = "exact"
        else:
            eqs = "V_learn : 1\nV_infer : 1\n"
            method = None
        eqs += "t_ref : 1\nt_spike_learn : 1\nt_spike_infer : 1\ntouched : integer\n"
        refr_i = " and t_in_timesteps - t_spike_infer >= refractory" if refractory else ""
        refr_l = " and t_in_timesteps - t_spike_learn >= refractory" if refractory else ""
        reset_i = ("V_infer -= theta_i" if subtract else "V_infer = 0") + "\nt_spike_infer = t_in_timesteps"
        events = {"learn": f"touched > 0 and V_learn >= theta_l{refr_l}"} if learning else None
        group = b2.NeuronGroup(N, eqs, threshold=f"touched > 0 and V_infer >= theta_i{refr_i}",
                               reset=reset_i, events=events, method=method, namespace=ns,
                               clock=clock, name=f"{name}*")
        perm = layer.to_public_index(np.arange(N))  # internal index -> public
        inv = np.empty(N, np.int64)
        inv[perm] = np.arange(N)  # public -> internal
        t0 = self.t0

        def steps(a):
            a = np.asarray(a, np.int64)
            return np.where(a == K.NEVER, NEVER_STEP, (a - t0).astype(float))

        v_l, v_i = layer.v_learn[inv].astype(float), layer.v_infer[inv].astype(float)
        if tau_ticks > 0:
            # stdpnet stores V at its last update; Brian2 decays once more before step 0's input
            v_l = v_l * np.exp(-((t0 - 1) - layer.t_upd_learn[inv]) / tau_ticks)
            v_i = v_i * np.exp(-((t0 - 1) - layer.t_upd_infer[inv]) / tau_ticks)
        group.V_learn = v_l
        group.V_infer = v_i
        group.t_ref = steps(layer.t_ref[inv])
        group.t_spike_learn = steps(layer.t_spike_learn[inv])
        group.t_spike_infer = steps(layer.t_spike_infer[inv])
        group.touched = 0
        if tau_ticks <= 0:  # no equations to integrate: skip the empty per-step state update
            group.state_updater.active = False
        group.thresholder["spike"].when = "synapses"
        group.thresholder["spike"].order = base + _ORD_THRESH
        group.resetter["spike"].when = "synapses"
        group.resetter["spike"].order = base + _ORD_RESET
        if learning:
            group.thresholder["learn"].when = "synapses"
            group.thresholder["learn"].order = base + _ORD_THRESH
            reset_l = ("V_learn -= theta_l" if subtract else "V_learn = 0") + \
                "\nt_ref = t_in_timesteps\nt_spike_learn = t_in_timesteps"
            group.run_on_event("learn", reset_l, when="synapses", order=base + _ORD_RESET)
        group.run_regularly("touched = 0", when="synapses", order=base + _ORD_CLEAR,
                                    name=f"{name}_clear*")
        objects += [kern, group]

        # input group: the layer's (pooled) inputs with the time of their last spike (= t_pre)
        n_inputs = C * H_in * W_in
        inputs = b2.NeuronGroup(n_inputs, "tlast : 1", clock=clock, name=f"{name}_input*")
        inputs.tlast = steps(layer.t_pre)
        inputs.state_updater.active = False
        objects.append(inputs)
        fwd_pre = np.flatnonzero(src_inp >= 0)
        inp, post, kid = _conv_rows(C, H_in, W_in, F, k_h, k_w, H_out, W_out)
        n_syn = 0
        if len(fwd_pre):  # (Brian2 cannot connect empty index arrays: no input, no synapses)
            fwd = b2.Synapses(source, inputs, on_pre="tlast_post = t_in_timesteps", delay=0 * b2.ms,
                              clock=clock, name=f"{name}_forward*")
            fwd.connect(i=fwd_pre, j=src_inp[fwd_pre])
            fwd.pre.order = base + _ORD_FORWARD
            # convolution (with the pooling of the layer below folded in): delivery synapses
            d_pre, d_post, d_kid = _expand_sources(src_inp, inp, post, kid, n_inputs)
            gate_l = " * int(t_in_timesteps - t_spike_learn_post >= refractory)" if refractory else ""
            gate_i = " * int(t_in_timesteps - t_spike_infer_post >= refractory)" if refractory else ""
            on_pre = ((f"V_learn_post += w{gate_l}\n" if learning else "")
                      + f"V_infer_post += w{gate_i}\ntouched_post = 1")
            syn = b2.Synapses(source, group, "w : 1 (linked)\nkidx : integer (constant)", on_pre=on_pre,
                              delay=0 * b2.ms, namespace=ns, clock=clock, name=f"{name}_conv*")
            syn.connect(i=d_pre, j=d_post)
            syn.kidx = d_kid
            syn.w = b2.linked_var(kern, "w", index="kidx")
            syn.pre.order = base + _ORD_DELIVER
            objects += [fwd, syn]
            n_syn = len(d_pre)

        # STDP: input group -> layer, on the 'learn' event, into the shared kernel
        if learning:
            stdp = b2.Synapses(
                inputs, group, "w : 1 (linked)\nkidx : integer (constant)",
                on_post="dwp = alpha_plus * libm_exp(-beta_plus * (w - w_min) / w_span)\n"
                        "dwm = alpha_minus * libm_exp(-beta_minus * (w_max - w) / w_span)\n"
                        "w = clip(w + int(tlast_pre > t_ref_post) * dwp + int(tlast_pre <= t_ref_post) * dwm, w_min, w_max)",
                on_event={"post": "learn"}, delay={"post": 0 * b2.ms}, namespace=ns, clock=clock,
                name=f"{name}_stdp*")
            stdp.connect(i=inp, j=post)
            stdp.kidx = kid
            stdp.w = b2.linked_var(kern, "w", index="kidx")
            stdp.post.order = base + _ORD_STDP
            objects.append(stdp)
            n_syn += len(inp)

        # the greedy same-tick rule
        info = {
            "name": name, "layer": layer, "group": group, "kernel": kern, "inputs": inputs,
            "theta_l": theta_l, "theta_i": theta_i, "learning": learning, "refractory": refractory,
            "r_learn": int(const.r_learn), "r_infer": int(const.r_infer), "tau_ticks": tau_ticks,
            "n_synapses": n_syn, "shape": (F, H_out, W_out), "pool": layer.pool_after,
            "buf_c": np.zeros(N, np.int64), "buf_y": np.zeros(N, np.int64), "buf_x": np.zeros(N, np.int64),
            "n_out": 0, "decisions": [], "missing": 0, "counts": np.zeros(4, np.int64),
        }
        self._add_decide_op(b2, clock, li, info, objects, base)
        mon_i = b2.SpikeMonitor(group, record=True, when="end", name=f"{name}_inference_mon*")
        objects.append(mon_i)
        info["mon_infer"] = mon_i
        if learning:
            mon_l = b2.EventMonitor(group, "learn", record=True, when="end", name=f"{name}_learning_mon*")
            objects.append(mon_l)
            info["mon_learn"] = mon_l
        if trace_idx is not None:
            sm = b2.StateMonitor(group, ["V_learn", "V_infer"], record=list(trace_idx), when="end",
                                 clock=clock, name=f"{name}_trace*")
            objects.append(sm)
            info["trace"] = sm
        return info

    def _add_decide_op(self, b2, clock, li, info, objects, base):
        layer = info["layer"]
        F, H_out, W_out = info["shape"]
        k_h, k_w = layer.kernel
        N = layer.n_neurons
        mark = np.zeros(H_out * W_out, np.uint8)
        pos_buf = np.zeros(H_out * W_out, np.int64)
        cand = np.zeros(N, np.int64)
        win = np.zeros(N, np.int64)
        spk = np.zeros(N, np.int64)
        group = info["group"]
        arrays = {}
        nxt_shape = None
        if li + 1 < len(self.net.learning_layers):
            _, Hn, Wn = self.net.learning_layers[li + 1].in_shape
            nxt_shape = (Hn, Wn)
        counter = [0]
        learning = info["learning"]
        refractory = float(info["refractory"])

        def decide():
            if not arrays:
                for v in ("touched", "V_learn", "V_infer", "t_ref", "t_spike_learn", "t_spike_infer"):
                    arrays[v] = group.variables[v].get_value()
            now = counter[0]
            counter[0] += 1
            if li == 0:
                a, b = self._in0_off[now], self._in0_off[now + 1]
                ic, iy, ix = (arr[a:b] for arr in self._in0)
                n_in = b - a
            else:
                prev = self.layers[li - 1]
                n_in = prev["n_out"]
                ic, iy, ix = prev["buf_c"], prev["buf_y"], prev["buf_x"]
            n_win, n_spk, missing, n_cl, n_ci = _decide(
                float(now), ic, iy, ix, n_in, k_h, k_w, H_out, W_out, F, mark, pos_buf,
                arrays["touched"], arrays["V_learn"], arrays["V_infer"], arrays["t_ref"],
                arrays["t_spike_learn"], arrays["t_spike_infer"], info["theta_l"], info["theta_i"],
                info["r_learn"], info["r_infer"], learning, refractory, self.rng, cand, win, spk)
            info["missing"] += missing
            c = info["counts"]
            c[0] += n_cl
            c[1] += n_win
            c[2] += n_ci
            c[3] += n_spk
            if n_win or n_spk:
                tick = now + self.t0
                rows = np.empty((n_win + n_spk, 4), np.int64)
                rows[:, 0] = tick
                rows[:, 1] = li
                rows[:n_win, 2] = K.KIND_LEARN
                rows[n_win:, 2] = K.KIND_INFER
                rows[:n_win, 3] = win[:n_win]
                rows[n_win:, 3] = spk[:n_spk]
                info["decisions"].append(rows)
            if nxt_shape is not None:
                info["n_out"] = _pool_spikes(spk, n_spk, F, H_out, W_out, info["pool"], nxt_shape[0],
                                             nxt_shape[1], info["buf_c"], info["buf_y"], info["buf_x"])

        objects.append(b2.NetworkOperation(decide, clock=clock, when="synapses", order=base + _ORD_DECIDE,
                                           name=f"{info['name']}_greedy*"))

    # --------------------------------------------------------------------------------------------
    def tick_of_step(self, layer: int, step: np.ndarray) -> np.ndarray:
        """stdpnet tick of a Brian2 step for a layer: the same for every layer (no pipelining, see
        the module docstring), offset by the first chunk's start tick."""
        return np.asarray(step, np.int64) + self.t0

    @property
    def n_synapses(self) -> int:
        return int(sum(l["n_synapses"] for l in self.layers))

    def run(self) -> TwinResult:
        """Simulate every tick of the chunks (once); returns the spikes, with timing."""
        import brian2 as b2

        if self._ran:
            raise RuntimeError("a Brian2Twin runs once; build a new one (from the network's state) for more ticks")
        self._ran = True
        with _brian2_prefs(b2, self.target):
            t_start = time.perf_counter()
            self.b2net.run(self.n_ticks * self.dt_us * b2.us, namespace={})
            t_end = time.perf_counter()
        t_first = self._t_first if self._t_first is not None else t_end
        rows, dec = [], []
        dt_s = self.dt_us * 1e-6
        traces = {}
        for li, info in enumerate(self.layers):
            for kind, key in ((K.KIND_LEARN, "mon_learn"), (K.KIND_INFER, "mon_infer")):
                if key not in info:
                    continue
                mon = info[key]
                steps = np.round(np.asarray(mon.t_[:]) / dt_s).astype(np.int64)
                r = np.empty((len(steps), 4), np.int64)
                r[:, 0] = self.tick_of_step(li, steps)
                r[:, 1] = li
                r[:, 2] = kind
                r[:, 3] = np.asarray(mon.i[:], np.int64)
                rows.append(r)
            dec.extend(info["decisions"])
            if "trace" in info:
                sm = info["trace"]
                traces[info["name"]] = {"V_learn": np.asarray(sm.V_learn[:]).copy(),
                                        "V_infer": np.asarray(sm.V_infer[:]).copy(),
                                        "ticks": self.tick_of_step(li, np.round(np.asarray(sm.t_[:]) / dt_s))}
        record = sort_records(np.concatenate(rows) if rows else np.zeros((0, 4), np.int64))
        decisions = np.concatenate(dec) if dec else np.zeros((0, 4), np.int64)
        return TwinResult(self.t0, self.n_ticks, record, decisions, wall_s=t_end - t_first,
                          setup_s=t_first - t_start, build_s=self.build_s, target=self.target,
                          touched_missing=int(sum(l["missing"] for l in self.layers)), traces=traces,
                          conflicts={l["name"]: dict(zip(("learning_candidates", "learning_winners",
                                                          "inference_candidates", "inference_spikes"),
                                                         (int(v) for v in l["counts"])))
                                     for l in self.layers})

    # ---- state read-back, in stdpnet's layouts ----------------------------------------------
    def weights_flat(self, li: int) -> np.ndarray:
        """Layer ``li``'s kernel weights in stdpnet's flat layout (compare with ``layer.w``)."""
        return np.asarray(self.layers[li]["kernel"].w[:]).copy()

    def state(self, li: int) -> Dict[str, np.ndarray]:
        """Per-neuron state in stdpnet's internal order ``(pos*F + f)`` and absolute ticks:
        ``v_learn``, ``v_infer`` (with the leak: current, decayed values), ``t_ref``, ``t_pre``."""
        info = self.layers[li]
        layer = info["layer"]
        g = info["group"]
        perm = layer.to_public_index(np.arange(layer.n_neurons))

        def ticks(a):
            a = np.asarray(a, float)
            return np.where(a <= NEVER_STEP / 2, K.NEVER, np.round(a).astype(np.int64) + self.t0)

        return {
            "v_learn": np.asarray(g.V_learn[:])[perm].copy(),
            "v_infer": np.asarray(g.V_infer[:])[perm].copy(),
            "t_ref": ticks(np.asarray(g.t_ref[:])[perm]),
            "t_pre": ticks(np.asarray(info["inputs"].tlast[:])),
        }


def sort_records(rec: np.ndarray) -> np.ndarray:
    """Rows ``(tick, layer, kind, neuron)`` sorted by tick, layer, kind, neuron (same-tick spikes
    form a set: their order is the greedy acceptance order in stdpnet, index order in Brian2)."""
    rec = np.asarray(rec, np.int64).reshape(-1, 4)
    if len(rec) == 0:
        return rec.copy()
    o = np.lexsort((rec[:, 3], rec[:, 2], rec[:, 1], rec[:, 0]))
    return rec[o]


def stdpnet_current_state(layer: LearningLayer, now: int, dt_us: int) -> Dict[str, np.ndarray]:
    """stdpnet's per-neuron state at the end of tick ``now - 1``, as :meth:`Brian2Twin.state`
    gives it: with the leak, ``V`` decayed from its last update to that tick."""
    tau = layer.params.leak_tau_us / dt_us
    v_l, v_i = layer.v_learn.copy(), layer.v_infer.copy()
    if tau > 0:
        v_l = v_l * np.exp(-((now - 1) - layer.t_upd_learn) / tau)
        v_i = v_i * np.exp(-((now - 1) - layer.t_upd_infer) / tau)
    return {"v_learn": v_l, "v_infer": v_i, "t_ref": layer.t_ref.copy(), "t_pre": layer.t_pre.copy()}

