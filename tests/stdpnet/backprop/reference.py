"""Independent numpy restatement of the baselines' layer arithmetic (loops, float64), for tests.

Written from the formulas in the module docstrings, not from the JAX code: conv is valid
cross-correlation ``y[f,i,j] = b[f] + sum_{c,u,v} w[f,c,u,v] x[c,i+u,j+v]``, pooling crops the
remainder, dense flattens in (C, H, W) order.
"""
import numpy as np


def conv(x, w, b):
    f_n, c_n, k, _ = w.shape
    _, h, wd = x.shape
    out = np.zeros((f_n, h - k + 1, wd - k + 1))
    for f in range(f_n):
        for i in range(h - k + 1):
            for j in range(wd - k + 1):
                out[f, i, j] = b[f] + np.sum(w[f] * x[:, i:i + k, j:j + k])
    return out


def pool(x, p, mode):
    c, h, w = x.shape
    out = np.zeros((c, h // p, w // p))
    for ch in range(c):
        for i in range(h // p):
            for j in range(w // p):
                window = x[ch, i * p:(i + 1) * p, j * p:(j + 1) * p]
                out[ch, i, j] = {"sum": window.sum(), "avg": window.mean(), "max": window.max()}[mode]
    return out


def dense(x, w, b):
    return w @ x.reshape(-1) + b


def linear(layer, params, x):
    """A conv or dense layer's weighted sum."""
    p = params[layer.name]
    return conv(x, p["w"], p["b"]) if layer.kind == "conv" else dense(x, p["w"], p["b"])


def relaxed_spikegrad(params, x, topology, theta, pool_mode="avg"):
    """SpikeGrad without rounding (the net its straight-through gradient differentiates):
    ``S = ReLU(a) / theta``, pooling ``avg / theta`` (or sum); readout potentials."""
    s = np.asarray(x, np.float64)
    for layer in topology.layers:
        if layer.kind == "pool":
            s = pool(s, layer.size, "sum") if pool_mode == "sum" else pool(s, layer.size, "avg") / theta
            continue
        a = linear(layer, params, s)
        if layer is topology.readout:
            return a
        s = np.maximum(a, 0.0) / theta
    raise AssertionError


def integer_spikegrad(params, x, topology, theta, pool_mode="avg"):
    """SPEC 11's integer activations, written out: ``S = ReLU(round(a / theta))``."""
    s = np.asarray(x, np.float64)
    counts = {}
    for layer in topology.layers:
        if layer.kind == "pool":
            s = pool(s, layer.size, "sum") if pool_mode == "sum" else np.round(pool(s, layer.size, "avg") / theta)
        else:
            a = linear(layer, params, s)
            if layer is topology.readout:
                counts["out"] = a
                return counts
            s = np.maximum(np.round(a / theta), 0.0)
        counts[layer.name] = s
    raise AssertionError


def cnn(params, x, topology, pool_mode="max", input_scale=1.0):
    s = np.asarray(x, np.float64) * input_scale
    for layer in topology.layers:
        if layer.kind == "pool":
            s = pool(s, layer.size, pool_mode)
            continue
        a = linear(layer, params, s)
        s = a if layer is topology.readout else np.maximum(a, 0.0)
    return s


def lif_network(params, x, topology, beta, theta, reset="subtract", pool_mode="sum"):
    """The surrogate network's forward pass stepped bin by bin through every layer (loops, float64):
    ``U[t] = beta U[t-1] + I[t] - theta S[t-1]`` (or ``(beta U[t-1] + I[t]) (1 - S[t-1])``),
    ``S[t] = U[t] > theta``. ``x``: ``(T, C, H, W)``. Returns the readout's spike counts, the sum of
    its potentials over the bins and every neuron layer's spike total."""
    names = [layer.name for layer in topology.layers if layer.kind != "pool"]
    u = {n: 0.0 for n in names}
    s_prev = {n: 0.0 for n in names}
    totals = {n: 0.0 for n in names}
    counts, u_sum = 0.0, 0.0
    for x_t in np.asarray(x, np.float64):
        s = x_t
        for layer in topology.layers:
            if layer.kind == "pool":
                s = pool(s, layer.size, pool_mode)
                continue
            current = linear(layer, params, s)
            if reset == "subtract":
                u[layer.name] = beta * u[layer.name] + current - theta * s_prev[layer.name]
            else:
                u[layer.name] = (beta * u[layer.name] + current) * (1.0 - s_prev[layer.name])
            s = (u[layer.name] > theta).astype(np.float64)
            s_prev[layer.name] = s
            totals[layer.name] += s.sum()
        counts = counts + s
        u_sum = u_sum + u[names[-1]]
    return counts, u_sum, totals
