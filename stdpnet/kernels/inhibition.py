"""Winner-take-all inhibition (SPEC section 4), on hwf-ordered neuron arrays."""
from __future__ import annotations

from numba import njit

from .state import R_GLOBAL, R_NONE


@njit(cache=True)
def _window(oy, ox, r, h_out, w_out):
    if r == R_GLOBAL:
        return 0, h_out - 1, 0, w_out - 1
    return max(0, oy - r), min(h_out - 1, oy + r), max(0, ox - r), min(w_out - 1, ox + r)


@njit(cache=True)
def inhibit_learning(v_learn, t_ref, winner, now, n_maps, h_out, w_out, r_learn):
    """Learning inhibition by ``winner``: ``V_learn = 0``, ``t_ref = now`` for every other neuron of the
    winner's map (intra-map) and for neurons of all other maps within the square window of radius
    ``r_learn`` around the winner's position (inter-map; ``R_GLOBAL``: all positions).

    Written without exceptions in the loops (so they unroll and the window's rows vectorise as
    fills): every neuron of the map and every neuron of the window is set, the winner included,
    then the winner's own values are put back. The window's other same-map neurons get the values
    the intra-map pass just gave them."""
    f = winner % n_maps
    pos = winner // n_maps
    v_winner = v_learn[winner]
    t_winner = t_ref[winner]
    for p in range(h_out * w_out):
        i = p * n_maps + f
        v_learn[i] = 0.0
        t_ref[i] = now
    if r_learn != R_NONE:
        y0, y1, x0, x1 = _window(pos // w_out, pos % w_out, r_learn, h_out, w_out)
        for y in range(y0, y1 + 1):
            base = (y * w_out + x0) * n_maps
            n = (x1 - x0 + 1) * n_maps  # the window's row: contiguous in hwf order
            vl = v_learn[base:base + n]
            tr = t_ref[base:base + n]
            for k in range(n):
                vl[k] = 0.0
                tr[k] = now
    v_learn[winner] = v_winner
    t_ref[winner] = t_winner


@njit(cache=True)
def inhibit_inference(v_infer, winner, n_maps, h_out, w_out, r_infer):
    """Inference inhibition by ``winner``: ``V_infer = 0`` for neurons of other maps within ``r_infer``."""
    if r_infer == R_NONE:
        return
    pos = winner // n_maps
    f = winner % n_maps
    y0, y1, x0, x1 = _window(pos // w_out, pos % w_out, r_infer, h_out, w_out)
    if y0 == y1 and x0 == x1:
        # one position (r_infer = 0, or a dense layer): its only same-map neuron is the winner, so
        # fill the position (a vectorised loop) and put the winner's value back
        v_winner = v_infer[winner]
        base = (y0 * w_out + x0) * n_maps
        vi = v_infer[base:base + n_maps]
        for g in range(n_maps):
            vi[g] = 0.0
        v_infer[winner] = v_winner
        return
    for y in range(y0, y1 + 1):
        for x in range(x0, x1 + 1):
            base = (y * w_out + x) * n_maps
            for g in range(n_maps):
                if g != f:
                    v_infer[base + g] = 0.0
