"""The twin's greedy same-tick rule on hand-built Brian2-layout state (index f*H*W + pos)."""
import numpy as np

from stdpnet import kernels as K
from stdpnet.validate.brian2.greedy import decide, pool_spikes

NEVER = -1.0e18


def _decide(touched, v_learn, v_infer, t_ref, inputs, rng, r_learn=0, r_infer=0, now=4.0, n_maps=2, w_out=3):
    n = len(touched)
    ic, iy, ix = (np.array(a, np.int64) for a in zip(*inputs)) if inputs else (np.zeros(0, np.int64),) * 3
    win, spk = np.zeros(n, np.int64), np.zeros(n, np.int64)
    out = decide(now, ic, iy, ix, len(ic), 1, 1, 1, w_out, n_maps, np.zeros(w_out, np.uint8),
                 np.zeros(w_out, np.int64), touched, v_learn, v_infer, t_ref, np.full(n, NEVER),
                 np.full(n, NEVER), 1.0, 1.0, r_learn, r_infer, True, 0.0, rng, np.zeros(n, np.int64), win, spk)
    return out, win, spk


def test_winners_by_potential_with_intra_and_inter_map_inhibition():
    # 2 maps x 3 positions, 1x1 kernel; input touches positions 2 then 0 (first-touch order)
    touched = np.array([1, 0, 1, 1, 0, 1], np.int32)
    v_learn = np.array([1.5, 0.0, 1.2, 2.0, 0.7, 0.9])
    v_infer = np.array([1.05, 5.0, 1.1, 0.5, 0.0, 1.3])  # neuron 1: above threshold but untouched
    t_ref = np.zeros(6)
    rng = np.array([12345], np.uint64)
    (n_win, n_spk, missing, n_cl, n_ci), win, spk = _decide(
        touched, v_learn, v_infer, t_ref, [(0, 0, 2), (0, 0, 0), (0, 0, 2)], rng)
    # learning candidates 2, 0, 3 -> by potential 3 (2.0), 0 (1.5), 2 (1.2). 3 wins: map 1 inhibited,
    # and map 0 at its position (r_learn 0): neuron 0 -> rejected; 2 wins: map 0 and map 1 at pos 2
    assert (n_cl, n_win) == (3, 2) and win[:2].tolist() == [3, 2]
    np.testing.assert_array_equal(v_learn, [0, 0, 1.2, 2.0, 0, 0])  # winners left for Brian2 to reset
    np.testing.assert_array_equal(t_ref, [4, 4, 0, 0, 4, 4])
    # inference candidates 2, 5, 0 -> 5 (1.3) fires and zeroes map 0 at pos 2; 2 rejected; 0 fires
    assert (n_ci, n_spk) == (3, 2) and spk[:2].tolist() == [5, 0]
    np.testing.assert_array_equal(v_infer, [1.05, 5.0, 0.0, 0.0, 0.0, 1.3])
    assert missing == 0 and rng[0] == 12345  # no exact ties: no random draw


def test_global_window_and_no_inference_inhibition():
    touched = np.array([1, 1, 1, 1, 1, 1], np.int32)
    v_learn = np.array([0.0, 3.0, 0.0, 0.0, 0.0, 2.0])
    v_infer = np.array([2.0, 0.0, 0.0, 0.0, 0.0, 3.0])
    t_ref = np.zeros(6)
    (n_win, n_spk, *_), win, spk = _decide(touched, v_learn, v_infer, t_ref, [(0, 0, 0), (0, 0, 1), (0, 0, 2)],
                                           np.array([1], np.uint64), r_learn=K.R_GLOBAL, r_infer=K.R_NONE)
    assert n_win == 1 and win[0] == 1  # neuron 1 wins and its global window silences neuron 5
    np.testing.assert_array_equal(t_ref, [4, 0, 4, 4, 4, 4])
    assert n_spk == 2 and spk[:2].tolist() == [0, 5]  # no inference inhibition: scan order, both fire


def test_exact_ties_draw_from_the_twins_own_rng_as_the_simulator_does():
    touched = np.array([1, 0, 0, 1, 0, 0], np.int32)
    v_learn = np.array([2.0, 0, 0, 2.0, 0, 0])  # tie at position 0, maps 0 and 1
    rng = np.array([0x9E3779B97F4A7C15], np.uint64)
    expected_rng = rng.copy()
    expected = K.order_by_potential(np.array([0, 3], np.int64), 2, v_learn.copy(), expected_rng)[0]
    (n_win, *_), win, _ = _decide(touched, v_learn, np.zeros(6), np.zeros(6), [(0, 0, 0)], rng)
    assert n_win == 1 and win[0] == expected
    assert rng[0] == expected_rng[0] != 0x9E3779B97F4A7C15  # the state advanced identically


def test_touched_positions_missing_from_the_input_list_are_counted():
    touched = np.array([0, 1, 0, 0, 0, 0], np.int32)  # Brian2 touched position 1, no input reaches it
    (_, n_spk, missing, *_), _, spk = _decide(touched, np.zeros(6), np.array([0, 2.0, 0, 0, 0, 0]),
                                              np.zeros(6), [], np.array([1], np.uint64))
    assert missing == 1 and n_spk == 1 and spk[0] == 1


def test_pool_spikes_forwards_each_spike_and_drops_the_odd_edge():
    oc, oy, ox = (np.zeros(4, np.int64) for _ in range(3))
    # 2 maps of 3x3 pooled by 2 into 1x1: neuron 0 (f0 pos0), 4 (f0 pos4), 17 (f1 pos8, dropped), 10 (f1 pos1)
    n = pool_spikes(np.array([0, 4, 17, 10], np.int64), 4, 2, 3, 3, 2, 1, 1, oc, oy, ox)
    assert n == 3 and oc[:3].tolist() == [0, 0, 1] and oy[:3].tolist() == [0, 0, 0] and ox[:3].tolist() == [0, 0, 0]
