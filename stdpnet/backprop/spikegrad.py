"""SpikeGrad (Thiele, thesis ch. 4; SPEC 11): the integer ANN that *is* a non-leaky IF network.

An IF neuron with subtractive reset, ``V(t+1) = V(t) - theta s(t) + sum_j w_ij s_j(t)``,
``V(0) = b_i``, signed spikes and one final residual spike ends a sample with the net spike count

    S_i = ReLU(round((sum_j w_ij S_j + b_i) / theta))                 (conv and dense layers)

of its inputs' net counts ``S_j``, with ``round(q) = floor(q + 1/2)`` (half up: the tie rule of
:mod:`.if_sim`, a [decision]); the input layer's counts are the sample's event counts per
pixel (:func:`~.frames.count_frames`). Pooling is a *linear* IF layer (no ReLU condition on
negative spikes) with fixed weights: ``avg`` (the thesis): weights ``1 / P^2``, so
``S = round(mean(S_window) / theta)``; ``sum``: weights ``theta``, so ``S = sum(S_window)``
(every spike forwarded, like stdpnet's ``Pool``). The readout's potentials ``V = W S + b`` (not
rounded, no spikes) are the class logits, trained with cross-entropy.

Training uses the straight-through derivative ``dS/da = [a > 0] / theta`` (``S > 0`` implies
``a > 0``), zero above ``max_count`` when a cap is set, and ``1 / theta`` for the linear pooling
neurons; weights start He-normal, ``N(0, sqrt(2 / n_in))``. :func:`simulate_if` runs the spiking
network event by event and reproduces :func:`integer_activations` exactly.

Cost: every input spike of a layer costs ``fan_out`` accumulates (``spikes x fan-out``), the
event-count image included; ``spikes`` are the net counts (a lower bound on the spike events of
the simulator, which may also emit cancelling +1/-1 pairs; :func:`simulate_if` counts those).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from ..errors import ConfigError, ParameterError, check_positive
from . import ops
from ._jax import require_jax
from .if_sim import IFResult, simulate_if  # noqa: F401  (re-exported: spikegrad.simulate_if)
from .topology import Topology, fan_out

NAME = "spikegrad"
INPUT_KIND = "counts"  # (N, C, H, W) event-count images
OP_KIND = "AC"         # accumulates, one per spike and synapse


@dataclass(frozen=True)
class SpikeGradOptions:
    """``theta``: threshold of every IF neuron (pooling included); ``pool``: ``"avg"`` (weights
    ``1/P^2``, the thesis) or ``"sum"`` (weights ``theta``: forwards every spike, as stdpnet's
    ``Pool``); ``max_count``: cap on a neuron's net count per sample (``None``: no cap; the event
    simulator has none, so equality with it needs ``None``); ``init_gain``: initial weights
    ``N(0, sqrt(init_gain / n_in))``, 2 = He et al. (SPEC 11)."""
    theta: float = 1.0
    pool: str = "avg"
    max_count: Optional[int] = None
    init_gain: float = 2.0

    def __post_init__(self):
        check_positive("spikegrad theta", self.theta)
        if self.pool not in ("avg", "sum"):
            raise ParameterError(f"spikegrad pool must be 'avg' (weights 1/P^2) or 'sum' (forward every "
                                 f"spike), got {self.pool!r}")
        check_positive("spikegrad init_gain", self.init_gain)
        if self.max_count is not None and (isinstance(self.max_count, bool) or int(self.max_count) < 1):
            raise ParameterError(f"spikegrad max_count must be None or a positive integer, got {self.max_count!r}")


def resolve_options(options, train_x=None) -> SpikeGradOptions:
    if options is None:
        return SpikeGradOptions()
    if isinstance(options, SpikeGradOptions):
        return options
    if isinstance(options, dict):
        try:
            return SpikeGradOptions(**options)
        except TypeError as exc:
            raise ConfigError(f"spikegrad options: {exc}; known: theta, pool, max_count, init_gain") from None
    raise ConfigError(f"spikegrad options must be a SpikeGradOptions or a dict, got {type(options).__name__}")


def quantise(a, theta: float, *, relu: bool = True, max_count: Optional[int] = None):
    """Net spike count of an IF neuron with total input ``a``: ``floor(a / theta + 1/2)`` (``ReLU``-ed
    for ``relu``, capped at ``max_count``), exact integers in the forward pass, straight-through
    derivative ``[a > 0] / theta`` (``relu``) or ``1 / theta`` (linear), zero above the cap."""
    jax, jnp = require_jax()
    q = a / theta
    s = jnp.floor(q + 0.5)  # half up, as the IF network's residual spike (not numpy's half-to-even)
    passes = jnp.ones_like(q, dtype=bool)
    if relu:
        s = jnp.maximum(s, 0.0)
        passes = a > 0
    if max_count is not None:
        s = jnp.minimum(s, float(max_count))
        passes = passes & (q < max_count + 0.5)
    straight = jnp.where(passes, q, 0.0)
    # value: s exactly (x - x == 0 in floating point); derivative: that of `straight`
    return s + (straight - jax.lax.stop_gradient(straight))


def _run(params, x, topology: Topology, options: SpikeGradOptions):
    """Forward pass: (logits, {layer: net counts S}, per-sample synaptic ops)."""
    _, jnp = require_jax()
    s = x
    counts = {}
    n_ops = jnp.zeros(x.shape[0], dtype=x.dtype)
    for layer in topology.layers:
        n_ops = n_ops + ops.synaptic_ops(s, jnp.asarray(fan_out(layer), dtype=x.dtype))
        if layer is topology.readout:
            return ops.apply_linear(layer, params, s), counts, n_ops
        if layer.kind == "pool":
            if options.pool == "sum":
                s = ops.pool(s, layer.size, "sum")
            else:
                s = quantise(ops.pool(s, layer.size, "avg"), options.theta, relu=False)
        else:
            s = quantise(ops.apply_linear(layer, params, s), options.theta, max_count=options.max_count)
        counts[layer.name] = s
    raise AssertionError("topology without readout")


def forward(params, x, topology: Topology, options: SpikeGradOptions):
    """``x``: ``(B, C, H, W)`` event counts -> ``(logits (B, n_classes), stats)``; ``stats`` holds
    per-sample ``ops`` (accumulates) and ``spikes`` ``{layer: net spikes}``."""
    logits, counts, n_ops = _run(params, x, topology, options)
    spikes = {name: s.reshape(s.shape[0], -1).sum(axis=1) for name, s in counts.items()}
    return logits, {"ops": n_ops, "spikes": spikes}


def integer_activations(params, x, topology: Topology, options: Optional[SpikeGradOptions] = None
                        ) -> Dict[str, np.ndarray]:
    """Net spike counts ``S`` of every hidden layer (pooling included), int64 ``(B, *out_shape)``,
    plus ``"out"``: the readout potentials (float). ``x``: ``(B, C, H, W)`` event counts."""
    _, jnp = require_jax()
    options = resolve_options(options)
    logits, counts, _ = _run(params, jnp.asarray(x), topology, options)
    result = {name: np.rint(np.asarray(s)).astype(np.int64) for name, s in counts.items()}
    result["out"] = np.asarray(logits)
    return result


def export_static_layers(params, topology: Optional[Topology] = None,
                         options: Optional[SpikeGradOptions] = None) -> Dict[str, dict]:
    """The trained spiking network as static layers, in order, for a clock-based IF simulator.

    ``params`` is a parameter pytree (then ``topology`` is needed) or a ``TrainedModel`` of
    method ``spikegrad`` (its topology and options are used). Each entry ``name -> dict``:

    * conv: ``{"kind": "conv", "weights": (F, C, k, k), "bias": (F,), "theta": float}``;
    * dense: ``{"kind": "dense", "weights": (n, C, H, W)`` (or ``(n, n_in)`` after a dense layer),
      ``"bias": (n,), "theta": float}``;
    * pooling: ``{"kind": "pool", "size": P, "weights": float, "bias": 0.0, "theta": float}``: a
      linear IF (signed spikes without the ReLU condition) whose synapses all carry ``weights``;
    * ``out``: ``{"kind": "readout", ...}`` like dense; its potentials (not spikes) are the logits.

    The bias is the initial potential ``V(0)``, reset is subtractive, spikes are signed (SPEC 11).
    """
    if hasattr(params, "params") and hasattr(params, "topology"):
        model = params
        if getattr(model, "method", NAME) != NAME:
            raise ConfigError(f"export_static_layers needs a spikegrad model, got method {model.method!r}")
        params, topology, options = model.params, model.topology, model.options
    if topology is None:
        raise ConfigError("export_static_layers(params, topology): the topology is needed to shape dense weights")
    options = resolve_options(options)
    theta = float(options.theta)
    layers = {}
    for layer in topology.layers:
        if layer.kind == "pool":
            weight = 1.0 / layer.size ** 2 if options.pool == "avg" else theta
            layers[layer.name] = {"kind": "pool", "size": layer.size, "weights": weight, "bias": 0.0,
                                  "theta": theta}
            continue
        w = np.asarray(params[layer.name]["w"], dtype=np.float32)
        if layer.kind == "dense":
            w = w.reshape((layer.size,) + tuple(layer.in_shape))
        kind = "readout" if layer is topology.readout else layer.kind
        layers[layer.name] = {"kind": kind, "weights": w.copy(),
                              "bias": np.asarray(params[layer.name]["b"], dtype=np.float32).copy(),
                              "theta": theta}
    return layers
