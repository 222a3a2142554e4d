"""The contract every readout fulfils (SPEC section 7).

A readout sees only the top layer's inference spikes and the labels that travel beside the stream;
it never reaches back into the STDP layers (R-STDP gets its reward through the stream's labels).

Besides the contract (:class:`SampleOutcome`, :class:`Readout`) this module holds the machinery the
three readouts share: cutting a chunk's ticks into sample windows (:func:`sample_runs`) and
carrying a window that spans several chunks until it closes (:class:`WindowedReadout`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from ..errors import ParameterError
import numpy as np


@dataclass(frozen=True)
class SampleOutcome:
    """Decision on one completed sample. ``predicted = -1`` means the readout stayed silent
    (counted as a wrong answer, and separately).

    ``top_spikes``: top-layer inference spikes in the sample's window (the readout's input).
    ``winner``: the unit that decided -- the top neuron (public index) for the count and R-STDP
    readouts, the class neuron for the classifier; -1 when nothing spiked. A count readout whose
    winner is unlabelled has ``winner >= 0`` but ``predicted = -1`` (so ``silent`` is true);
    ``top_spikes == 0`` tells a truly silent top layer apart.
    """

    sample: int
    label: int
    predicted: int
    top_spikes: int
    winner: int = -1

    @property
    def correct(self) -> bool:
        return self.predicted == self.label and self.predicted >= 0

    @property
    def silent(self) -> bool:
        return self.predicted < 0


class Readout:
    """Base class. Subclasses implement :meth:`process`, :meth:`flush`, :meth:`state_dict`,
    :meth:`load_state_dict`.

    ``process(result, chunk, network, learn)`` is called after every ``network.run(chunk)`` with the
    chunk's :class:`stdpnet.network.RunResult`; tick ``t`` of the chunk belongs to sample
    ``chunk.sample[t - chunk.start_tick]`` with label ``chunk.label[...]`` (-1: gap / no label).
    It returns the outcomes of the samples that ended in or before this chunk (a sample ends when a
    tick of another sample, or of a gap, follows it); ``flush()`` closes the last open sample.
    ``learn=False`` freezes the readout (test / evaluation: no learning, no resets).

    ``needs_label_pass``: True for readouts that need the classic "label pass with learning off"
    after training (spike-count labelling); :meth:`start_label_pass` prepares one.
    """

    name = "readout"
    needs_label_pass = False

    def process(self, result, chunk, network, learn: bool) -> List[SampleOutcome]:
        raise NotImplementedError

    def flush(self, network=None) -> List[SampleOutcome]:
        raise NotImplementedError

    def state_dict(self) -> Dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        raise NotImplementedError

    def start_label_pass(self) -> None:
        """Prepare a labelling pass (nothing to do for readouts that label online)."""


def sample_runs(sample: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximal runs of equal ``sample`` values: ``(starts, ends, ids)``, run ``r`` covering chunk-local
    ticks ``[starts[r], ends[r])`` of sample ``ids[r]`` (-1: a gap). Vectorised; ``O(n_ticks)``."""
    sample = np.asarray(sample, np.int64)
    n = len(sample)
    if n == 0:
        z = np.zeros(0, np.int64)
        return z, z, z
    starts = np.concatenate(([0], np.flatnonzero(sample[1:] != sample[:-1]) + 1))
    ends = np.concatenate((starts[1:], [n]))
    return starts, ends, sample[starts]


def pick_winner(counts: np.ndarray, tie: Optional[np.ndarray]) -> int:
    """Index with most ``counts``; ties broken by larger ``tie`` (a potential), then smallest index.
    -1 when every count is zero (silent)."""
    best = counts.max() if len(counts) else 0
    if best <= 0:
        return -1
    cands = np.flatnonzero(counts == best)
    if len(cands) == 1 or tie is None:
        return int(cands[0])
    return int(cands[np.argmax(tie[cands])])  # argmax: first (smallest index) of equal potentials


@dataclass
class Window:
    """An open sample window: per-unit spike ``counts``, the ``tie`` potentials for breaking ties
    (``None``: not read yet), and the number of top-layer spikes."""

    sample: int
    label: int
    counts: np.ndarray
    tie: Optional[np.ndarray]
    top_spikes: int

    def to_dict(self) -> Dict[str, Any]:
        return {"sample": self.sample, "label": self.label, "counts": self.counts.copy(),
                "tie": np.zeros(0) if self.tie is None else self.tie.copy(), "has_tie": self.tie is not None,
                "top_spikes": self.top_spikes}

    @classmethod
    def from_dict(cls, d: Optional[Dict[str, Any]]) -> Optional["Window"]:
        if not d:
            return None
        tie = np.asarray(d["tie"], float).copy() if d["has_tie"] else None
        return cls(int(d["sample"]), int(d["label"]), np.asarray(d["counts"]).copy(), tie, int(d["top_spikes"]))


