"""The compiled simulator's view of a layer: three named values (Norse style) that numba compiles as
structs.

- :class:`LayerConst`: scalars (shape, radii, thresholds, the rule's rates), rebuilt from the layer's
  parameters whenever they change, so assigning a parameter just works.
- :class:`LayerState`: the arrays a checkpoint holds; the kernels update them in place.
- :class:`LayerScratch`: per-tick buffers, empty between ticks (never checkpointed).

Adding a state variable (an adaptive threshold, a trace) is one field here plus its use in a kernel.

Neuron order. Inside the kernels a neuron's flat index is **hwf**: ``(oy * W_out + ox) * F + f``
(position-major, so one input spike adds a contiguous run of ``F`` weights). Outside (results,
plots, readouts) it is **fhw**: ``f * H_out * W_out + oy * W_out + ox``. :func:`hwf_to_fhw` converts.
Weights are stored ``((c * k_h + ky) * k_w + kx) * F + f`` (kernel-position-major); inputs
``t_pre[(c * H_in + y) * W_in + x]``. Times are tick indices (int64); :data:`NEVER` is "no spike yet".
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

NEVER = -(1 << 62)

# Radii of inhibition windows with a special meaning.
R_GLOBAL = -1  # every position
R_NONE = -2  # no inhibition

RULE_STDP = 0
RULE_RSTDP = 1
RULE_STATIC = 2  # no learning rule: a fixed-weight layer (e.g. a backprop-trained twin)

RESET_ZERO = 0
RESET_SUBTRACT = 1

# Columns of the spike-recording buffer, and its kinds.
REC_TICK, REC_LAYER, REC_KIND, REC_NEURON = range(4)
KIND_LEARN = 0
KIND_INFER = 1


class LayerConst(NamedTuple):
    """Scalars of one layer in the units of the simulator (ticks of ``dt``)."""

    c: int  # input channels
    h_in: int
    w_in: int
    n_maps: int  # F
    k_h: int
    k_w: int
    h_out: int
    w_out: int
    pool: int  # pooling factor applied to this layer's output spikes (1 = none)
    r_learn: int  # radius, R_GLOBAL or R_NONE
    r_infer: int
    learning: int  # 0/1; always 0 for a static layer
    rule: int  # RULE_STDP / RULE_RSTDP / RULE_STATIC
    reset: int  # RESET_ZERO / RESET_SUBTRACT
    refractory: int  # ticks; 0 = none
    soft_bound: int  # R-STDP's (w - w_min)(w_max - w) factor, 0/1
    theta_learn: float
    theta_infer: float
    alpha_plus: float  # STDP: alpha_+; R-STDP: reward's a_r_plus
    alpha_minus: float  # STDP: alpha_-; R-STDP: reward's a_r_minus
    punish_plus: float  # R-STDP: a_p_plus (unused otherwise)
    punish_minus: float  # R-STDP: a_p_minus
    beta_plus: float
    beta_minus: float
    w_min: float
    w_max: float
    leak_tau: float  # ticks; 0 = no leak


class LayerState(NamedTuple):
    """Checkpointed arrays of one layer (flat, C order; per-neuron arrays in hwf order)."""

    w: np.ndarray  # float (the network's precision) (C*k_h*k_w*F,)
    bias: np.ndarray  # float (F,): initial inference potential of a static layer (0 otherwise)
    v_learn: np.ndarray  # float per neuron
    v_infer: np.ndarray  # float per neuron
    t_ref: np.ndarray  # int64 per neuron: tick of the last learning reset (own spike or inhibition)
    t_spike_learn: np.ndarray  # int64 per neuron
    t_spike_infer: np.ndarray  # int64 per neuron
    t_upd_learn: np.ndarray  # int64 per neuron: last leak update (optional leak)
    t_upd_infer: np.ndarray  # int64 per neuron
    t_pre: np.ndarray  # int64 per input: tick of its last spike
    decision_map: np.ndarray  # int64 (F,): class of each map for R-STDP (-1: unassigned)


class LayerScratch(NamedTuple):
    """Per-tick buffers of one layer (empty between ticks), and derived copies (never checkpointed)."""

    touched: np.ndarray  # int64 per position: positions that received input this tick
    touched_mark: np.ndarray  # uint8 per position
    cand_learn: np.ndarray  # int64 per neuron
    cand_infer: np.ndarray  # int64 per neuron
    spikes: np.ndarray  # int64 per neuron: this tick's inference spikes
    winners: np.ndarray  # int64 per neuron: this tick's learning winners
    # a conv layer's weights with the kx axis reversed (see kernels.delivery), size 0 for a
    # dense layer; derived from state.w at the start of every chunk, kept in step by the rule
    w_mirror: np.ndarray
    # the same-tick tie test's hash set (kernels.ordering.has_equal_values): values, the call that
    # wrote each slot, and the number of calls so far (int64[1])
    tie_v: np.ndarray
    tie_gen: np.ndarray
    tie_count: np.ndarray


STATE_FIELDS = LayerState._fields


def new_state(n_weights: int, n_maps: int, n_neurons: int, n_inputs: int, dtype=np.float64) -> LayerState:
    """A layer's state; ``dtype``: the network's precision (:mod:`.precision`) for potentials,
    weights and biases."""
    return LayerState(
        w=np.zeros(n_weights, dtype),
        bias=np.zeros(n_maps, dtype),
        v_learn=np.zeros(n_neurons, dtype),
        v_infer=np.zeros(n_neurons, dtype),
        t_ref=np.full(n_neurons, -1, np.int64),
        t_spike_learn=np.full(n_neurons, NEVER, np.int64),
        t_spike_infer=np.full(n_neurons, NEVER, np.int64),
        t_upd_learn=np.zeros(n_neurons, np.int64),
        t_upd_infer=np.zeros(n_neurons, np.int64),
        t_pre=np.full(n_inputs, NEVER, np.int64),
        decision_map=np.full(n_maps, -1, np.int64),
    )


def new_scratch(n_positions: int, n_neurons: int, n_mirror: int = 0, dtype=np.float64) -> LayerScratch:
    return LayerScratch(
        touched=np.zeros(n_positions, np.int64),
        touched_mark=np.zeros(n_positions, np.uint8),
        cand_learn=np.zeros(n_neurons, np.int64),
        cand_infer=np.zeros(n_neurons, np.int64),
        spikes=np.zeros(n_neurons, np.int64),
        winners=np.zeros(n_neurons, np.int64),
        w_mirror=np.zeros(n_mirror, dtype),
        tie_v=np.zeros(tie_slots(n_neurons)),
        tie_gen=np.zeros(tie_slots(n_neurons), np.int64),
        tie_count=np.zeros(1, np.int64),
    )


def tie_slots(n_neurons: int) -> int:
    """Size of the tie test's hash set: twice the candidates it may hold (a power of two), at most
    16384 slots (256 KiB); a tick with more than half that many candidates takes the sorting path."""
    size = 16
    while size < 2 * n_neurons and size < 16384:
        size <<= 1
    return size


def hwf_to_fhw(flat: np.ndarray, n_maps: int, n_positions: int) -> np.ndarray:
    """Kernel neuron index ``pos * F + f`` -> public index ``f * (H_out * W_out) + pos``."""
    flat = np.asarray(flat, np.int64)
    return (flat % n_maps) * n_positions + flat // n_maps


def fhw_to_hwf(public: np.ndarray, n_maps: int, n_positions: int) -> np.ndarray:
    """Public index ``f * (H_out * W_out) + pos`` -> kernel index ``pos * F + f``."""
    public = np.asarray(public, np.int64)
    return (public % n_positions) * n_maps + public // n_positions
