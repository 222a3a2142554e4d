"""Continual-learning metrics (SPEC section 12; Lopez-Paz & Ranzato, NeurIPS 2017) and a linear probe.

Tasks ``1..T`` are learned in sequence. ``R[i, j]`` is the accuracy (in [0, 1]) on task ``j``'s
test data after learning task ``i``; ``b_j`` the accuracy on task ``j`` before any training. In
code, tasks are numbered from 0, so the formulas' ``R[T, j]`` is ``R[-1, j]``::

    ACC          = mean_j R[T, j]                           (average final accuracy)
    BWT          = mean_{j<T} (R[T, j] - R[j, j])           (backward transfer; < 0 = forgetting)
    FWT          = mean_{j>1} (R[j-1, j] - b_j)             (forward transfer)
    forgetting_j = max_{i<T} R[i, j] - R[T, j],  j < T     (Chaudhry et al. 2018)

:class:`AccuracyMatrix` collects ``R`` and ``b`` while a protocol runs (unmeasured entries are
NaN) and computes these with :func:`continual_metrics`. :func:`linear_probe` measures how
linearly separable a representation (e.g. top-layer spike counts per sample) is.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..errors import ParameterError


def _as_accuracies(name: str, values, shape=None) -> np.ndarray:
    """``values`` as float64, NaN allowed (not measured), otherwise in [0, 1]."""
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must hold accuracies (numbers in [0, 1]), got {values!r}") from None
    if shape is not None and array.shape != shape:
        raise ParameterError(f"{name} must have shape {shape}, got {array.shape}")
    measured = array[~np.isnan(array)]
    if measured.size and (not np.isfinite(measured).all() or measured.min() < 0 or measured.max() > 1):
        raise ParameterError(
            f"{name} must hold accuracies in [0, 1] (NaN = not measured), got values in "
            f"[{measured.min()}, {measured.max()}]; divide percentages by 100"
        )
    return array


def _require(entries, why: str) -> None:
    """Raise naming every ``(name, value)`` entry that is NaN (not measured)."""
    missing = [name for name, value in entries if np.isnan(value)]
    if missing:
        shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
        raise ParameterError(f"{why}: {shown} not measured (NaN); evaluate it before computing metrics")


def continual_metrics(R, b: Optional[Sequence[float]] = None) -> Dict[str, Any]:
    """ACC, BWT, FWT and per-task forgetting of an accuracy matrix (module docstring: formulas).

    ``R``: ``(T, T)`` accuracies in [0, 1]; NaN marks entries not measured. The last row is
    always needed, the diagonal for BWT, ``R[j-1, j]`` and ``b`` for FWT; ``forgetting`` takes the
    maximum over the measured rows ``i < T``. ``b``: ``(T,)`` accuracies before training, or None.

    Returns a JSON-ready dict: ``acc``; ``bwt`` (None when ``T = 1``); ``fwt`` (None when
    ``T = 1`` or ``b`` is None); ``forgetting`` (list over ``j < T``, empty when ``T = 1``);
    ``mean_forgetting`` (None when ``T = 1``); ``final`` (``R[T, :]``); ``learning_accuracy``
    (``R[j, j]``, accuracy on each task just after learning it); ``n_tasks``.
    """
    R = _as_accuracies("R", R)
    if R.ndim != 2 or R.shape[0] != R.shape[1] or R.shape[0] < 1:
        raise ParameterError(f"R must be a square (T, T) matrix with T >= 1, got shape {R.shape}")
    T = R.shape[0]
    final = R[-1]
    _require([(f"R[{T - 1}, {j}]", final[j]) for j in range(T)], "ACC needs every task after the last one")
    diagonal = np.diagonal(R).copy()
    _require([(f"R[{j}, {j}]", diagonal[j]) for j in range(T - 1)], "BWT needs each task right after it was learned")
    result: Dict[str, Any] = {
        "n_tasks": T,
        "acc": float(final.mean()),
        "bwt": None,
        "fwt": None,
        "forgetting": [],
        "mean_forgetting": None,
        "final": [float(v) for v in final],
        "learning_accuracy": [float(v) for v in diagonal],
    }
    if T == 1:
        return result
    result["bwt"] = float(np.mean(final[:-1] - diagonal[:-1]))
    forgetting = np.nanmax(R[:-1, :-1], axis=0) - final[:-1]
    result["forgetting"] = [float(v) for v in forgetting]
    result["mean_forgetting"] = float(forgetting.mean())
    if b is not None:
        b = _as_accuracies("b", b, shape=(T,))
        before = np.array([R[j - 1, j] for j in range(1, T)])
        _require([(f"R[{j - 1}, {j}]", before[j - 1]) for j in range(1, T)],
                 "FWT needs each task j > 0 evaluated just before it is learned (or pass b=None)")
        _require([(f"b[{j}]", b[j]) for j in range(1, T)], "FWT needs the untrained accuracy of every task j > 0")
        result["fwt"] = float(np.mean(before - b[1:]))
    return result


@dataclass
class AccuracyMatrix:
    """The accuracy matrix ``R`` of a continual-learning run, filled in as the run goes.

    ``task_names``: one per task; ``values``: ``(T, T)`` accuracies, ``values[i, j]`` measured on
    task ``j`` after learning task ``i``, NaN until recorded; ``baseline``: ``(T,)`` accuracies
    before any training (``b``), NaN until recorded.
    """

    task_names: List[str]
    values: np.ndarray = None
    baseline: np.ndarray = None

    def __post_init__(self):
        self.task_names = [str(name) for name in self.task_names]
        T = len(self.task_names)
        if T < 1:
            raise ParameterError("an accuracy matrix needs at least one task name")
        self.values = (np.full((T, T), np.nan) if self.values is None
                       else _as_accuracies("values", self.values, shape=(T, T)))
        self.baseline = (np.full(T, np.nan) if self.baseline is None
                         else _as_accuracies("baseline", self.baseline, shape=(T,)))

    @property
    def n_tasks(self) -> int:
        return len(self.task_names)

    def _task(self, what: str, t: int) -> int:
        if isinstance(t, bool) or int(t) != t or not 0 <= t < self.n_tasks:
            raise ParameterError(f"{what} must be a task number in [0, {self.n_tasks}), got {t!r}")
        return int(t)

    def record(self, after_task: int, on_task: int, accuracy: float) -> None:
        """``R[after_task, on_task] = accuracy``."""
        i, j = self._task("after_task", after_task), self._task("on_task", on_task)
        self.values[i, j] = _as_accuracies(f"R[{i}, {j}]", accuracy, shape=())

    def record_row(self, after_task: int, accuracies: Sequence[float]) -> None:
        """``R[after_task, :] = accuracies`` (every task evaluated after learning ``after_task``)."""
        i = self._task("after_task", after_task)
        self.values[i] = _as_accuracies(f"R[{i}, :]", accuracies, shape=(self.n_tasks,))

    def record_baseline(self, accuracies: Sequence[float]) -> None:
        """``b = accuracies`` (every task evaluated before any training)."""
        self.baseline = _as_accuracies("baseline", accuracies, shape=(self.n_tasks,))

    def metrics(self) -> Dict[str, Any]:
        """:func:`continual_metrics` of this matrix (FWT None while no baseline is recorded)."""
        baseline = None if np.isnan(self.baseline).all() else self.baseline
        return continual_metrics(self.values, baseline)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready: NaN (not measured) becomes None."""
        def plain(array):
            return [None if np.isnan(v) else float(v) for v in array]
        return {"task_names": list(self.task_names), "values": [plain(row) for row in self.values],
                "baseline": plain(self.baseline)}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "AccuracyMatrix":
        def array(rows):
            return np.array(rows, dtype=object).astype(np.float64)  # None -> NaN
        return cls(list(data["task_names"]), array(data["values"]), array(data["baseline"]))


