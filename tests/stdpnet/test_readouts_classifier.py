"""The event-based supervised classifier (SPEC section 7), with hand-computed expectations."""
import numpy as np
import pytest

from stdpnet.readouts import EventClassifier

from .conftest import readout_chunk as chunk, readout_result as result


def run(clf, samples, labels, spikes, learn=True, start=0):
    ch = chunk(samples, labels, start)
    return clf.process(result(ch, spikes), ch, None, learn)


def make(n_inputs=2, n_classes=2, w=None, **kw):
    kw = {"eta": 0.1, "m": 0.5, "threshold": 1.0, "w_init_mean": 0.0, "w_init_std": 0.0, **kw}
    clf = EventClassifier(n_inputs, n_classes, **kw)
    if w is not None:
        clf.w[...] = np.asarray(w, float)
    return clf


def test_wrong_neuron_firing_makes_its_error_negative_and_the_targets_positive():
    clf = make(w=[[0.0, 1.5], [0.2, 0.2]])
    # label 0. tick 0: input 0 -> V = [0, 1.5]: class 1 (wrong) fires; E = m*0 + R - fired = [1, -1]
    run(clf, [0], [0], [(0, 0)])
    np.testing.assert_allclose(clf.e, [1.0, -1.0])
    np.testing.assert_allclose(clf.v, [0.0, 0.0])
    np.testing.assert_allclose(clf.w, [[0.0, 1.5], [0.2, 0.2]])  # E was 0 when the spike arrived
    # tick 1: input 1 -> V += w[1] (old weight), then w[1] += eta E = [0.1, -0.1]; nothing fires
    run(clf, [0], [0], [(0, 1)], start=1)
    np.testing.assert_allclose(clf.v, [0.2, 0.2])
    np.testing.assert_allclose(clf.w[1], [0.3, 0.1])
    np.testing.assert_allclose(clf.e, [1.0, -1.0])  # no class spike: E unchanged
    # tick 2: input 0 -> V = [0.2, 1.7], w[0] += [0.1, -0.1]; class 1 fires again:
    # E = 0.5 [1, -1] + [1, 0] - [0, 1] = [1.5, -1.5]
    run(clf, [0], [0], [(0, 0)], start=2)
    np.testing.assert_allclose(clf.w[0], [0.1, 1.4])
    np.testing.assert_allclose(clf.v, [0.2, 0.0])
    np.testing.assert_allclose(clf.e, [1.5, -1.5])


def test_same_tick_spikes_all_use_the_error_at_the_start_of_the_tick():
    clf = make(n_inputs=3, w=[[0.0, 0.6], [0.0, 0.6], [0.0, 0.0]])
    run(clf, [0, 0], [0, 0], [(0, 0), (0, 1), (1, 0), (1, 2)])
    # tick 0: both spikes with E = 0 (no weight change), V1 = 1.2 fires once, E = [1, -1]
    # tick 1: input 0 and 2, updated with E = [1, -1] each
    np.testing.assert_allclose(clf.w, [[0.1, 0.5], [0.0, 0.6], [0.1, -0.1]])
    np.testing.assert_allclose(clf.v, [0.0, 0.6])


@pytest.mark.parametrize("m", [0.5, 0.9])
def test_error_fixed_points_under_repeated_firing(m):
    clf = make(w=[[0.0, 1.0], [1.0, 1.0]], eta=0.0, m=m)
    # the wrong neuron fires alone k times: E_t = (1 - m^k) / (1 - m), E_w = -E_t
    k = 200
    run(clf, [0] * k, [0] * k, [(t, 0) for t in range(k)])
    np.testing.assert_allclose(clf.e, [1 / (1 - m), -1 / (1 - m)], rtol=1e-9)
    # now both fire together: the target's error decays to 0, the wrong one stays at -1/(1-m)
    run(clf, [0] * k, [0] * k, [(t, 1) for t in range(k)], start=k)
    np.testing.assert_allclose(clf.e, [m ** k / (1 - m), -1 / (1 - m)], atol=1e-6)


