"""Layers: convolutional and fully connected winner-take-all layers with two accumulators, and
spike-forwarding pooling (SPEC sections 2, 4, 5).

A layer owns its state arrays; the arithmetic is in :mod:`stdpnet.kernels`. Weights are stored
kernel-position-major ``(C, k_h, k_w, F)`` (flat) so that one input spike adds a contiguous run of
``F`` weights; :attr:`LearningLayer.weights` shows them as ``(F, C, k_h, k_w)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Dict, Optional, Tuple, Union

import numpy as np

from . import kernels as K
from .errors import CheckpointError, ParameterError, SpecError, check_finite, check_positive
from .rules import RSTDPParams, STDPParams

Shape = Tuple[int, int, int]  # (C, H, W)
Radius = Optional[Union[int, str]]


def _radius_code(name: str, r: Radius) -> int:
    if r is None:
        return K.R_NONE
    if r == "global":
        return K.R_GLOBAL
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 0:
        raise ParameterError(f"{name} must be an integer >= 0, 'global' or None, got {r!r}")
    return int(r)


@dataclass(frozen=True)
class LayerParams:
    """Parameters of one learning layer (SPEC sections 2-4; units: ticks are ``dt`` of the engine).

    ``r_learn``: inter-map radius of learning inhibition (square window; ``0`` = same position;
    ``'global'`` = every position; ``None`` = none). Intra-map inhibition of the learning
    accumulators is always on. ``r_infer``: inter-map radius of inference inhibition (``None`` =
    none). ``init_mean``, ``init_std``: initial weights ``N(mean, std)`` clipped to the rule's range.
    Optional extras, off by default: ``leak_tau_us`` (exponential leak of both accumulators),
    ``refractory_us`` (no integration for that long after the accumulator's own spike),
    ``reset='subtract'`` (reset by subtracting the threshold instead of to zero). Thresholds are
    tested, once per tick, on the neurons that received input in that tick (in the default
    non-leaky model nothing else can cross); so with the extras, a surplus left above threshold by
    a subtractive reset, or a potential still above threshold when a refractory period ends, fires
    at the neuron's next input, not by itself. The Brian2 twin reproduces this rule.
    ``rule='rstdp'`` makes the layer learn with R-STDP from the stream's labels (reward signal),
    using ``rstdp`` and a decision map (see :meth:`LearningLayer.set_decision_map`).
    """

    theta_learn: float = 8.0
    theta_infer: Optional[float] = None  # None: equal to theta_learn
    r_learn: Radius = 2
    r_infer: Radius = 0
    stdp: STDPParams = field(default_factory=STDPParams)
    init_mean: float = 0.8
    init_std: float = 0.1
    learning: bool = True
    leak_tau_us: float = 0.0
    refractory_us: float = 0.0
    reset: str = "zero"
    rule: str = "stdp"
    rstdp: RSTDPParams = field(default_factory=RSTDPParams)

    def __post_init__(self):
        check_positive("theta_learn", self.theta_learn)
        if self.theta_infer is not None:
            check_positive("theta_infer", self.theta_infer)
        check_finite("init_mean", self.init_mean)
        check_positive("init_std", self.init_std, allow_zero=True)
        check_positive("leak_tau_us", self.leak_tau_us, allow_zero=True)
        check_positive("refractory_us", self.refractory_us, allow_zero=True)
        _radius_code("r_learn", self.r_learn)
        _radius_code("r_infer", self.r_infer)
        if self.reset not in ("zero", "subtract"):
            raise ParameterError(f"reset must be 'zero' or 'subtract', got {self.reset!r}")
        if self.rule not in ("stdp", "rstdp"):
            raise ParameterError(f"rule must be 'stdp' or 'rstdp', got {self.rule!r}")
        if isinstance(self.stdp, dict):
            object.__setattr__(self, "stdp", STDPParams(**self.stdp))
        if isinstance(self.rstdp, dict):
            object.__setattr__(self, "rstdp", RSTDPParams(**self.rstdp))

    @property
    def theta_inference(self) -> float:
        """The inference threshold in force (``theta_infer``, or ``theta_learn`` when it is None)."""
        return self.theta_learn if self.theta_infer is None else self.theta_infer

    def updated(self, **changes) -> "LayerParams":
        """A copy with ``changes``; keys ``stdp.*``/``rstdp.*`` (or dicts) update the nested rules."""
        stdp = {k[5:]: changes.pop(k) for k in list(changes) if k.startswith("stdp.")}
        rstdp = {k[6:]: changes.pop(k) for k in list(changes) if k.startswith("rstdp.")}
        if isinstance(changes.get("stdp"), dict):
            stdp.update(changes.pop("stdp"))
        if isinstance(changes.get("rstdp"), dict):
            rstdp.update(changes.pop("rstdp"))
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ParameterError(
                f"unknown layer parameter(s) {sorted(unknown)}; valid: {[f.name for f in fields(self)]}"
            )
        if stdp:
            base = {f.name: getattr(self.stdp, f.name) for f in fields(STDPParams)}
            if "alpha_minus" in stdp and "alpha_plus" not in stdp:
                base["alpha_plus"] = None  # keep the -8 ratio
            base.update(stdp)
            changes["stdp"] = STDPParams(**base)
        if rstdp:
            changes["rstdp"] = replace(self.rstdp, **rstdp)
        return replace(self, **changes)

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["stdp"] = {f.name: getattr(self.stdp, f.name) for f in fields(STDPParams)}
        d["rstdp"] = {f.name: getattr(self.rstdp, f.name) for f in fields(RSTDPParams)}
        return d


class Pool:
    """``k x k`` non-overlapping pooling that forwards every spike (SPEC section 5).

    Stateless: a spike at ``(c, y, x)`` leaves as ``(c, y // k, x // k)``; output size is
    ``floor(n / k)``, so spikes of the last row/column of an odd-sized input are dropped.
    """

    def __init__(self, in_shape: Shape, k: int = 2):
        if k < 1:
            raise SpecError(f"pooling size must be >= 1, got {k}")
        c, h, w = in_shape
        if h // k < 1 or w // k < 1:
            raise SpecError(f"P{k} pooling of a {h}x{w} input leaves nothing")
        self.in_shape = in_shape
        self.k = k
        self.out_shape = (c, h // k, w // k)

    def __repr__(self):
        return f"Pool(P{self.k}: {self.in_shape} -> {self.out_shape})"


class LearningLayer:
    """A winner-take-all layer of non-leaky integrate-and-fire neurons with two accumulators.

    State (all returned whole by :meth:`state_dict`): ``w``; per neuron ``v_learn``, ``v_infer``,
    ``t_ref`` (tick of the last learning reset, own spike or inhibition), ``t_spike_learn``,
    ``t_spike_infer``, ``t_upd_learn``, ``t_upd_infer`` (for the optional leak); per input
    ``t_pre`` (tick of its last spike).
    """

    kind = "conv"
    STATE = ("w", "v_learn", "v_infer", "t_ref", "t_spike_learn", "t_spike_infer",
             "t_upd_learn", "t_upd_infer", "t_pre")

    def __init__(self, in_shape: Shape, n_maps: int, kernel: Tuple[int, int], params: LayerParams,
                 rng: np.random.Generator, name: str = ""):
        c, h, w = in_shape
        k_h, k_w = kernel
        if n_maps < 1:
            raise SpecError(f"{name or 'layer'}: number of maps must be >= 1, got {n_maps}")
        if k_h > h or k_w > w:
            raise SpecError(
                f"{name or 'layer'}: kernel {k_h}x{k_w} is larger than its {h}x{w} input; "
                "use a smaller kernel or fewer pooling layers before it"
            )
        self.name = name
        self.in_shape = (c, h, w)
        self.n_maps = n_maps
        self.kernel = (k_h, k_w)
        self.out_hw = (h - k_h + 1, w - k_w + 1)
        self.params = params
        self.pool_after = 1
        self.decision_map = np.full(n_maps, -1, np.int64)
        n_neurons = self.out_hw[0] * self.out_hw[1] * n_maps
        n_w = c * k_h * k_w * n_maps
        lo, hi = self._weight_range()
        self.w = np.clip(rng.normal(params.init_mean, params.init_std, n_w), lo, hi)
        self.v_learn = np.zeros(n_neurons)
        self.v_infer = np.zeros(n_neurons)
        self.t_ref = np.full(n_neurons, -1, np.int64)
        self.t_spike_learn = np.full(n_neurons, K.NEVER, np.int64)
        self.t_spike_infer = np.full(n_neurons, K.NEVER, np.int64)
        self.t_upd_learn = np.zeros(n_neurons, np.int64)
        self.t_upd_infer = np.zeros(n_neurons, np.int64)
        self.t_pre = np.full(c * h * w, K.NEVER, np.int64)
        # scratch (not state: empty between ticks)
        n_positions = self.out_hw[0] * self.out_hw[1]
        self.touched = np.zeros(n_positions, np.int64)
        self.touched_mark = np.zeros(n_positions, np.uint8)
        self.cand_learn = np.zeros(n_neurons, np.int64)
        self.cand_infer = np.zeros(n_neurons, np.int64)
        self.spikes = np.zeros(n_neurons, np.int64)
        self.winners = np.zeros(n_neurons, np.int64)

    def _weight_range(self):
        p = self.params
        if p.rule == "rstdp":
            return p.rstdp.w_min, p.rstdp.w_max
        return p.stdp.w_min, p.stdp.w_max

    # ---- shapes and views -------------------------------------------------------------------
    @property
    def out_shape(self) -> Shape:
        """Output shape ``(F, H_out, W_out)`` before any pooling."""
        return (self.n_maps, *self.out_hw)

    @property
    def n_neurons(self) -> int:
        return self.n_maps * self.out_hw[0] * self.out_hw[1]

    @property
    def weights(self) -> np.ndarray:
        """Weights as ``(F, C, k_h, k_w)`` (a view: writes go to the layer)."""
        c, _, _ = self.in_shape
        return self.w.reshape(c, *self.kernel, self.n_maps).transpose(3, 0, 1, 2)

    def neuron_view(self, flat_state: np.ndarray) -> np.ndarray:
        """A per-neuron array as ``(F, H_out, W_out)``."""
        return flat_state.reshape(*self.out_hw, self.n_maps).transpose(2, 0, 1)

    def to_public_index(self, flat: np.ndarray) -> np.ndarray:
        """Internal neuron index ``(oy*W_out+ox)*F+f`` -> public ``f*H_out*W_out + oy*W_out + ox``."""
        flat = np.asarray(flat, np.int64)
        f = flat % self.n_maps
        pos = flat // self.n_maps
        return f * (self.out_hw[0] * self.out_hw[1]) + pos

    # ---- parameters -------------------------------------------------------------------------
    def set_learning(self, on: bool) -> None:
        self.params = replace(self.params, learning=bool(on))

    def set_decision_map(self, classes: np.ndarray) -> None:
        """Assign each map (neuron of a dense layer) to a class for R-STDP (-1: unassigned)."""
        classes = np.asarray(classes, np.int64)
        if classes.shape != (self.n_maps,):
            raise ParameterError(
                f"{self.name}: decision map needs {self.n_maps} entries, got shape {classes.shape}"
            )
        self.decision_map[:] = classes

    def float_params(self, dt_us: float) -> np.ndarray:
        p = self.params
        fp = np.zeros(K.N_FP)
        fp[K.FP_THETA_LEARN] = p.theta_learn
        fp[K.FP_THETA_INFER] = p.theta_inference
        fp[K.FP_ALPHA_PLUS] = p.stdp.alpha_plus
        fp[K.FP_ALPHA_MINUS] = p.stdp.alpha_minus
        fp[K.FP_BETA_PLUS] = p.stdp.beta_plus
        fp[K.FP_BETA_MINUS] = p.stdp.beta_minus
        fp[K.FP_W_MIN] = p.stdp.w_min
        fp[K.FP_W_MAX] = p.stdp.w_max
        fp[K.FP_LEAK_TAU] = p.leak_tau_us / dt_us
        fp[K.FP_AR_PLUS] = p.rstdp.a_r_plus
        fp[K.FP_AR_MINUS] = p.rstdp.a_r_minus
        fp[K.FP_AP_PLUS] = p.rstdp.a_p_plus
        fp[K.FP_AP_MINUS] = p.rstdp.a_p_minus
        fp[K.FP_RW_MIN] = p.rstdp.w_min
        fp[K.FP_RW_MAX] = p.rstdp.w_max
        return fp

    def int_params(self, dt_us: float) -> np.ndarray:
        p = self.params
        ip = np.zeros(K.N_IP, np.int64)
        ip[K.IP_C], ip[K.IP_H_IN], ip[K.IP_W_IN] = self.in_shape
        ip[K.IP_F] = self.n_maps
        ip[K.IP_K_H], ip[K.IP_K_W] = self.kernel
        ip[K.IP_H_OUT], ip[K.IP_W_OUT] = self.out_hw
        ip[K.IP_POOL] = self.pool_after
        ip[K.IP_R_LEARN] = _radius_code("r_learn", p.r_learn)
        ip[K.IP_R_INFER] = _radius_code("r_infer", p.r_infer)
        ip[K.IP_LEARNING] = int(p.learning)
        ip[K.IP_RULE] = K.RULE_RSTDP if p.rule == "rstdp" else K.RULE_STDP
        ip[K.IP_RESET] = K.RESET_SUBTRACT if p.reset == "subtract" else K.RESET_ZERO
        ip[K.IP_REFRACTORY] = int(math.ceil(p.refractory_us / dt_us))
        ip[K.IP_RSTDP_SOFT] = int(p.rstdp.soft_bound)
        return ip

    # ---- state ------------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, np.ndarray]:
        d = {k: getattr(self, k).copy() for k in self.STATE}
        d["decision_map"] = self.decision_map.copy()
        return d

    def load_state_dict(self, state: Dict[str, np.ndarray]) -> None:
        """Copy ``state`` into this layer's arrays in place (the compiled plan keeps references)."""
        for k in self.STATE + ("decision_map",):
            if k not in state:
                raise CheckpointError(f"{self.name}: checkpoint lacks '{k}'")
            mine = getattr(self, k)
            theirs = np.asarray(state[k])
            if theirs.shape != mine.shape:
                raise CheckpointError(
                    f"{self.name}: '{k}' has shape {theirs.shape} in the checkpoint but {mine.shape} "
                    "in this network; the checkpoint comes from a different network spec"
                )
            np.copyto(mine, theirs)

    def describe(self) -> str:
        c, h, w = self.in_shape
        return (f"{self.name}: {self.kind} {self.n_maps}x{self.kernel[0]}x{self.kernel[1]} on "
                f"{c}x{h}x{w} -> {self.n_maps}x{self.out_hw[0]}x{self.out_hw[1]}")

    def __repr__(self):
        return f"<{type(self).__name__} {self.describe()}>"


class ConvWTA(LearningLayer):
    """Convolutional WTA layer: ``n_maps`` shared ``k x k`` kernels, stride 1, no padding, no bias."""

    kind = "conv"

    def __init__(self, in_shape: Shape, n_maps: int, k: int, params: LayerParams,
                 rng: np.random.Generator, name: str = ""):
        super().__init__(in_shape, n_maps, (k, k), params, rng, name)


class DenseWTA(LearningLayer):
    """Fully connected WTA layer: one global WTA over ``n`` neurons (a kernel covering the input).

    Its natural radii are ``r_learn=0`` (same, only, position: every other neuron is inhibited,
    i.e. global WTA) and ``r_infer=None`` (no inference inhibition, SPEC section 4).
    """

    kind = "dense"

    def __init__(self, in_shape: Shape, n: int, params: LayerParams, rng: np.random.Generator,
                 name: str = ""):
        super().__init__(in_shape, n, (in_shape[1], in_shape[2]), params, rng, name)

    def describe(self) -> str:
        c, h, w = self.in_shape
        return f"{self.name}: dense {self.n_maps} on {c}x{h}x{w}"
