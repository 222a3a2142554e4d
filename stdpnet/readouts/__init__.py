"""Readouts of the top layer's spikes (SPEC section 7).

- :class:`EventClassifier` (``'classifier'``): one IF neuron per class, error-driven online learning;
- :class:`CountLabelling` (``'count'``): spike-count labelling of the top neurons;
- :class:`RSTDPReadout` (``'rstdp'``): a decision map over an R-STDP top layer.

All follow :class:`Readout`: ``process(result, chunk, network, learn)`` after every
``network.run(chunk)`` returns the :class:`SampleOutcome` of each sample that ended.
"""
from __future__ import annotations

from typing import Iterable, Sequence, Union

from ..errors import ParameterError
import numpy as np

from .base import Readout, SampleOutcome, sample_runs
from .classifier import EventClassifier
from .labelling import CountLabelling
from .rstdp import RSTDPReadout, decision_map

KINDS = ("classifier", "count", "rstdp")


def make_readout(kind: str, network, n_classes: int, **params) -> Readout:
    """Build the readout ``kind`` for ``network``'s top layer.

    ``'classifier'``: :class:`EventClassifier` (``params``: eta, m, threshold, w_init_mean,
    w_init_std, seed, reset); ``'count'``: :class:`CountLabelling` (no params); ``'rstdp'``:
    :class:`RSTDPReadout` (``params``: assignment), attached to the network (its top layer,
    built with the R-STDP rule, receives the decision map).
    """
    top = network.top
    if kind == "classifier":
        return EventClassifier(top.n_neurons, n_classes, **params)
    if kind == "count":
        if params:
            raise ParameterError(f"the count readout takes no parameters, got {sorted(params)}")
        return CountLabelling(top.n_neurons, n_classes)
    if kind == "rstdp":
        readout = RSTDPReadout(top.n_maps, n_classes, **params)
        readout.attach(network)
        return readout
    raise ParameterError(f"unknown readout {kind!r}; choose one of {', '.join(KINDS)}")


def running_accuracy(outcomes: Union[Iterable[SampleOutcome], Sequence[bool], np.ndarray],
                     window: int = 1000) -> np.ndarray:
    """Running accuracy after each sample: the fraction correct over the last ``min(window, k)``
    samples after sample ``k`` (1-based). Accepts outcomes or an array of booleans."""
    items = list(outcomes) if not isinstance(outcomes, np.ndarray) else outcomes
    if len(items) and isinstance(items[0], SampleOutcome):
        correct = np.fromiter((o.correct for o in items), float, len(items))
    else:
        correct = np.asarray(items, float)
    if window < 1:
        raise ParameterError(f"window must be >= 1, got {window}")
    c = np.concatenate(([0.0], np.cumsum(correct)))
    k = np.arange(1, len(correct) + 1)
    lo = np.maximum(k - window, 0)
    return (c[k] - c[lo]) / (k - lo)


__all__ = ["CountLabelling", "EventClassifier", "KINDS", "RSTDPReadout", "Readout", "SampleOutcome",
           "decision_map", "make_readout", "running_accuracy", "sample_runs"]