def accuracy_matrix(task_names: Sequence[str], values=None, baseline=None) -> AccuracyMatrix:
    """An :class:`AccuracyMatrix` for ``task_names``, empty (all NaN) unless ``values`` and
    ``baseline`` are given."""
    return AccuracyMatrix(list(task_names), values, baseline)


# ---- linear probe -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ProbeResult:
    """A fitted linear probe and its test accuracy.

    ``classes``: the training labels, sorted (column order of ``weights``); ``predicted``: one
    label per test sample; ``mean``, ``scale``: the feature standardisation (train statistics);
    ``weights`` ``(n_features, n_classes)`` and ``bias`` ``(n_classes,)`` act on standardised
    features: ``scores = ((x - mean) / scale) @ weights + bias``.
    """

    accuracy: float
    predicted: np.ndarray
    classes: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    def scores(self, features) -> np.ndarray:
        return ((np.asarray(features, np.float64) - self.mean) / self.scale) @ self.weights + self.bias

    def predict(self, features) -> np.ndarray:
        return self.classes[np.argmax(self.scores(features), axis=1)]


def _features(name: str, features, n_labels: int, n_features: Optional[int] = None) -> np.ndarray:
    X = np.asarray(features, dtype=np.float64)
    if X.ndim != 2:
        raise ParameterError(f"{name} must be a 2-D (samples, features) array, got shape {X.shape}")
    if len(X) != n_labels:
        raise ParameterError(f"{name} has {len(X)} samples but its labels have {n_labels}")
    if n_features is not None and X.shape[1] != n_features:
        raise ParameterError(f"{name} has {X.shape[1]} features, the training features {n_features}")
    if not np.isfinite(X).all():
        raise ParameterError(f"{name} holds NaN or infinite values")
    return X


