"""R-STDP readout (Mozafari et al., Pattern Recognition 2019; SPEC section 7).

The top WTA layer itself is the classifier: each of its maps (neurons of a dense layer) is assigned
a class by a *decision map* ``d``, and the layer learns with R-STDP from the stream's labels --
already implemented in the simulator's kernels (:func:`stdpnet.kernels.learn_on_winner`): on a
learning spike of neuron ``i`` while label ``y`` is present,

    d[i] == y:  dw_ij = a_r_plus  if j spiked since t_ref_i else a_r_minus   (reward)
    d[i] != y:  dw_ij = a_p_plus  if j spiked since t_ref_i else a_p_minus   (punishment)

(times ``(w - w_min)(w_max - w) / (w_max - w_min)^2`` with the soft bound), weights clipped to
``[w_min, w_max]``. The rule is chosen when the network is built (the top layer's ``rule`` is an
``RSTDPParams``); this object only builds the decision map, hands it to the top layer as state
(:meth:`RSTDPReadout.attach`) and reads decisions: the class of the top neuron with most inference
spikes in the sample window (ties: larger ``V_infer``, then smallest index); silent: -1.
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np

from ..errors import ParameterError
from ..layers import rule_name
from ..rules import RSTDPParams
from .base import SampleOutcome, TopCountReadout, Window, pick_winner


def decision_map(n_units: int, n_classes: int, assignment: str = "blocks") -> np.ndarray:
    """Equal shares of ``n_units`` among ``n_classes`` (shares differ by at most one when
    ``n_classes`` does not divide ``n_units``): ``'blocks'`` gives unit ``i`` class
    ``floor(i * n_classes / n_units)`` (contiguous blocks), ``'interleaved'`` class ``i mod n_classes``."""
    n_units, n_classes = int(n_units), int(n_classes)
    if n_units < n_classes or n_classes < 1:
        raise ParameterError(f"R-STDP needs at least one top neuron per class: {n_units} neurons, {n_classes} classes")
    i = np.arange(n_units, dtype=np.int64)
    if assignment == "blocks":
        return i * n_classes // n_units
    if assignment == "interleaved":
        return i % n_classes
    raise ParameterError(f"assignment must be 'blocks' or 'interleaved', got {assignment!r}")


class RSTDPReadout(TopCountReadout):
    """Decision-map readout of an R-STDP top layer.

    ``n_neurons``: number of maps of the top layer (its neurons, for a dense layer); with a
    convolutional top layer every position of a map carries the map's class.
    The top layer must be built with ``rule = RSTDPParams(...)`` (configuration: ``rule = "rstdp"``
    and an ``rstdp`` table); its initial weights are then drawn inside the R-STDP range.

    The readout itself never learns (``learn`` is ignored): the network's top layer learns whenever
    its learning flag is on and the chunk carries labels.
    """

    name = "rstdp"

    def __init__(self, n_neurons: int, n_classes: int, assignment: str = "blocks"):
        super().__init__(n_neurons)
        self.n_maps = int(n_neurons)
        self.n_classes = int(n_classes)
        self.assignment = assignment
        self.decision_map = decision_map(self.n_maps, self.n_classes, assignment)
        self._neuron_class = self.decision_map  # per public top neuron (set for conv tops by attach)

    def attach(self, network) -> None:
        """Give ``network.top`` (an R-STDP layer) this decision map, part of its state."""
        layer = network.top
        if not isinstance(layer.rule, RSTDPParams):
            raise ParameterError(
                f"the R-STDP readout needs the top layer {layer.name} built with the R-STDP rule, but it "
                f"learns with {rule_name(layer.rule)!r}; set layers.{layer.name}.rule = \"rstdp\" "
                "(stdpnet train does this for --readout rstdp)")
        if layer.n_maps != self.n_maps:
            raise ParameterError(f"R-STDP readout built for {self.n_maps} maps but {layer.name} has {layer.n_maps}")
        layer.set_decision_map(self.decision_map)
        # public index f*H*W + pos: the class of a neuron is its map's
        self.n_neurons = layer.n_neurons
        self._neuron_class = np.repeat(self.decision_map, layer.out_hw[0] * layer.out_hw[1])

    def _decide(self, window: Window, learn: bool) -> SampleOutcome:
        winner = pick_winner(window.counts, window.tie)
        predicted = int(self._neuron_class[winner]) if winner >= 0 else -1
        return SampleOutcome(window.sample, window.label, predicted, window.top_spikes, winner)

    def state_dict(self) -> Dict[str, Any]:
        return {"kind": self.name, "n_maps": self.n_maps, "n_classes": self.n_classes,
                "assignment": self.assignment, "decision_map": self.decision_map.copy(),
                **self._window_state()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        dm = np.asarray(state["decision_map"], np.int64)
        if dm.shape != self.decision_map.shape:
            raise ParameterError(f"R-STDP state has a decision map of {dm.shape}, this readout {self.decision_map.shape}")
        self.decision_map = dm.copy()
        reps = max(1, self.n_neurons // self.n_maps)
        self._neuron_class = np.repeat(self.decision_map, reps)
        self._load_window_state(state)
