"""Event-based supervised classifier on top of the last STDP layer (SPEC section 7).

One non-leaky integrate-and-fire neuron per class, fully connected to the top layer's inference
spikes, trained online while the STDP layers learn. Symbols: ``w_ij`` weight from top neuron ``j``
to class neuron ``i``; ``V_i`` potential; ``theta`` threshold; ``E_i`` error variable; ``R_i``
one-hot target of the current label; ``eta`` learning rate; ``m`` error memory.

    on every spike arriving at class neuron i through synapse j:  V_i += w_ij;  w_ij += eta * E_i
    V_i >= theta:  class neuron i fires, V_i = 0   (no inhibition; weights unbounded)
    whenever any class neuron fires, for every class neuron i:   E_i = m * E_i + R_i - [i fired]
    on a label change: R = onehot(label), E = 0, V = 0         (reset='sample': also between samples)

Clock-based order within one tick (consistent with the simulator, where a tick's spikes are
simultaneous): (1) if the tick's label differs from the last labelled tick's label (or, with
``reset='sample'``, its sample does), reset ``E`` and ``V`` and set ``R``; (2) deliver all of the
tick's top-layer spikes: each adds ``w_ij`` to ``V_i`` (the weight before its own update) and then
applies ``w_ij += eta * E_i`` with the ``E`` in force at the start of the tick; (3) every neuron with
``V_i >= theta`` fires once and resets to 0 (a neuron fires at most once per tick, like the
simulator's neurons); (4) if any fired, ``E`` is updated once. So a wrong neuron that fires gets
``E_i -> m E_i - 1`` (its active synapses are depressed by later spikes) and the silent target
``E_t -> m E_t + 1`` (potentiated). Fixed points under repeated firing: a lone wrong firer
``E = -1/(1-m)``, the silent target ``+1/(1-m)``, a target that fires ``0``.

Ticks without a label (gaps, unlabelled streams): spikes are delivered and class neurons may fire
(counted for no sample), but nothing is learnt and ``E`` is left alone; a gap is not a label
change (the next labelled tick is compared with the last labelled one).

``learn=False`` (test): no weight or ``E`` update and no resets; potentials carry over between
samples (SPEC). Prediction: the class neuron with most spikes in the sample window (ties: larger
potential at the window's end, then smallest class); no class spike: -1 (silent).

Default parameters. The dynamics are unchanged when ``threshold``, ``w`` and ``eta`` are scaled
together, so ``threshold = 1`` and only ``w / threshold`` and ``eta / threshold`` matter; ``m = 0.9``
(SPEC's starting point, ``|E| <= 1/(1-m) = 10``). The right weight scale depends on how many
spikes the top layer emits per sample ``S``, which ranges from about 10 (a dense top layer with
inference inhibition) through a few hundred (the ``synthetic`` preset) to thousands (``nmnist``),
so by default (``w_init_mean``/``w_init_std``/``eta`` left at ``None``) they are calibrated once, on
the first complete sample window that has top-layer spikes (count vector ``x``, ``S0 = sum_j x_j``,
``Q0 = sum_j x_j^2``), and then kept (they are in :meth:`EventClassifier.state_dict`). Until that
window closes the class neurons have no weights: they stay silent and learn nothing (the first
sample is predicted -1), which keeps the result independent of how the stream is chunked.

    w_init_mean = fire_target * threshold / S0     (fire_target = 5: every class neuron fires
                                                    about 5 times per sample from the start, so
                                                    learning starts at once -- SPEC's requirement)
    w_init_std  = w_init_mean / 5
    eta         = eta_scale * threshold / Q0       (eta_scale = 0.02)

``eta``: a class neuron's drive over a sample changes by about ``sum_j x_j * eta * E * x_j =
eta * E * Q``, so at the saturated error ``|E| = 10`` one sample moves it by ``0.2 * threshold``.
Larger rates learn faster online but, weights being unbounded, drive wrong neurons' weights
negative; at test time (no resets) their potentials then sink without bound and the classifier
falls silent (measured on the synthetic bars: ``eta_scale >= 0.1`` loses test accuracy,
``0.003 .. 0.03`` reach 100 %). Explicit values override the calibration.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from ..errors import ParameterError
import numpy as np
from numba import njit

from .base import SampleOutcome, Window, WindowedReadout, check_top_size, pick_winner

# integer state ``track``: last labelled tick's label, its sample (-1: none yet)
TRACK_LABEL, TRACK_SAMPLE = 0, 1


@njit(cache=True)
def classifier_ticks(spike_tick, spike_neuron, labels, samples, run_of_tick, w, v, e, r, track,
                     eta, m, theta, learn, reset_sample, counts, v_end):
    """Step the class neurons through one chunk's ticks (see the module docstring for the rule).

    ``spike_tick``/``spike_neuron``: the top layer's inference spikes (chunk-local tick, public
    index), sorted by tick. ``labels``/``samples``/``run_of_tick``: per chunk-local tick. ``w``
    ``(n_inputs, n_classes)``, ``v``, ``e``, ``r`` ``(n_classes,)`` and ``track`` are the state,
    updated in place. Class spikes are added to ``counts[run, i]``; ``v_end[run]`` receives ``V`` at
    the end of each run. Returns the number of class spikes.
    """
    n_ticks = len(labels)
    n_classes = v.shape[0]
    k = 0
    n_spikes = len(spike_tick)
    fired = np.zeros(n_classes, np.bool_)
    total = 0
    for t in range(n_ticks):
        label = labels[t]
        learning = learn and label >= 0
        # (1) label change (or, with reset_sample, sample change): reset E and V, new target R
        if learning and (label != track[TRACK_LABEL] or (reset_sample and samples[t] != track[TRACK_SAMPLE])):
            for i in range(n_classes):
                e[i] = 0.0
                v[i] = 0.0
                r[i] = 1.0 if i == label else 0.0
            track[TRACK_LABEL] = label
            track[TRACK_SAMPLE] = samples[t]
        # (2) deliver the tick's spikes: V_i += w_ij, then w_ij += eta * E_i
        while k < n_spikes and spike_tick[k] == t:
            j = spike_neuron[k]
            for i in range(n_classes):
                v[i] += w[j, i]
            if learning:
                for i in range(n_classes):
                    w[j, i] += eta * e[i]
            k += 1
        # (3) threshold, reset to zero
        any_fired = False
        run = run_of_tick[t]
        for i in range(n_classes):
            fired[i] = v[i] >= theta
            if fired[i]:
                v[i] = 0.0
                counts[run, i] += 1
                any_fired = True
                total += 1
        # (4) error update, once per tick in which some class neuron fired
        if any_fired and learning:
            for i in range(n_classes):
                e[i] = m * e[i] + r[i] - (1.0 if fired[i] else 0.0)
        for i in range(n_classes):
            v_end[run, i] = v[i]
    return total


class EventClassifier(WindowedReadout):
    """SPEC section 7's event-based supervised classifier (see the module docstring).

    Parameters: ``n_inputs`` (top-layer neurons), ``n_classes``, ``eta``, ``m``, ``threshold``,
    ``w_init_mean``, ``w_init_std`` (initial weights ``N(mean, std)``, seeded by ``seed``),
    ``reset``: ``'label'`` (reset ``E`` and ``V`` on a label change, the SPEC's decision) or
    ``'sample'`` (also between two samples with the same label). ``eta``, ``w_init_mean`` and
    ``w_init_std`` left at ``None`` are calibrated on the first sample from ``fire_target`` and
    ``eta_scale`` (module docstring); :meth:`params` shows the values in force.

    State (all in :meth:`state_dict`): ``w (n_inputs, n_classes)``, ``v``, ``e``, ``r``, the last
    labelled tick's label and sample, the calibration, and the open sample window.
    """

    name = "classifier"

    def __init__(self, n_inputs: int, n_classes: int, eta: Optional[float] = None, m: float = 0.9,
                 threshold: float = 1.0, w_init_mean: Optional[float] = None, w_init_std: Optional[float] = None,
                 seed: int = 0, reset: str = "label", fire_target: float = 5.0, eta_scale: float = 0.02):
        super().__init__()
        if int(n_inputs) < 1 or int(n_classes) < 1:
            raise ParameterError(f"n_inputs and n_classes must be >= 1, got {n_inputs}, {n_classes}")
        if reset not in ("label", "sample"):
            raise ParameterError(f"reset must be 'label' or 'sample', got {reset!r}")
        if not threshold > 0:
            raise ParameterError(f"threshold must be > 0, got {threshold}")
        if not 0 <= m < 1:
            raise ParameterError(f"m must be in [0, 1) (|E| is bounded by 1/(1-m)), got {m}")
        if eta is not None and eta < 0:
            raise ParameterError(f"eta must be >= 0, got {eta}")
        if w_init_std is not None and w_init_std < 0:
            raise ParameterError(f"w_init_std must be >= 0, got {w_init_std}")
        if not (fire_target > 0 and eta_scale >= 0):
            raise ParameterError(f"fire_target must be > 0 and eta_scale >= 0, got {fire_target}, {eta_scale}")
        self.n_inputs, self.n_classes = int(n_inputs), int(n_classes)
        self.m, self.threshold = float(m), float(threshold)
        self.seed, self.reset = int(seed), reset
        self.fire_target, self.eta_scale = float(fire_target), float(eta_scale)
        self._requested = {"eta": eta, "w_init_mean": w_init_mean, "w_init_std": w_init_std}
        self.eta = None if eta is None else float(eta)
        self.w_init_mean = None if w_init_mean is None else float(w_init_mean)
        self.w_init_std = None if w_init_std is None else float(w_init_std)
        # standard normal draws, scaled to N(w_init_mean, w_init_std) once both are known
        self._z = np.random.default_rng(self.seed).standard_normal((self.n_inputs, self.n_classes))
        self.w = np.zeros((self.n_inputs, self.n_classes))
        self.v = np.zeros(self.n_classes)
        self.e = np.zeros(self.n_classes)
        self.r = np.zeros(self.n_classes)
        self.track = np.full(2, -1, np.int64)
        self.class_spikes = 0  # total class-neuron spikes so far
        self.calibrated = False
        self._calib_sample = -1  # the sample being counted for calibration (-1: none yet)
        self._calib_x = np.zeros(self.n_inputs)
        if self.w_init_mean is not None and self.eta is not None:
            self._initialise(None, None)

    @property
    def needs_calibration(self) -> bool:
        return not self.calibrated

    def _initialise(self, s0: Optional[float], q0: Optional[float]) -> None:
        """Fix the parameters left to the data and draw the weights (see the module docstring):
        ``w_init_mean = fire_target * threshold / S0``, ``w_init_std = w_init_mean / 5``,
        ``eta = eta_scale * threshold / Q0``."""
        if self.w_init_mean is None:
            self.w_init_mean = self.fire_target * self.threshold / s0
        if self.w_init_std is None:
            self.w_init_std = self.w_init_mean / 5.0
        if self.eta is None:
            self.eta = self.eta_scale * self.threshold / q0
        self.w[...] = self.w_init_mean + self.w_init_std * self._z
        self.calibrated = True

    def params(self) -> Dict[str, Any]:
        """The parameters in force (``None``: still to be calibrated on the first sample)."""
        return {"eta": self.eta, "m": self.m, "threshold": self.threshold, "w_init_mean": self.w_init_mean,
                "w_init_std": self.w_init_std, "seed": self.seed, "reset": self.reset,
                "fire_target": self.fire_target, "eta_scale": self.eta_scale}

    # ---- the chunk ------------------------------------------------------------------------
    def _chunk_windows(self, result, chunk, network, learn, starts, ends, ids):
        if network is not None:
            check_top_size(network, self.n_inputs, "EventClassifier")
        n_runs = len(ids)
        run_of_tick = np.repeat(np.arange(n_runs, dtype=np.int64), ends - starts)
        local = np.asarray(result.top_ticks, np.int64) - int(chunk.start_tick)
        neuron = np.asarray(result.top_neurons, np.int64)
        if len(local) > 1 and np.any(np.diff(local) < 0):
            order = np.argsort(local, kind="stable")
            local, neuron = local[order], neuron[order]
        counts = np.zeros((n_runs, self.n_classes), np.int64)
        v_end = np.zeros((n_runs, self.n_classes))
        top = np.bincount(run_of_tick[local], minlength=n_runs)
        k0 = 0
        if not self.calibrated:
            k0 = self._calibrate(local, neuron, starts, ids)
            if not self.calibrated:  # the calibration window is still open: nothing can happen yet
                return counts, [None] * n_runs, top
        keep = local >= k0
        self.class_spikes += classifier_ticks(
            local[keep] - k0, neuron[keep], np.asarray(chunk.label, np.int64)[k0:],
            np.asarray(chunk.sample, np.int64)[k0:], run_of_tick[k0:], self.w, self.v, self.e, self.r,
            self.track, self.eta, self.m, self.threshold, bool(learn), self.reset == "sample", counts, v_end)
        ties = list(v_end)
        for r in range(n_runs):
            if ends[r] <= k0:
                ties[r] = None  # before calibration: no potentials
        return counts, ties, top

    def _calibrate(self, local, neuron, starts, ids) -> int:
        """Accumulate the first sample window that has top-layer spikes; when it closes, calibrate.
        Returns the chunk-local tick from which the classifier runs (``n_ticks`` if not yet)."""
        run = np.searchsorted(starts, local, side="right") - 1
        for r in range(len(ids)):
            sid = int(ids[r])
            if self._calib_sample >= 0 and sid != self._calib_sample:  # the window closed
                if self._calib_x.sum() > 0:
                    x = self._calib_x
                    self._initialise(float(x.sum()), float(x @ x))
                    return int(starts[r])
                self._calib_sample = -1
            if sid >= 0:
                if self._calib_sample < 0:
                    self._calib_sample = sid
                    self._calib_x[...] = 0
                self._calib_x += np.bincount(neuron[run == r], minlength=self.n_inputs)
        return int(starts[-1]) + 1 if len(starts) else 0

    def _decide(self, window: Window, learn: bool) -> SampleOutcome:
        winner = pick_winner(window.counts, window.tie)
        return SampleOutcome(window.sample, window.label, winner, window.top_spikes, winner)

    # ---- state ----------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        return {"kind": self.name, "n_inputs": self.n_inputs, "n_classes": self.n_classes, "params": self.params(),
                "w": self.w.copy(), "v": self.v.copy(), "e": self.e.copy(), "r": self.r.copy(),
                "track": self.track.copy(), "class_spikes": self.class_spikes, "calibrated": self.calibrated,
                "calib_sample": self._calib_sample, "calib_x": self._calib_x.copy(), **self._window_state()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        w = np.asarray(state["w"], float)
        if w.shape != self.w.shape:
            raise ParameterError(f"classifier state has weights {w.shape}, this classifier {self.w.shape}")
        for k in ("w", "v", "e", "r", "track"):
            np.copyto(getattr(self, k), np.asarray(state[k]))
        self.class_spikes = int(state.get("class_spikes", 0))
        params = state.get("params", {})
        for k in ("eta", "w_init_mean", "w_init_std"):
            if params.get(k) is not None:
                setattr(self, k, float(params[k]))
        self.calibrated = bool(state.get("calibrated", True))
        self._calib_sample = int(state.get("calib_sample", -1))
        if "calib_x" in state:
            np.copyto(self._calib_x, np.asarray(state["calib_x"], float))
        self._load_window_state(state)

