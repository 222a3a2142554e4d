"""The layer's learning rule applied to one winner's kernel (SPEC sections 3 and 7)."""
from __future__ import annotations

from numba import njit

from ..rules import clip, rstdp_dw, stdp_dw
from .state import RULE_RSTDP, RULE_STATIC


@njit(cache=True)
def learn_on_winner(const, state, w_mirror, winner, now, label):
    """Apply the layer's rule to the kernel of the winner's map, over the winner's receptive field.

    Input ``j`` is causal when it spiked since the winner's last learning reset:
    ``t_ref < t_pre_j <= now`` (a same-tick input counts as causal). STDP (``rules.stdp_dw``) or,
    for an R-STDP layer, reward/punishment (``rules.rstdp_dw``) chosen by ``decision_map[f] == label``;
    R-STDP does nothing while no label is present (``label < 0``) or for an unassigned map.
    Weights are clipped to the rule's range. A static layer never learns. ``w_mirror`` (size 0:
    none) is the conv layer's kx-mirrored copy of the weights (:mod:`.delivery`), updated alongside.
    """
    if const.rule == RULE_STATIC:
        return
    n_maps = const.n_maps
    k_h = const.k_h
    k_w = const.k_w
    h_in = const.h_in
    w_in = const.w_in
    f = winner % n_maps
    pos = winner // n_maps
    oy = pos // const.w_out
    ox = pos % const.w_out
    w = state.w
    t_pre = state.t_pre
    t_ref_winner = state.t_ref[winner]
    rstdp = const.rule == RULE_RSTDP
    a_plus, a_minus = const.alpha_plus, const.alpha_minus
    if rstdp:
        d = state.decision_map[f]
        if label < 0 or d < 0:
            return
        if d != label:
            a_plus, a_minus = const.punish_plus, const.punish_minus
    w_min, w_max = const.w_min, const.w_max
    b_plus, b_minus = const.beta_plus, const.beta_minus
    soft = const.soft_bound != 0
    mirrored = w_mirror.shape[0] > 0
    for c in range(const.c):
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
                wn = clip(wi + dw, w_min, w_max)
                w[i] = wn
                if mirrored:
                    w_mirror[((c * k_h + ky) * k_w + (k_w - 1 - kx)) * n_maps + f] = wn