class WindowedReadout(Readout):
    """A readout that decides once per sample window from per-unit spike counts.

    Subclasses implement :meth:`_chunk_windows` (per-run counts, tie potentials and top-spike
    counts for one chunk) and :meth:`_decide` (outcome of a closed window; may learn from it).
    This class carries the window that is still open at a chunk's end into the next chunk and
    closes it when a tick of another sample or of a gap follows.
    """

    def __init__(self):
        self._open: Optional[Window] = None
        self._last_learn = False  # the learn flag of the last process() call, used by flush()

    # -- to implement -----------------------------------------------------------------------
    def _chunk_windows(self, result, chunk, network, learn, starts, ends, ids):
        """Return ``(counts (n_runs, n_units), ties, top (n_runs,))``; ``ties[r]`` is an array or
        None (None: keep the window's previous reading)."""
        raise NotImplementedError

    def _decide(self, window: Window, learn: bool) -> SampleOutcome:
        raise NotImplementedError

    def _window_state(self) -> Dict[str, Any]:
        return {"open": self._open.to_dict() if self._open is not None else {}, "last_learn": self._last_learn}

    def _load_window_state(self, state: Dict[str, Any]) -> None:
        self._open = Window.from_dict(state.get("open"))
        self._last_learn = bool(state.get("last_learn", False))

    def _fallback_tie(self, network) -> Optional[np.ndarray]:
        """Tie potentials to use when a window closes without a reading of its own."""
        return None

    # -- driver -------------------------------------------------------------------------------
    def process(self, result, chunk, network, learn: bool) -> List[SampleOutcome]:
        self._last_learn = bool(learn)
        starts, ends, ids = sample_runs(chunk.sample)
        if len(ids) == 0:
            return []
        labels = np.asarray(chunk.label, np.int64)[starts]
        counts, ties, top = self._chunk_windows(result, chunk, network, learn, starts, ends, ids)
        out: List[SampleOutcome] = []
        fallback = None
        for r in range(len(ids)):
            sid = int(ids[r])
            w = self._open
            if w is not None and w.sample == sid:  # the open window continues into this chunk
                w.counts += counts[r]
                w.top_spikes += int(top[r])
                if ties[r] is not None:
                    w.tie = ties[r]
                continue
            if w is not None:
                if w.tie is None:
                    fallback = self._fallback_tie(network) if fallback is None else fallback
                    w.tie = fallback
                out.append(self._decide(w, learn))
                self._open = None
            if sid >= 0:
                self._open = Window(sid, int(labels[r]), counts[r].copy(), ties[r], int(top[r]))
        return out

    def flush(self, network=None) -> List[SampleOutcome]:
        """Close the open window (end of the stream); it is decided with the learn flag of the last
        :meth:`process` call, so the last sample of a training pass is learnt from too."""
        w = self._open
        if w is None:
            return []
        if w.tie is None and network is not None:
            w.tie = self._fallback_tie(network)
        self._open = None
        return [self._decide(w, self._last_learn)]


def top_v_infer_public(network) -> np.ndarray:
    """The top layer's ``V_infer`` in public neuron order ``f*H*W + y*W + x`` (a copy)."""
    top = network.top
    return top.neuron_view(top.v_infer).reshape(-1).copy()


def check_top_size(network, n_neurons: int, who: str) -> None:
    n = network.top.n_neurons
    if n != n_neurons:
        raise ParameterError(
            f"{who} was built for {n_neurons} top neurons but the network's top layer "
            f"{network.top.name} has {n}; build the readout with make_readout(kind, network, n_classes)"
        )


class TopCountReadout(WindowedReadout):
    """Windows holding per-top-neuron inference spike counts; ties broken by ``V_infer``.

    The tie potential of a window is ``network.top.v_infer`` read at the last chunk end that lies
    inside or at the end of the window (public indices via ``neuron_view``). It is therefore exact
    when the window ends at a chunk end. :func:`streams.tick_chunks` ends a chunk at tick
    ``t_end // dt_us`` of each sample, so this holds whenever sample boundaries fall on tick
    boundaries (e.g. SyntheticBars with ``dt_us`` dividing ``duration_us``); otherwise the sample's
    last, straddling tick opens the next chunk and the reading is one tick early. A window that
    begins and ends inside one chunk (several samples per chunk, ``min_ticks > 1``) uses the reading
    at that chunk's end.
    """

    def __init__(self, n_neurons: int):
        super().__init__()
        if int(n_neurons) < 1:
            raise ParameterError(f"n_neurons must be >= 1, got {n_neurons}")
        self.n_neurons = int(n_neurons)

    def _chunk_windows(self, result, chunk, network, learn, starts, ends, ids):
        check_top_size(network, self.n_neurons, type(self).__name__)
        n, n_runs = self.n_neurons, len(ids)
        run_of_tick = np.repeat(np.arange(n_runs), ends - starts)
        local = np.asarray(result.top_ticks, np.int64) - int(chunk.start_tick)
        neuron = np.asarray(result.top_neurons, np.int64)
        key = run_of_tick[local] * n + neuron
        counts = np.bincount(key, minlength=n_runs * n).reshape(n_runs, n)
        ties: List[Optional[np.ndarray]] = [None] * n_runs
        if ids[-1] >= 0:
            ties[-1] = top_v_infer_public(network)
        return counts, ties, counts.sum(axis=1)

    def _fallback_tie(self, network) -> Optional[np.ndarray]:
        return top_v_infer_public(network)
