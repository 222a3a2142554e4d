"""Surrogate-gradient LIF network trained by backprop through time (the snnTorch / SpikingJelly
tutorial recipe), on the STDP net's topology and time-binned events.

Per time bin ``t`` (input: event counts of the bin, :func:`~.frames.time_bins`), every conv or
dense layer is a layer of leaky integrate-and-fire neurons (dimensionless units, threshold
``theta``, decay ``beta`` per bin):

    U[t] = beta U[t-1] + I[t] - theta S[t-1]               (reset "subtract")
    U[t] = (beta U[t-1] + I[t]) (1 - S[t-1])               (reset "zero")
    S[t] = H(U[t] - theta),    I[t] = W s_in[t] + b

with ``H`` the Heaviside step in the forward pass and, in the backward pass, the derivative of a
surrogate: arctan ``(a / 2) / (1 + (pi a x / 2)^2)`` (``a = slope``, default 2: snnTorch's and
SpikingJelly's default; Fang et al. 2021) or fast sigmoid ``1 / (1 + k |x|)^2`` (``k = slope``,
default 25; Zenke & Ganguli 2018). On the synthetic task arctan learned in about half the epochs. The
reset term is detached from the graph by default (snnTorch's ``reset_delay``/detach habit).
Pooling has no neurons: it forwards spike counts (``sum``, as stdpnet's ``Pool``) or their mean
(``avg``). The readout ``out`` is a LIF layer too; the logits are its spike counts over the
sample, trained with cross-entropy (snnTorch's ``ce_count_loss``); predictions break ties of
equal counts by the mean readout potential.

Cost per inference: accumulates = sum over bins and layers of (input spikes x fan-out), the input
events included; spikes = all LIF spikes (readout included). Membrane decay multiplications are
not counted.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, Optional

from ..errors import ConfigError, ParameterError, check_finite, check_positive
from . import ops
from ._jax import require_jax
from .topology import Topology, fan_out

NAME = "surrogate"
INPUT_KIND = "bins"  # (N, T, C, H, W) time-binned event counts
OP_KIND = "AC"

SURROGATES = ("atan", "fast_sigmoid")
DEFAULT_SLOPE = {"atan": 2.0, "fast_sigmoid": 25.0}


@dataclass(frozen=True)
class SurrogateOptions:
    """LIF and surrogate settings (see the module docstring for the formulas)."""
    beta: float = 0.9
    theta: float = 1.0
    surrogate: str = "atan"
    slope: Optional[float] = None  # None: 2 (atan), 25 (fast_sigmoid)
    reset: str = "subtract"
    detach_reset: bool = True
    pool: str = "sum"
    # initial weights N(0, sqrt(init_gain / n_in)); 1/3 is PyTorch's default for conv and linear
    # layers (uniform, variance 1 / (3 n_in)), i.e. the tutorials' networks. With He's 2 on
    # N-MNIST (10 bins) the readout fires in most bins for every class (64 of 100 possible spikes
    # per sample) and validation accuracy stayed at chance for 4 epochs (9-10 %); with 1/3: 86 %
    # after 3 epochs.
    init_gain: float = 1.0 / 3.0

    def __post_init__(self):
        check_finite("surrogate beta", self.beta)
        if not 0.0 <= self.beta <= 1.0:
            raise ParameterError(f"surrogate beta (membrane decay per bin) must be in [0, 1], got {self.beta}")
        check_positive("surrogate theta", self.theta)
        if self.surrogate not in SURROGATES:
            raise ParameterError(f"surrogate must be one of {SURROGATES}, got {self.surrogate!r}")
        if self.slope is None:
            object.__setattr__(self, "slope", DEFAULT_SLOPE[self.surrogate])
        check_positive("surrogate slope", self.slope)
        if self.reset not in ("subtract", "zero"):
            raise ParameterError(f"surrogate reset must be 'subtract' or 'zero', got {self.reset!r}")
        check_positive("surrogate init_gain", self.init_gain)
        if self.pool not in ("sum", "avg"):
            raise ParameterError(f"surrogate pool must be 'sum' or 'avg', got {self.pool!r}")


def resolve_options(options, train_x=None) -> SurrogateOptions:
    if options is None:
        return SurrogateOptions()
    if isinstance(options, SurrogateOptions):
        return options
    if isinstance(options, dict):
        try:
            return SurrogateOptions(**options)
        except TypeError as exc:
            known = ", ".join(f.name for f in fields(SurrogateOptions))
            raise ConfigError(f"surrogate options: {exc}; known: {known}") from None
    raise ConfigError(f"surrogate options must be a SurrogateOptions or a dict, got {type(options).__name__}")


def spike_function(options: SurrogateOptions) -> Callable:
    """``x -> H(x)`` (``x = U - theta``) whose derivative is the chosen surrogate.

    Written as ``H(x) + g(x) - stop_gradient(g(x))`` with ``g`` an antiderivative of the
    surrogate: ``x / (1 + k|x|)`` (fast sigmoid), ``arctan(pi a x / 2) / pi`` (arctan).
    """
    jax, jnp = require_jax()
    k = float(options.slope)
    if options.surrogate == "fast_sigmoid":
        def smooth(x):
            return x / (1.0 + k * jnp.abs(x))
    else:
        def smooth(x):
            return jnp.arctan(jnp.pi * k * x / 2.0) / jnp.pi

    def spike(x):
        g = smooth(x)
        return (x > 0).astype(x.dtype) + (g - jax.lax.stop_gradient(g))
    return spike


def forward(params, x, topology: Topology, options: SurrogateOptions, *,
            spike_fn: Optional[Callable] = None):
    """``x``: ``(B, T, C, H, W)`` binned events -> ``(logits, stats)``.

    ``logits``: readout spike counts ``(B, n_classes)``; ``stats``: per-sample ``ops``,
    ``spikes`` ``{layer: spikes}`` and ``scores`` (counts + ``0.5 tanh(mean readout U)``: the
    same order as the counts, ties broken by potential). ``spike_fn`` replaces the
    Heaviside-with-surrogate (tests pass a smooth function to compare BPTT with finite
    differences).
    """
    jax, jnp = require_jax()
    spike = spike_fn or spike_function(options)
    dtype = x.dtype
    batch = x.shape[0]
    neurons = [layer for layer in topology.layers if layer.has_params]
    fan_outs = [jnp.asarray(fan_out(layer), dtype=dtype) for layer in topology.layers]
    theta, beta = options.theta, options.beta

    def lif(u, s_prev, current):
        reset = jax.lax.stop_gradient(s_prev) if options.detach_reset else s_prev
        if options.reset == "subtract":
            u = beta * u + current - theta * reset
        else:
            u = (beta * u + current) * (1.0 - reset)
        return u, spike(u - theta)

    # Layer by layer: a layer's input currents at every bin depend only on the layer below's
    # spikes, so each conv/dense runs once over all (sample, bin) pairs and only the membrane
    # recurrence is scanned over time -- the same equations as stepping all layers bin by bin,
    # with one large convolution per layer instead of T small ones (several times faster on a CPU)
    n_bins = x.shape[1]

    def flat(a):  # (B, T, ...) -> (B * T, ...)
        return a.reshape((batch * n_bins,) + a.shape[2:])

    def unflat(a):
        return a.reshape((batch, n_bins) + a.shape[1:])

    def membrane(carry, current):
        u, s_prev = carry
        u, s = lif(u, s_prev, current)
        return (u, s), (u, s)

    n_ops = jnp.zeros(batch, dtype)
    n_spikes = []
    s = x
    u_seq = None
    for layer, fo in zip(topology.layers, fan_outs):
        n_ops = n_ops + unflat(ops.synaptic_ops(flat(s), fo)).sum(axis=1)
        if layer.kind == "pool":
            s = unflat(ops.pool(flat(s), layer.size, options.pool))
            continue
        current = jnp.swapaxes(unflat(ops.apply_linear(layer, params, flat(s))), 0, 1)  # time first
        zero = jnp.zeros((batch,) + tuple(layer.out_shape), dtype)
        _, (u_seq, s_seq) = jax.lax.scan(membrane, (zero, zero), current)
        s = jnp.swapaxes(s_seq, 0, 1)
        n_spikes.append(s.reshape(batch, -1).sum(axis=1))
    out_counts = s.sum(axis=1)
    out_u_sum = u_seq.sum(axis=0)
    stats = {"ops": n_ops,
             "spikes": {layer.name: n for layer, n in zip(neurons, n_spikes)},
             "scores": out_counts + 0.5 * jnp.tanh(out_u_sum / n_bins)}
    return out_counts, stats