def linear_probe(features_train, y_train, features_test, y_test, ridge: float = 1.0,
                 standardize: bool = True) -> ProbeResult:
    """Closed-form one-vs-rest ridge-regression probe (deterministic; numpy only).

    Features (e.g. top-layer spike counts per sample, ``(n, d)``) are standardised with the
    training mean and standard deviation (constant features keep scale 1). With ``X`` the
    standardised training features, ``Y`` the one-hot training targets and ``Yc = Y - mean(Y)``::

        W = (X^T X + ridge I)^{-1} X^T Yc     (or X^T (X X^T + ridge I)^{-1} Yc when d > n: same W)
        scores(x) = x W + mean(Y);   prediction = class of the largest score (ties: smaller label)

    The bias is the unregularised ``mean(Y)`` (the features are centred). Test labels not seen in
    training are always wrong. Returns a :class:`ProbeResult` with the test accuracy.
    """
    if not isinstance(ridge, numbers.Real) or isinstance(ridge, bool) or not np.isfinite(ridge) or ridge <= 0:
        raise ParameterError(f"ridge must be a finite number > 0, got {ridge!r}")
    y_train = np.asarray(y_train).reshape(-1)
    y_test = np.asarray(y_test).reshape(-1)
    X = _features("features_train", features_train, len(y_train))
    X_test = _features("features_test", features_test, len(y_test), X.shape[1])
    if len(X) == 0:
        raise ParameterError("linear_probe needs at least one training sample")
    mean = X.mean(axis=0) if standardize else np.zeros(X.shape[1])
    scale = X.std(axis=0) if standardize else np.ones(X.shape[1])
    scale = np.where(scale > 0, scale, 1.0)
    Xs = (X - mean) / scale
    classes, codes = np.unique(y_train, return_inverse=True)
    Y = np.zeros((len(y_train), len(classes)))
    Y[np.arange(len(y_train)), codes] = 1.0
    bias = Y.mean(axis=0)
    Yc = Y - bias
    n, d = Xs.shape
    if d <= n:
        weights = np.linalg.solve(Xs.T @ Xs + ridge * np.eye(d), Xs.T @ Yc)
    else:
        weights = Xs.T @ np.linalg.solve(Xs @ Xs.T + ridge * np.eye(n), Yc)
    result = ProbeResult(0.0, np.zeros(0, classes.dtype), classes, weights, bias, mean, scale)
    predicted = result.predict(X_test) if len(X_test) else np.zeros(0, classes.dtype)
    accuracy = float(np.mean(predicted == y_test)) if len(y_test) else float("nan")
    return ProbeResult(accuracy, predicted, classes, weights, bias, mean, scale)
