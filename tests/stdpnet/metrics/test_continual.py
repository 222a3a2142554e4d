"""Continual-learning metrics against hand-computed matrices; the linear probe on separable data."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from stdpnet.errors import ParameterError
from stdpnet.metrics.continual import AccuracyMatrix, accuracy_matrix, continual_metrics, linear_probe

NAN = float("nan")

# R[i, j]: accuracy on task j after learning task i (tasks numbered from 0)
R3 = [[0.6, 0.1, 0.2],
      [0.8, 0.9, 0.3],
      [0.5, 0.7, 0.95]]
B3 = [0.1, 0.2, 0.25]


def test_three_tasks_by_hand():
    m = continual_metrics(R3, B3)
    assert m["n_tasks"] == 3
    assert m["acc"] == pytest.approx((0.5 + 0.7 + 0.95) / 3)
    assert m["bwt"] == pytest.approx(((0.5 - 0.6) + (0.7 - 0.9)) / 2)          # -0.15
    assert m["fwt"] == pytest.approx(((0.1 - 0.2) + (0.3 - 0.25)) / 2)         # -0.025
    # forgetting: the best of the earlier rows, not the diagonal: max(0.6, 0.8) - 0.5, max(0.1, 0.9) - 0.7
    assert m["forgetting"] == pytest.approx([0.3, 0.2])
    assert m["mean_forgetting"] == pytest.approx(0.25)
    assert m["final"] == [0.5, 0.7, 0.95] and m["learning_accuracy"] == [0.6, 0.9, 0.95]
    json.dumps(m)


def test_no_forgetting_and_no_baseline():
    R = [[0.9, 0.0], [0.9, 0.8]]
    m = continual_metrics(R)
    assert m["bwt"] == 0.0 and m["forgetting"] == [0.0] and m["fwt"] is None
    assert continual_metrics(R, [0.5, 0.5])["fwt"] == pytest.approx(-0.5)


def test_one_task_leaves_transfer_undefined():
    m = continual_metrics([[0.7]], [0.1])
    assert m["acc"] == pytest.approx(0.7)
    assert m["bwt"] is None and m["fwt"] is None and m["mean_forgetting"] is None
    assert m["forgetting"] == []


def test_lower_triangle_only():
    R = [[0.6, NAN, NAN], [0.8, 0.9, NAN], [0.5, 0.7, 0.95]]
    m = continual_metrics(R)
    assert m["bwt"] == pytest.approx(-0.15) and m["forgetting"] == pytest.approx([0.3, 0.2])
    with pytest.raises(ParameterError, match=r"R\[0, 1\], R\[1, 2\]"):
        continual_metrics(R, B3)


@pytest.mark.parametrize("R, b, message", [
    ([[0.5, 0.5]], None, "square"),
    ([[95.0, 1.0], [90.0, 80.0]], None, "divide percentages by 100"),
    ([[0.5, 0.1], [NAN, 0.8]], None, r"R\[1, 0\]"),
    ([[NAN, 0.1, 0.1], [0.5, 0.8, 0.1], [0.5, 0.5, 0.5]], None, r"R\[0, 0\]"),
    (R3, [0.1, 0.2], r"shape \(3,\)"),
    (R3, [0.1, NAN, 0.2], r"b\[1\]"),
])
def test_bad_matrices_say_what_is_wrong(R, b, message):
    with pytest.raises(ParameterError, match=message):
        continual_metrics(R, b)


def test_accuracy_matrix_is_filled_as_the_run_goes():
    matrix = accuracy_matrix(["0,1", "2,3", "4,5"])
    assert matrix.n_tasks == 3 and np.isnan(matrix.values).all()
    matrix.record_baseline(B3)
    for i, row in enumerate(R3):
        if i < 2:
            matrix.record_row(i, row)
    for j, value in enumerate(R3[2]):
        matrix.record(2, j, value)
    assert matrix.metrics() == continual_metrics(R3, B3)
    restored = AccuracyMatrix.from_dict(json.loads(json.dumps(matrix.to_dict())))
    assert np.array_equal(restored.values, matrix.values) and restored.task_names == matrix.task_names
    partial = accuracy_matrix(["a", "b"])
    partial.record(0, 0, 0.5)
    assert partial.to_dict()["values"] == [[0.5, None], [None, None]]
    assert np.isnan(AccuracyMatrix.from_dict(partial.to_dict()).values[0, 1])
    with pytest.raises(ParameterError, match=r"in \[0, 1\]"):
        partial.record(1, 0, 1.5)
    with pytest.raises(ParameterError, match="after_task"):
        partial.record(2, 0, 0.5)
    with pytest.raises(ParameterError, match="ACC needs"):
        partial.metrics()


# ---- linear probe ---------------------------------------------------------------------------
def test_probe_one_feature_by_hand():
    # x = [0, 1] standardised to [-1, 1]; Yc = [[.5, -.5], [-.5, .5]]; X^T X = 2, X^T Yc = [-1, 1]
    # so W = [-1, 1] / (2 + ridge) = [-1/3, 1/3] for ridge 1, bias [.5, .5].
    # x = 0.9 -> 0.8 standardised -> scores [.5 - .8/3, .5 + .8/3] -> class 1; x = 0.2 -> class 0
    probe = linear_probe([[0.0], [1.0]], [0, 1], [[0.9], [0.2]], [1, 0], ridge=1.0)
    assert probe.weights == pytest.approx(np.array([[-1 / 3, 1 / 3]]))
    assert probe.bias == pytest.approx([0.5, 0.5])
    assert probe.scores([[0.9]]) == pytest.approx(np.array([[0.5 - 0.8 / 3, 0.5 + 0.8 / 3]]))
    assert probe.predicted.tolist() == [1, 0] and probe.accuracy == 1.0


def spike_counts(labels, n_features=30, seed=0):
    """Poisson spike counts: class c drives features 10c..10c+9 at rate 20, the rest at rate 1."""
    rng = np.random.default_rng(seed)
    rates = np.ones((len(labels), n_features))
    for row, c in enumerate(labels):
        rates[row, 10 * c:10 * c + 10] = 20.0
    return rng.poisson(rates)


def test_probe_separates_separable_spike_counts_deterministically():
    y_train = np.repeat([0, 1, 2], 20)
    y_test = np.repeat([0, 1, 2], 10)
    X_train, X_test = spike_counts(y_train, seed=0), spike_counts(y_test, seed=1)
    probe = linear_probe(X_train, y_train, X_test, y_test)
    assert probe.accuracy == 1.0 and probe.classes.tolist() == [0, 1, 2]
    again = linear_probe(X_train, y_train, X_test, y_test)
    assert np.array_equal(again.weights, probe.weights) and np.array_equal(again.predicted, probe.predicted)
    # shuffled labels leave nothing to learn: near chance on the test set
    scrambled = linear_probe(X_train, np.random.default_rng(2).permutation(y_train), X_test, y_test)
    assert scrambled.accuracy < 0.7


def test_probe_wide_features_use_the_dual_form_with_the_same_weights():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(8, 20))
    y = np.array([0, 1] * 4)
    probe = linear_probe(X, y, X, y, ridge=0.5)
    Xs = (X - X.mean(0)) / X.std(0)
    Y = np.eye(2)[y]
    expected = np.linalg.inv(Xs.T @ Xs + 0.5 * np.eye(20)) @ Xs.T @ (Y - Y.mean(0))
    assert probe.weights == pytest.approx(expected)


def test_probe_labels_and_errors():
    probe = linear_probe([[0.0], [1.0]], [3, 7], [[1.0], [1.0]], [7, 9])
    assert probe.classes.tolist() == [3, 7] and probe.predicted.tolist() == [7, 7] and probe.accuracy == 0.5
    constant = linear_probe([[1.0, 0.0], [1.0, 1.0]], [0, 1], [[1.0, 1.0]], [1])
    assert constant.scale.tolist() == [1.0, 0.5] and constant.accuracy == 1.0
    with pytest.raises(ParameterError, match="3 samples but its labels have 2"):
        linear_probe(np.zeros((3, 2)), [0, 1], np.zeros((1, 2)), [0])
    with pytest.raises(ParameterError, match="1 features, the training features 2"):
        linear_probe(np.zeros((2, 2)), [0, 1], np.zeros((1, 1)), [0])
    with pytest.raises(ParameterError, match="NaN"):
        linear_probe([[math.nan], [1.0]], [0, 1], [[1.0]], [0])
    with pytest.raises(ParameterError, match="ridge"):
        linear_probe([[0.0], [1.0]], [0, 1], [[1.0]], [0], ridge=0)