def test_target_firing_alone_decays_every_error():
    clf = make(w=[[1.0, 0.0]], n_inputs=1, eta=0.0, m=0.5)
    run(clf, [0], [0], [])  # first labelled tick: reset, R = [1, 0]
    clf.e[...] = [3.0, -2.0]
    run(clf, [0] * 3, [0] * 3, [(0, 0), (1, 0), (2, 0)], start=1)
    # E_t = m E_t + 1 - 1, E_w = m E_w: both decay geometrically to 0
    np.testing.assert_allclose(clf.e, [3.0 * 0.125, -2.0 * 0.125])


def test_weights_change_only_in_rows_of_inputs_that_spiked():
    clf = make(n_inputs=5, w=np.full((5, 2), 0.3), eta=0.05)
    clf.w[:, 1] = 0.6  # class 1 fires on the 2nd spike, so E becomes non-zero
    before = clf.w.copy()
    run(clf, [0] * 6, [0] * 6, [(0, 1), (1, 3), (2, 1), (3, 3), (4, 1), (5, 3)])
    changed = np.any(clf.w != before, axis=1)
    assert changed[[1, 3]].all()
    assert not changed[[0, 2, 4]].any()


def test_label_change_resets_error_and_potential_and_sets_the_target():
    clf = make(w=[[0.0, 1.5], [0.4, 0.4]])
    run(clf, [0, 0], [0, 0], [(0, 0), (1, 1)])
    assert clf.e[0] > 0 and clf.v[0] > 0
    out = run(clf, [1], [1], [], start=2)
    np.testing.assert_array_equal(clf.e, [0.0, 0.0])
    np.testing.assert_array_equal(clf.v, [0.0, 0.0])
    np.testing.assert_array_equal(clf.r, [0.0, 1.0])
    assert [o.sample for o in out] == [0]


@pytest.mark.parametrize("reset, expect_reset", [("label", False), ("sample", True)])
def test_same_label_next_sample_resets_only_in_sample_mode(reset, expect_reset):
    clf = make(w=[[0.0, 1.5], [0.4, 0.4]], reset=reset)
    run(clf, [0, 0], [0, 0], [(0, 0), (1, 1)])
    e, v = clf.e.copy(), clf.v.copy()
    run(clf, [1], [0], [], start=2)  # next sample, same label
    if expect_reset:
        assert not clf.e.any() and not clf.v.any()
    else:
        np.testing.assert_array_equal(clf.e, e)
        np.testing.assert_array_equal(clf.v, v)


def test_frozen_classifier_neither_learns_nor_resets():
    clf = make(w=[[0.0, 1.5], [0.4, 0.3]])
    run(clf, [0, 0], [0, 0], [(0, 0), (1, 1)])
    w, e, v = clf.w.copy(), clf.e.copy(), clf.v.copy()
    # a new sample with another label: potentials carry over, nothing learnt
    run(clf, [1, 1], [1, 1], [(0, 1), (1, 0)], learn=False, start=2)
    np.testing.assert_array_equal(clf.w, w)
    np.testing.assert_array_equal(clf.e, e)
    # tick 2: V += w[1] (learnt: [0.5, 0.2]); tick 3: V += w[0], class 1 (0.2 + 1.5) fires
    np.testing.assert_allclose(clf.v, [v[0] + w[1, 0] + w[0, 0], 0.0])


def test_gap_ticks_deliver_spikes_but_learn_nothing_and_belong_to_no_sample():
    clf = make(w=[[0.0, 1.5], [0.4, 0.4]])
    run(clf, [0], [0], [(0, 0)])  # E = [1, -1]
    w = clf.w.copy()
    out = run(clf, [-1, -1], [-1, -1], [(0, 1), (1, 0)], start=1)
    np.testing.assert_array_equal(clf.w, w)
    np.testing.assert_array_equal(clf.e, [1.0, -1.0])
    assert [o.sample for o in out] == [0] and out[0].predicted == 1
    # after the gap, the same label is no label change: no reset
    run(clf, [1], [0], [], start=3)
    np.testing.assert_array_equal(clf.e, [1.0, -1.0])
    assert clf.flush()[0].sample == 1


