"""Layers: convolutional and fully connected winner-take-all layers with two accumulators, and
spike-forwarding pooling (SPEC sections 2, 4, 5).

A layer is its parameters (:class:`LayerParams`, a frozen value: assign a new one and it takes
effect at the next tick), its state (:class:`stdpnet.kernels.LayerState`, named arrays that a
checkpoint holds) and scratch buffers; the arithmetic is in :mod:`stdpnet.kernels`. Weights are
stored kernel-position-major ``(C, k_h, k_w, F)`` (flat) so that one input spike adds a contiguous
run of ``F`` weights; :attr:`Layer.weights` shows them as ``(F, C, k_h, k_w)``.

The learning rule is one value chosen when the layer is built: ``STDPParams`` (SPEC 3),
``RSTDPParams`` (SPEC 7, reward from the stream's labels) or ``None`` (a static layer: fixed, any
real weights, an optional bias; e.g. a backprop-trained network run in this simulator).
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
Rule = Optional[Union[STDPParams, RSTDPParams]]

RULE_NAMES = {"stdp": STDPParams, "rstdp": RSTDPParams, "static": None}


def rule_name(rule: Rule) -> str:
    """``'stdp'``, ``'rstdp'`` or ``'static'`` (no rule)."""
    if rule is None:
        return "static"
    return "rstdp" if isinstance(rule, RSTDPParams) else "stdp"


def _radius_code(name: str, r: Radius) -> int:
    if r is None:
        return K.R_NONE
    if r == "global":
        return K.R_GLOBAL
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 0:
        raise ParameterError(f"{name} must be an integer >= 0, 'global' or None, got {r!r}")
    return int(r)


def _rule_from_dict(cls, table, name: str):
    if isinstance(table, cls):
        return table
    if not isinstance(table, dict):
        raise ParameterError(f"{name} must be a table of {cls.__name__} fields, got {table!r}")
    valid = [f.name for f in fields(cls)]
    unknown = sorted(set(table) - set(valid))
    if unknown:
        raise ParameterError(f"unknown {name} parameter(s) {unknown}; valid: {valid}")
    try:
        return cls(**table)
    except TypeError as e:  # pragma: no cover - guarded by the check above
        raise ParameterError(f"{name}: {e}") from None


@dataclass(frozen=True)
class LayerParams:
    """Parameters of one layer (SPEC sections 2-4; times in microseconds, converted to ticks of ``dt``).

    ``theta_learn``, ``theta_infer`` (None: equal to ``theta_learn``): thresholds of ``V_learn`` and
    ``V_infer``. ``r_learn``: inter-map radius of learning inhibition (square window; ``0`` = same
    position; ``'global'`` = every position; ``None`` = none); intra-map inhibition of the learning
    accumulators is always on. ``r_infer``: inter-map radius of inference inhibition (``None`` =
    none). ``rule``: ``STDPParams``, ``RSTDPParams`` or ``None`` (static layer). ``init_mean``,
    ``init_std``: initial weights ``N(mean, std)``, clipped to the rule's range. ``learning``: the
    run-time switch (a static layer never learns).

    Optional extras, off by default: ``leak_tau_us`` (exponential leak of both accumulators,
    ``V <- V exp(-dt/tau)``), ``refractory_us`` (no integration for that long after the
    accumulator's own spike), ``reset='subtract'`` (``V <- V - theta`` instead of ``V <- 0``).
    Thresholds are tested, once per tick, on the neurons that received input in that tick (in the
    default non-leaky model nothing else can cross); so with the extras, a surplus left above
    threshold by a subtractive reset, or a potential still above threshold when a refractory period
    ends, fires at the neuron's next input, not by itself. The Brian2 twin reproduces this rule.
    """

    theta_learn: float = 8.0
    theta_infer: Optional[float] = None
    r_learn: Radius = 2
    r_infer: Radius = 0
    rule: Rule = field(default_factory=STDPParams)
    init_mean: float = 0.8
    init_std: float = 0.1
    learning: bool = True
    leak_tau_us: float = 0.0
    refractory_us: float = 0.0
    reset: str = "zero"

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
        if not isinstance(self.learning, (bool, np.bool_)):
            raise ParameterError(f"learning must be true or false, got {self.learning!r}")
        if self.reset not in ("zero", "subtract"):
            raise ParameterError(f"reset must be 'zero' or 'subtract', got {self.reset!r}")
        if self.rule is not None and not isinstance(self.rule, (STDPParams, RSTDPParams)):
            raise ParameterError(
                f"rule must be STDPParams(...), RSTDPParams(...) or None (static layer), got {self.rule!r}")

    @property
    def theta_inference(self) -> float:
        """The inference threshold in force (``theta_infer``, or ``theta_learn`` when it is None)."""
        return self.theta_learn if self.theta_infer is None else self.theta_infer

    @property
    def weight_range(self) -> Tuple[float, float]:
        """The rule's weight range (a static layer: unbounded)."""
        if self.rule is None:
            return -math.inf, math.inf
        return self.rule.w_min, self.rule.w_max

    def updated(self, **changes) -> "LayerParams":
        """A copy with ``changes`` (the configuration form, as :meth:`to_dict` writes it).

        ``rule`` takes a value or a name (``'stdp'``, ``'rstdp'``, ``'static'``/None). The tables
        ``stdp={...}`` / ``rstdp={...}`` (or dotted keys ``stdp.alpha_minus``) update the rule in
        force when it is of that kind; a table of another kind is ignored, so that a preset's STDP
        rates may stay in a configuration whose top layer is switched to R-STDP. Giving
        ``alpha_minus`` without ``alpha_plus`` keeps the source's ratio ``alpha_plus = -8 alpha_minus``.
        """
        tables = {"stdp": {}, "rstdp": {}}
        for key in list(changes):
            head, dot, tail = key.partition(".")
            if head in tables and dot:
                tables[head][tail] = changes.pop(key)
            elif key in tables:
                table = changes.pop(key)
                if table is None:
                    continue
                if not isinstance(table, dict):
                    raise ParameterError(f"{key} must be a table of parameters, got {table!r}")
                tables[key].update(table)
        valid = [f.name for f in fields(self)] + ["stdp", "rstdp"]
        unknown = sorted(set(changes) - set(valid))
        if unknown:
            raise ParameterError(f"unknown layer parameter(s) {unknown}; valid: {valid}")
        rule = self.rule
        if "rule" in changes:
            rule = changes.pop("rule")
            if rule is None or isinstance(rule, str):
                name = "static" if rule is None or rule == "none" else rule
                if name not in RULE_NAMES:
                    raise ParameterError(f"rule must be one of {sorted(RULE_NAMES)}, got {rule!r}")
                cls = RULE_NAMES[name]
                rule = None if cls is None else (self.rule if isinstance(self.rule, cls) else cls())
        kind = rule_name(rule)
        table = tables.get(kind, {})
        if table:
            base = {f.name: getattr(rule, f.name) for f in fields(type(rule))}
            if kind == "stdp" and "alpha_minus" in table and "alpha_plus" not in table:
                base["alpha_plus"] = None  # keep the -8 ratio
            base.update(table)
            rule = _rule_from_dict(type(rule), base, kind)
        return replace(self, rule=rule, **changes)

    def to_dict(self) -> dict:
        """The configuration form: plain values, the rule as its name plus its table."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "rule"}
        kind = rule_name(self.rule)
        d["rule"] = kind
        if self.rule is not None:
            d[kind] = {f.name: getattr(self.rule, f.name) for f in fields(type(self.rule))}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "LayerParams":
        return cls().updated(**dict(d))


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

    ``state`` (:class:`stdpnet.kernels.LayerState`) holds every checkpointed array; its fields are
    also attributes (``layer.w``, ``layer.v_learn``, ...). Per-neuron arrays are in the kernels' hwf
    order; :meth:`neuron_view` shows them as ``(F, H_out, W_out)``.
    """

    kind = "conv"

    def __init__(self, in_shape: Shape, n_maps: int, kernel: Tuple[int, int], params: LayerParams,
                 rng: np.random.Generator, name: str = "", dtype=np.float64):
        c, h, w = in_shape
        k_h, k_w = kernel
        if n_maps < 1:
            raise SpecError(f"{name or 'layer'}: number of maps must be >= 1, got {n_maps}")
        if k_h > h or k_w > w:
            raise SpecError(
                f"{name or 'layer'}: kernel {k_h}x{k_w} is larger than its {h}x{w} input; "
                "use a smaller kernel or fewer pooling layers before it"
            )
        if not isinstance(params, LayerParams):
            raise ParameterError(f"{name or 'layer'}: params must be LayerParams, got {type(params).__name__}")
        self.name = name
        self.in_shape = (c, h, w)
        self.n_maps = n_maps
        self.kernel = (k_h, k_w)
        self.out_hw = (h - k_h + 1, w - k_w + 1)
        self.pool_after = 1
        self._params = params
        self._const: Optional[Tuple[int, K.LayerConst]] = None
        n_positions = self.out_hw[0] * self.out_hw[1]
        n_neurons = n_positions * n_maps
        self.state = K.new_state(c * k_h * k_w * n_maps, n_maps, n_neurons, c * h * w, dtype)
        lo, hi = params.weight_range
        self.state.w[:] = np.clip(rng.normal(params.init_mean, params.init_std, self.state.w.size), lo, hi)
        # a conv layer delivers each kernel row as one run through kx-mirrored weights (kernels.delivery)
        self._check_precision_range(params)
        n_mirror = self.state.w.size if self.out_hw[1] > 1 else 0
        self.scratch = K.new_scratch(n_positions, n_neurons, n_mirror, dtype)

    def _check_precision_range(self, p: LayerParams) -> None:
        """Thresholds must be finite in the potentials' type (float32 ends near 3.4e38)."""
        as_state = self.state.v_learn.dtype.type
        for key, theta in (("theta_learn", p.theta_learn), ("theta_infer", p.theta_inference)):
            with np.errstate(over="ignore"):
                finite = np.isfinite(as_state(theta))
            if not finite:
                raise ParameterError(
                    f"{self.name}: {key}={theta} is beyond the range of this network's "
                    f"{self.state.v_learn.dtype.name} potentials; build it with precision='float64'")

    # ---- parameters: a value; assigning one takes effect at the next tick ----------------------
    @property
    def params(self) -> LayerParams:
        return self._params

    @params.setter
    def params(self, value: LayerParams) -> None:
        if not isinstance(value, LayerParams):
            raise ParameterError(f"{self.name}: params must be LayerParams, got {type(value).__name__}")
        if (value.rule is None) != (self._params.rule is None) or type(value.rule) is not type(self._params.rule):
            raise ParameterError(
                f"{self.name}: the learning rule is chosen when the network is built "
                f"({rule_name(self._params.rule)} here); build a new network with rule={rule_name(value.rule)!r}")
        self._check_precision_range(value)
        self._params = value
        self._const = None

    @property
    def rule(self) -> Rule:
        return self._params.rule

    def const(self, dt_us: int) -> K.LayerConst:
        """The compiled kernels' scalars for the parameters in force (cached until they change)."""
        if self._const is None or self._const[0] != dt_us:
            self._const = (dt_us, self._make_const(dt_us))
        return self._const[1]

    def _make_const(self, dt_us: int) -> K.LayerConst:
        p = self._params
        rule = p.rule
        c, h, w = self.in_shape
        if isinstance(rule, RSTDPParams):
            code, a_plus, a_minus = K.RULE_RSTDP, rule.a_r_plus, rule.a_r_minus
            p_plus, p_minus, b_plus, b_minus, soft = rule.a_p_plus, rule.a_p_minus, 0.0, 0.0, int(rule.soft_bound)
        elif isinstance(rule, STDPParams):
            code, a_plus, a_minus = K.RULE_STDP, rule.alpha_plus, rule.alpha_minus
            p_plus, p_minus, b_plus, b_minus, soft = 0.0, 0.0, rule.beta_plus, rule.beta_minus, 0
        else:
            code, a_plus, a_minus, p_plus, p_minus, b_plus, b_minus, soft = K.RULE_STATIC, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0
        w_min, w_max = p.weight_range
        # thresholds in the potentials' own type (kernels.precision): a float32 network compares and
        # subtracts the float32 nearest to the parameter, exactly like its Brian2 twin
        as_state = self.state.v_learn.dtype.type
        return K.LayerConst(
            c=c, h_in=h, w_in=w, n_maps=self.n_maps, k_h=self.kernel[0], k_w=self.kernel[1],
            h_out=self.out_hw[0], w_out=self.out_hw[1], pool=self.pool_after,
            r_learn=_radius_code("r_learn", p.r_learn), r_infer=_radius_code("r_infer", p.r_infer),
            learning=int(bool(p.learning) and rule is not None), rule=code,
            reset=K.RESET_SUBTRACT if p.reset == "subtract" else K.RESET_ZERO,
            refractory=int(math.ceil(p.refractory_us / dt_us)), soft_bound=soft,
            theta_learn=float(as_state(p.theta_learn)), theta_infer=float(as_state(p.theta_inference)),
            alpha_plus=float(a_plus), alpha_minus=float(a_minus), punish_plus=float(p_plus),
            punish_minus=float(p_minus), beta_plus=float(b_plus), beta_minus=float(b_minus),
            w_min=float(w_min), w_max=float(w_max), leak_tau=float(p.leak_tau_us) / dt_us,
        )

    def set_learning(self, on: bool) -> None:
        if not isinstance(on, (bool, np.bool_)):
            raise ParameterError(f"{self.name}: set_learning takes True or False, got {on!r}")
        self.params = replace(self._params, learning=bool(on))

    def set_decision_map(self, classes: np.ndarray) -> None:
        """Assign each map (neuron of a dense layer) to a class for R-STDP (-1: unassigned)."""
        classes = np.asarray(classes)
        if classes.shape != (self.n_maps,) or not np.issubdtype(classes.dtype, np.integer):
            raise ParameterError(
                f"{self.name}: decision map needs {self.n_maps} integer entries, got {classes.dtype} {classes.shape}")
        self.state.decision_map[:] = classes

    def set_weights(self, weights: np.ndarray, bias: Optional[np.ndarray] = None) -> None:
        """Set the weights ``(F, C, k_h, k_w)`` (and, for a static layer, the bias ``(F,)``).

        Weights must be finite and inside the rule's range (a static layer accepts any real value).
        """
        weights = np.asarray(weights, float)
        if weights.shape != self.weights.shape:
            raise ParameterError(f"{self.name}: weights must have shape {self.weights.shape}, got {weights.shape}")
        if not np.isfinite(weights).all():
            raise ParameterError(f"{self.name}: weights must be finite")
        lo, hi = self._params.weight_range
        if weights.min() < lo or weights.max() > hi:
            raise ParameterError(f"{self.name}: weights must lie in the rule's range [{lo}, {hi}], "
                                 f"got [{weights.min():.4g}, {weights.max():.4g}]")
        self.weights[...] = weights
        if bias is not None:
            if self._params.rule is not None:
                raise ParameterError(f"{self.name}: only a static layer (rule None) has a bias")
            bias = np.asarray(bias, float)
            if bias.shape != (self.n_maps,) or not np.isfinite(bias).all():
                raise ParameterError(f"{self.name}: bias must be {self.n_maps} finite values, got {bias.shape}")
            self.state.bias[:] = bias

    def reset_potentials(self) -> None:
        """``V_learn = 0`` and ``V_infer = bias`` (0 for a learning layer): the optional per-sample reset
        (SPEC 2: off in the plain model; SpikeGrad's IF neurons start each sample at ``V(0) = b``)."""
        self.state.v_learn[:] = 0.0
        self.state.v_infer.reshape(-1, self.n_maps)[:] = self.state.bias

    # ---- shapes and views -------------------------------------------------------------------
    @property
    def out_shape(self) -> Shape:
        """Output shape ``(F, H_out, W_out)`` before any pooling."""
        return (self.n_maps, *self.out_hw)

    @property
    def n_positions(self) -> int:
        return self.out_hw[0] * self.out_hw[1]

    @property
    def n_neurons(self) -> int:
        return self.n_maps * self.n_positions

    @property
    def weights(self) -> np.ndarray:
        """Weights as ``(F, C, k_h, k_w)`` (a view: writes go to the layer)."""
        c, _, _ = self.in_shape
        return self.state.w.reshape(c, *self.kernel, self.n_maps).transpose(3, 0, 1, 2)

    def neuron_view(self, flat_state: np.ndarray) -> np.ndarray:
        """A per-neuron (hwf) array as ``(F, H_out, W_out)``."""
        return flat_state.reshape(*self.out_hw, self.n_maps).transpose(2, 0, 1)

    def to_public_index(self, flat: np.ndarray) -> np.ndarray:
        """Kernel (hwf) neuron index -> public (fhw) index ``f*H_out*W_out + oy*W_out + ox``."""
        return K.hwf_to_fhw(flat, self.n_maps, self.n_positions)

    # ---- state ------------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, np.ndarray]:
        return {k: getattr(self.state, k).copy() for k in K.STATE_FIELDS}

    def load_state_dict(self, state: Dict[str, np.ndarray]) -> None:
        """Check every array of ``state`` (present, shape, dtype kind, finite, within the rule's
        range), then copy them into this layer's arrays in place."""
        checked = {}
        for k in K.STATE_FIELDS:
            mine = getattr(self.state, k)
            if k not in state:
                if k == "bias":  # checkpoints from before static layers existed
                    checked[k] = np.zeros_like(mine)
                    continue
                raise CheckpointError(f"{self.name}: checkpoint lacks '{k}'")
            theirs = np.asarray(state[k])
            if theirs.shape != mine.shape:
                raise CheckpointError(
                    f"{self.name}: '{k}' has shape {theirs.shape} in the checkpoint but {mine.shape} "
                    "in this network; the checkpoint comes from a different network spec")
            if theirs.dtype.kind not in ("f", "i", "u") or (mine.dtype.kind == "i" and theirs.dtype.kind == "f"):
                raise CheckpointError(f"{self.name}: '{k}' has dtype {theirs.dtype}, expected {mine.dtype}")
            if mine.dtype.kind == "f" and theirs.dtype.kind == "f" and theirs.dtype != mine.dtype:
                raise CheckpointError(
                    f"{self.name}: '{k}' is {theirs.dtype} in the checkpoint but {mine.dtype} in this network; "
                    f"build the network with precision={theirs.dtype.name!r} to resume it exactly")
            if theirs.dtype.kind == "f" and not np.isfinite(theirs).all():
                raise CheckpointError(f"{self.name}: '{k}' holds NaN or infinite values; the checkpoint is corrupt")
            checked[k] = theirs
        lo, hi = self._params.weight_range
        w = checked["w"]
        as_state = self.state.w.dtype.type  # the range as this precision stores it (clipping rounds)
        if w.size and (w.min() < as_state(lo) or w.max() > as_state(hi)):
            raise CheckpointError(f"{self.name}: weights in the checkpoint leave the rule's range [{lo}, {hi}]")
        for k, v in checked.items():
            np.copyto(getattr(self.state, k), v)

    def __getattr__(self, name):
        # the state's arrays as attributes: layer.w, layer.v_learn, ... (only called when normal lookup fails)
        if name != "state" and name in K.STATE_FIELDS:
            return getattr(self.state, name)
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

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
                 rng: np.random.Generator, name: str = "", dtype=np.float64):
        super().__init__(in_shape, n_maps, (k, k), params, rng, name, dtype)


class DenseWTA(LearningLayer):
    """Fully connected WTA layer: one global WTA over ``n`` neurons (a kernel covering the input).

    Its natural radii are ``r_learn=0`` (same, only, position: every other neuron is inhibited,
    i.e. global WTA) and ``r_infer=None`` (no inference inhibition, SPEC section 4).
    """

    kind = "dense"

    def __init__(self, in_shape: Shape, n: int, params: LayerParams, rng: np.random.Generator,
                 name: str = "", dtype=np.float64):
        super().__init__(in_shape, n, (in_shape[1], in_shape[2]), params, rng, name, dtype)

    def describe(self) -> str:
        c, h, w = self.in_shape
        return f"{self.name}: dense {self.n_maps} on {c}x{h}x{w}"
