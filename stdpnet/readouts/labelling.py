"""Spike-count labelling of the top layer (SPEC section 7, "unsupervised features").

Per sample window, the *winner* is the top neuron with most inference spikes (ties: larger
``V_infer`` at the end of the window, then smallest index; see
:class:`stdpnet.readouts.base.TopCountReadout` for when that reading is exact). Each top neuron
takes the label for which it was most often the winner:

    tally[n, c]   = number of samples of label c whose winner was neuron n
    assignment[n] = argmax_c tally[n, c]   (ties: smallest label; never a winner: -1, unlabelled)

The prediction for a sample is ``assignment[winner]``; a silent top layer (no spike) or an
unlabelled winner predicts -1, a wrong answer counted separately (``stats``).
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional

from ..errors import ParameterError
import numpy as np

from .base import SampleOutcome, TopCountReadout, Window, pick_winner


class CountLabelling(TopCountReadout):
    """Spike-count labelling readout.

    ``learn=True`` (online, test-then-train): each sample is first predicted with the current
    assignment, then its ``(winner, label)`` is added to the tallies; the running accuracy of
    these predictions is the SPEC's online learning curve. ``learn=False``: frozen tallies.

    Classic protocol (label pass with learning off, then test): ``start_label_pass()`` (clears
    the tallies), play the labelled samples with the network's learning off and
    ``process(..., learn=True)``, then test with ``learn=False``. Alternatively, collect the
    outcomes of a frozen pass and call :meth:`relabel_from` with them.
    """

    name = "count"
    needs_label_pass = True

    def __init__(self, n_neurons: int, n_classes: int):
        super().__init__(n_neurons)
        if int(n_classes) < 1:
            raise ParameterError(f"n_classes must be >= 1, got {n_classes}")
        self.n_classes = int(n_classes)
        self.tallies = np.zeros((self.n_neurons, self.n_classes), np.int64)
        self._assignment: Optional[np.ndarray] = None
        self.stats = {"samples": 0, "correct": 0, "silent": 0, "unlabelled_winner": 0}

    # ---- labelling ------------------------------------------------------------------------
    @property
    def assignment(self) -> np.ndarray:
        """Label of each top neuron (-1: never a winner). Ties between labels: smallest label."""
        if self._assignment is None:
            a = np.argmax(self.tallies, axis=1)  # first maximum = smallest label
            a[self.tallies.max(axis=1) == 0] = -1
            self._assignment = a
        return self._assignment

    def clear(self) -> None:
        """Forget every tally (all neurons unlabelled)."""
        self.tallies[...] = 0
        self._assignment = None

    def start_label_pass(self) -> None:
        """Start a labelling pass: clear the tallies (the open window, if any, is kept)."""
        self.clear()

    def add(self, winners: np.ndarray, labels: np.ndarray) -> None:
        """Add ``(winner, label)`` pairs to the tallies (pairs with a negative entry are ignored)."""
        winners = np.asarray(winners, np.int64)
        labels = np.asarray(labels, np.int64)
        ok = (winners >= 0) & (labels >= 0) & (labels < self.n_classes)
        np.add.at(self.tallies, (winners[ok], labels[ok]), 1)
        self._assignment = None

    def relabel_from(self, outcomes: Iterable[SampleOutcome]) -> None:
        """Replace the tallies by those of ``outcomes`` (e.g. of a frozen pass with learning off)."""
        outcomes = list(outcomes)
        self.clear()
        self.add(np.array([o.winner for o in outcomes], np.int64),
                 np.array([o.label for o in outcomes], np.int64))

    # ---- decisions ------------------------------------------------------------------------
    def _decide(self, window: Window, learn: bool) -> SampleOutcome:
        winner = pick_winner(window.counts, window.tie)
        predicted = int(self.assignment[winner]) if winner >= 0 else -1
        s = self.stats
        s["samples"] += 1
        s["correct"] += int(predicted == window.label and predicted >= 0)
        if winner < 0:
            s["silent"] += 1
        elif predicted < 0:
            s["unlabelled_winner"] += 1
        if learn and winner >= 0 and 0 <= window.label < self.n_classes:  # test, then train
            self.tallies[winner, window.label] += 1
            self._assignment = None
        return SampleOutcome(window.sample, window.label, predicted, window.top_spikes, winner)

    # ---- state ----------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        return {"kind": self.name, "n_neurons": self.n_neurons, "n_classes": self.n_classes,
                "tallies": self.tallies.copy(), "stats": dict(self.stats), **self._window_state()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        tallies = np.asarray(state["tallies"], np.int64)
        if tallies.shape != self.tallies.shape:
            raise ParameterError(f"count-labelling state has tallies {tallies.shape}, this readout {self.tallies.shape}")
        np.copyto(self.tallies, tallies)
        self._assignment = None
        self.stats = {k: int(v) for k, v in state.get("stats", self.stats).items()}
        self._load_window_state(state)