def test_prediction_most_spikes_ties_by_potential_and_silent():
    clf = make(w=[[1.0, 0.0], [0.0, 1.0], [0.0, 0.5]], n_inputs=3, eta=0.0)
    # sample 0: each class fires once, class 1 ends with V = 0.5 > 0: predicted 1
    out = run(clf, [0, 0, 0, 1], [0, 0, 0, 1], [(0, 0), (1, 1), (2, 2)])
    assert [(o.sample, o.predicted, o.top_spikes) for o in out] == [(0, 1, 3)]
    # sample 1: no input -> silent
    out = run(clf, [1, 2], [1, 0], [], start=4)
    assert out[0].sample == 1 and out[0].predicted == -1 and out[0].silent and not out[0].correct
    # sample 2 (label 0): class 0 fires twice, class 1 once
    out = run(clf, [2, 2, 2, 3], [0, 0, 0, 1], [(0, 0), (1, 0), (2, 1)], start=6)
    assert out[0].predicted == 0 and out[0].correct


def test_window_spanning_chunks_accumulates_and_closes_on_the_next_sample():
    clf = make(w=[[1.0, 0.0], [0.0, 1.0]], eta=0.0)
    assert run(clf, [5, 5], [0, 0], [(0, 1), (1, 0)]) == []
    assert run(clf, [5, 5], [0, 0], [(0, 0)], start=2) == []
    out = run(clf, [6], [1], [], start=4)
    assert [(o.sample, o.label, o.predicted, o.top_spikes) for o in out] == [(5, 0, 0, 3)]
    assert clf.flush()[0].sample == 6


def test_default_calibration_lets_every_class_neuron_fire_from_the_first_sample():
    clf = EventClassifier(20, 3, seed=1)
    rng = np.random.default_rng(0)
    spikes = list(zip(np.sort(rng.integers(0, 50, 200)), rng.integers(0, 20, 200)))
    x = np.bincount(np.array(spikes)[:, 1], minlength=20)
    run(clf, [0] * 25, [2] * 25, [s for s in spikes if s[0] < 25])  # the first window, in two chunks
    run(clf, [0] * 25, [2] * 25, [(t - 25, n) for t, n in spikes if t >= 25], start=25)
    assert not clf.calibrated and not clf.w.any()  # still open: the window may go on
    out = run(clf, [1] * 50, [1] * 50, [(t, n) for t, n in spikes], start=50)
    assert clf.calibrated
    assert out[0].predicted == -1 and out[0].top_spikes == 200  # no weights during the first window
    assert clf.w_init_mean == pytest.approx(5.0 / 200)
    assert clf.w_init_std == pytest.approx(clf.w_init_mean / 5)
    assert clf.eta == pytest.approx(0.02 / float(x @ x))
    out = clf.flush()
    assert clf.class_spikes >= 3 * 3  # every class neuron fires several times on the next sample
    assert out[0].predicted >= 0


def test_state_dict_resumes_bit_identically():
    rng = np.random.default_rng(3)

    def chunks():
        for k in range(6):
            spikes = sorted((int(t), int(n)) for t, n in zip(rng.integers(0, 10, 30), rng.integers(0, 8, 30)))
            yield [k] * 10, [k % 3] * 10, spikes, 10 * k

    data = list(chunks())
    a = EventClassifier(8, 3, seed=2)
    outs_a = []
    for s, l, sp, st in data:
        outs_a += run(a, s, l, sp, start=st)
    b = EventClassifier(8, 3, seed=2)
    for s, l, sp, st in data[:3]:
        run(b, s, l, sp, start=st)
    c = EventClassifier(8, 3, seed=99)
    c.load_state_dict(b.state_dict())
    outs_c = []
    for s, l, sp, st in data[3:]:
        outs_c += run(c, s, l, sp, start=st)
    assert outs_c == outs_a[-len(outs_c):]
    np.testing.assert_array_equal(c.w, a.w)
    np.testing.assert_array_equal(c.e, a.e)


def test_rejects_bad_parameters():
    with pytest.raises(ValueError):
        EventClassifier(4, 2, m=1.0)
    with pytest.raises(ValueError):
        EventClassifier(4, 2, reset="never")
    with pytest.raises(ValueError):
        EventClassifier(4, 2, threshold=0)
