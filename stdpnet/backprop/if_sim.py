"""Event-driven simulator of the SpikeGrad IF network (numba; independent of JAX).

It runs a trained (or random) SpikeGrad parameter set as the spiking network it stands for, and
is the check that the integer ANN of :mod:`.spikegrad` is that network: per neuron and sample,
its net spike counts equal ``integer_activations`` exactly.

Dynamics (SPEC 11), event by event:

* the sample's input events are fed one at a time in time order; event ``(x, y, p)`` is a ``+1``
  spike of input neuron ``(c = p, y, x)``;
* a spike ``s = +-1`` of neuron ``j`` adds ``s * w_ij`` to the potential ``V_i`` of every target
  ``i`` (one accumulate each); potentials start at the bias, ``V(0) = b_i`` (0 for pooling);
* at time 0, bottom up, every neuron whose bias reaches the threshold fires as below;
* after each input, while ``V_i >= theta``: a ``+1`` spike, ``V_i -= theta``; while
  ``V_i <= -theta`` and (ReLU neurons only) the neuron's net count is positive: a ``-1`` spike,
  ``V_i += theta``. Several spikes in a row stand for the consecutive time steps of the clocked
  formulation (one spike per step). Spikes reach the next layer at once (depth first); the
  ``n`` spikes one delivery causes travel together, as ``n * w`` on each synapse (``n``
  accumulates);
* after the last event, layer by layer from the bottom up, the **residual spike**: ``+1`` if
  ``V_i >= theta / 2``; ``-1`` if ``V_i < -theta / 2`` and (ReLU) the count is positive; each
  residual spike is delivered (and may make upper layers spike) before the next layer's turn;
* the readout layer accumulates only: its final potentials are the logits.

Why it is exact: the net count ``S`` and total input ``a = b + sum_j w_ij S_j`` leave
``V = a - theta S``; the rules end with ``|V| < theta`` (or ``S = 0``, ``a <= -theta``), and the
residual spike brings ``V`` into ``[-theta/2, theta/2)``, so ``a/theta - 1/2 < S <= a/theta + 1/2``:
``S = ReLU(floor(a / theta + 1/2))``, rounding half up.

**[decision] ``>=`` on the positive side.** SPEC 11 writes ``V(T) > theta/2``; with both
comparisons strict an exact tie ``a / theta = n + 1/2`` ends at ``V = +theta/2`` (count ``n``) or
``-theta/2`` (count ``n + 1``) depending on the order of the spikes. Average pooling of integer
counts makes such ties common (a mean of 2.5 spikes), so the tie is resolved upwards whatever the
order, and the ANN rounds half up to match. The equality is exact when the arithmetic is:
``theta`` a power of two (``1`` by default) for ``avg`` pooling (weights ``1/P^2``), any
``theta`` for ``sum`` pooling, and float64 on both sides.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import numba
import numpy as np

from ..errors import ConfigError
from .frames import _pixel_index
from .topology import Topology, check_params, fan_out

_CONV, _POOL, _DENSE, _READOUT = 0, 1, 2, 3


@dataclass(frozen=True)
class IFResult:
    """One sample through the IF network.

    ``counts``: net spike count per neuron of every hidden layer (pooling included), int64 shaped
    like the layer's output; ``positive``/``negative``: spike events of each sign per layer
    (totals); ``readout_potential``: the readout's final potentials (the logits);
    ``synaptic_ops``: accumulates done (spike deliveries x synapses), residual spikes included;
    ``input_spikes``: input events fed.
    """
    counts: Dict[str, np.ndarray]
    positive: Dict[str, int]
    negative: Dict[str, int]
    readout_potential: np.ndarray
    synaptic_ops: int
    input_spikes: int

    @property
    def spike_events(self) -> int:
        """All spikes emitted by hidden neurons, both signs."""
        return int(sum(self.positive.values()) + sum(self.negative.values()))


def simulate_if(params, events: np.ndarray, topology: Topology, options=None, *,
                residual: bool = True) -> IFResult:
    """Run one sample's ``events`` through the IF network of ``params`` (see module docstring).

    ``options``: the :class:`~.spikegrad.SpikeGradOptions` of the model (``theta``, ``pool``);
    ``max_count`` must be ``None`` (the event-driven network has no maximal rate).
    ``residual=False`` leaves out the final residual spikes, to see how far the counts then are
    from the ANN's (within one spike per layer, compounding upwards).
    """
    from .spikegrad import resolve_options  # spikegrad re-exports this function; avoid the cycle

    options = resolve_options(options)
    if options.max_count is not None:
        raise ConfigError("simulate_if: the event-driven IF network has no maximal rate; "
                          "use options with max_count=None")
    check_params(topology, params)
    plan = _plan(params, topology, options)
    c, h, w = topology.input_shape
    order = np.argsort(events["t"], kind="stable")
    input_index = _pixel_index(events[order], (w, h, c), "simulate_if events")
    n_layers = len(topology.layers)
    v = np.zeros(plan["v_off"][-1], dtype=np.float64)
    counts = np.zeros(plan["v_off"][-1], dtype=np.int64)
    positive = np.zeros(n_layers, dtype=np.int64)
    negative = np.zeros(n_layers, dtype=np.int64)
    n_ops = _run_sample(plan["kind"], plan["in_shape"], plan["out_shape"], plan["kernel"],
                        plan["w"], plan["w_off"], plan["b"], plan["b_off"], plan["theta"],
                        plan["relu"], plan["pool_weight"], plan["v_off"], plan["stack_size"], input_index,
                        bool(residual), v, counts, positive, negative)
    off = plan["v_off"]
    result_counts = {}
    for l, layer in enumerate(topology.hidden):
        result_counts[layer.name] = counts[off[l]:off[l + 1]].reshape(layer.out_shape).copy()
    last = n_layers - 1
    return IFResult(
        counts=result_counts,
        positive={layer.name: int(positive[l]) for l, layer in enumerate(topology.hidden)},
        negative={layer.name: int(negative[l]) for l, layer in enumerate(topology.hidden)},
        readout_potential=v[off[last]:off[last + 1]].copy(),
        synaptic_ops=int(n_ops),
        input_spikes=len(input_index),
    )


def _plan(params, topology: Topology, options) -> dict:
    """Flat float64/int64 arrays describing every layer, for the numba kernel."""
    n = len(topology.layers)
    kind = np.zeros(n, np.int64)
    in_shape = np.ones((n, 3), np.int64)
    out_shape = np.ones((n, 3), np.int64)
    kernel = np.zeros(n, np.int64)
    theta = np.full(n, float(options.theta))
    relu = np.ones(n, np.bool_)
    pool_weight = np.zeros(n)
    weights, biases = [], []
    w_off, b_off = [0], [0]
    for l, layer in enumerate(topology.layers):
        in_shape[l, :len(layer.in_shape)] = layer.in_shape  # a dense (n,) is (n, 1, 1): n maps
        out_shape[l, :len(layer.out_shape)] = layer.out_shape
        if layer.kind == "pool":
            kind[l] = _POOL
            kernel[l] = layer.size
            relu[l] = False
            pool_weight[l] = 1.0 / layer.size ** 2 if options.pool == "avg" else float(options.theta)
            w, b = np.zeros(0), np.zeros(0)
        else:
            kind[l] = _CONV if layer.kind == "conv" else _DENSE
            kernel[l] = layer.kernel
            w = np.asarray(params[layer.name]["w"], dtype=np.float64)
            w = (w.T if layer.kind == "dense" else w).ravel()  # dense: (n_in, n_out), a row per input
            b = np.asarray(params[layer.name]["b"], dtype=np.float64).ravel()
        weights.append(w)
        biases.append(b)
        w_off.append(w_off[-1] + len(w))
        b_off.append(b_off[-1] + len(b))
    kind[-1] = _READOUT
    sizes = [layer.n_neurons for layer in topology.layers]
    # depth-first delivery pushes at most one entry per target of a delivery, per layer
    stack_size = 1 + sum(int(np.max(fan_out(layer))) for layer in topology.layers)
    return {"kind": kind, "in_shape": in_shape, "out_shape": out_shape, "kernel": kernel,
            "w": np.concatenate(weights), "w_off": np.asarray(w_off, np.int64),
            "b": np.concatenate(biases), "b_off": np.asarray(b_off, np.int64),
            "theta": theta, "relu": relu, "pool_weight": pool_weight, "stack_size": stack_size,
            "v_off": np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)}


@numba.njit(cache=True, inline="always")
def _fire(l, i, v, counts, theta, relu, positive, negative, v_off, stack, sp):
    """Emit every spike neuron ``i`` of layer ``l`` owes, one threshold subtraction each, and
    push them for layer ``l + 1`` as one entry (layer, neuron, signed number of spikes)."""
    idx = v_off[l] + i
    th = theta[l]
    n = 0
    while v[idx] >= th:
        v[idx] -= th
        n += 1
    if n == 0:
        while v[idx] <= -th and (not relu[l] or counts[idx] + n > 0):
            v[idx] += th
            n -= 1
    if n != 0:
        counts[idx] += n
        if n > 0:
            positive[l] += n
        else:
            negative[l] -= n
        stack[sp, 0] = l + 1
        stack[sp, 1] = i
        stack[sp, 2] = n
        sp += 1
    return sp


@numba.njit(cache=True)
def _drain(stack, sp, kind, in_shape, out_shape, kernel, w, w_off, b, b_off, theta, relu,
           pool_weight, v_off, v, counts, positive, negative):
    """Deliver pushed spikes (layer, presynaptic neuron, signed count) until none is left.

    A neuron's spikes caused by one delivery travel as one entry, ``count * w`` each synapse
    (``|count|`` accumulates); with one entry per target and layer at most, the stack never
    holds more than the sum of the layers' largest fan-outs (sized in :func:`_plan`).
    Returns the accumulates done.
    """
    n_ops = 0
    while sp > 0:
        sp -= 1
        l = stack[sp, 0]
        j = stack[sp, 1]
        n = stack[sp, 2]
        s = float(n)
        spikes = abs(n)
        ci, hi, wi = in_shape[l, 0], in_shape[l, 1], in_shape[l, 2]
        fo, ho, wo = out_shape[l, 0], out_shape[l, 1], out_shape[l, 2]
        th = theta[l]
        k = kind[l]
        if k == _CONV:
            c = j // (hi * wi)
            y = (j // wi) % hi
            x = j % wi
            kk = kernel[l]
            for f in range(fo):
                for oy in range(max(0, y - kk + 1), min(y, ho - 1) + 1):
                    for ox in range(max(0, x - kk + 1), min(x, wo - 1) + 1):
                        i = (f * ho + oy) * wo + ox
                        idx = v_off[l] + i
                        v[idx] += s * w[w_off[l] + ((f * ci + c) * kk + (y - oy)) * kk + (x - ox)]
                        n_ops += spikes
                        # cheap test first: most deliveries cause no spike
                        if v[idx] >= th or (v[idx] <= -th and (counts[idx] > 0 or not relu[l])):
                            sp = _fire(l, i, v, counts, theta, relu, positive, negative, v_off, stack, sp)
        elif k == _POOL:
            c = j // (hi * wi)
            y = (j // wi) % hi
            x = j % wi
            p = kernel[l]
            oy = y // p
            ox = x // p
            if oy < ho and ox < wo:
                i = (c * ho + oy) * wo + ox
                idx = v_off[l] + i
                v[idx] += s * pool_weight[l]
                n_ops += spikes
                if v[idx] >= th or (v[idx] <= -th and (counts[idx] > 0 or not relu[l])):
                    sp = _fire(l, i, v, counts, theta, relu, positive, negative, v_off, stack, sp)
        else:  # dense weights are stored transposed, (n_in, n_out): one spike reads a row
            n_out = fo * ho * wo
            row = w_off[l] + j * n_out
            for i in range(n_out):
                idx = v_off[l] + i
                v[idx] += s * w[row + i]
                n_ops += spikes
                if k == _DENSE and (v[idx] >= th or (v[idx] <= -th and (counts[idx] > 0 or not relu[l]))):
                    sp = _fire(l, i, v, counts, theta, relu, positive, negative, v_off, stack, sp)
    return n_ops


@numba.njit(cache=True)
def _run_sample(kind, in_shape, out_shape, kernel, w, w_off, b, b_off, theta, relu, pool_weight,
                v_off, stack_size, input_index, residual, v, counts, positive, negative):
    n_layers = kind.shape[0]
    for l in range(n_layers):  # V(0) = bias of the neuron's map (conv) or the neuron (dense)
        if kind[l] == _POOL:
            continue
        per_map = out_shape[l, 1] * out_shape[l, 2]
        for i in range(v_off[l + 1] - v_off[l]):
            v[v_off[l] + i] = b[b_off[l] + i // per_map]
    stack = np.empty((stack_size, 3), np.int64)
    n_ops = 0
    # time 0: a bias at or above threshold fires before any input (bottom up, as the residual)
    for l in range(n_layers - 1):
        for i in range(v_off[l + 1] - v_off[l]):
            if v[v_off[l] + i] >= theta[l]:
                sp = _fire(l, i, v, counts, theta, relu, positive, negative, v_off, stack, 0)
                n_ops += _drain(stack, sp, kind, in_shape, out_shape, kernel, w, w_off, b, b_off,
                                theta, relu, pool_weight, v_off, v, counts, positive, negative)
    for e in range(input_index.shape[0]):
        stack[0, 0] = 0
        stack[0, 1] = input_index[e]
        stack[0, 2] = 1
        n_ops += _drain(stack, 1, kind, in_shape, out_shape, kernel, w, w_off, b, b_off, theta,
                        relu, pool_weight, v_off, v, counts, positive, negative)
    if residual:
        for l in range(n_layers - 1):
            th = theta[l]
            for i in range(v_off[l + 1] - v_off[l]):
                idx = v_off[l] + i
                sign = 0
                if v[idx] >= 0.5 * th:  # ties round half up: see the module docstring
                    sign = 1
                elif v[idx] < -0.5 * th and (not relu[l] or counts[idx] > 0):
                    sign = -1
                if sign == 0:
                    continue
                v[idx] -= sign * th
                counts[idx] += sign
                if sign > 0:
                    positive[l] += 1
                else:
                    negative[l] += 1
                stack[0, 0] = l + 1
                stack[0, 1] = i
                stack[0, 2] = sign
                n_ops += _drain(stack, 1, kind, in_shape, out_shape, kernel, w, w_off, b, b_off,
                                theta, relu, pool_weight, v_off, v, counts, positive, negative)
    return n_ops
