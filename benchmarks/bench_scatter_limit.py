"""How close the kernels' input delivery comes to the machine's achievable scatter rate.

    PYTHONPATH=. python benchmarks/bench_scatter_limit.py [--net nmnist] [--spikes-per-tick 30]

For every layer of the network, random input spikes (``--spikes-per-tick`` per tick, uniform over
the layer's input) are delivered by the kernel (:func:`stdpnet.kernels.delivery.deliver`, with
thresholds out of reach, so this is the add path and its bookkeeping), and the very same adds are
done by the simplest numba loop that can do them: precomputed contiguous runs ``(neuron offset,
weight offset, length)``, ``V_learn += w; V_infer += w``, nothing else. Both rates are counted in
adds per second of this thread's CPU time (in the network's precision) (two per synaptic operation with learning on), so
other jobs on the machine disturb them little. The ratio kernel / achievable is the headroom left.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from numba import njit

from stdpnet.kernels.delivery import deliver
from stdpnet.network import Network


@njit(cache=True)
def _kernel_ticks(const, state, scratch, in_c, in_y, in_x, per_tick, n_ticks):
    synops = 0
    for t in range(n_ticks):
        s0 = t * per_tick
        n_touched, ops = deliver(const, state, scratch, t, in_c[s0:], in_y[s0:], in_x[s0:], per_tick)
        synops += ops
        for k in range(n_touched):  # what the threshold scan would clear
            scratch.touched_mark[scratch.touched[k]] = 0
    return synops


@njit(cache=True)
def _runs(const, in_c, in_y, in_x, n):
    """The contiguous runs (neuron offset, weight offset in the kx-mirrored layout, length) of ``n`` spikes."""
    out = np.zeros((n * const.k_h, 3), np.int64)
    m = 0
    F = const.n_maps
    for s in range(n):
        c, y, x = in_c[s], in_y[s], in_x[s]
        ky0, ky1 = max(0, y - const.h_out + 1), min(const.k_h - 1, y)
        kx0, kx1 = max(0, x - const.w_out + 1), min(const.k_w - 1, x)
        for ky in range(ky0, ky1 + 1):
            out[m, 0] = ((y - ky) * const.w_out + x - kx1) * F
            out[m, 1] = ((c * const.k_h + ky) * const.k_w + (const.k_w - 1 - kx1)) * F
            out[m, 2] = (kx1 - kx0 + 1) * F
            m += 1
    return out[:m]


@njit(cache=True)
def _achievable(v_learn, v_infer, w, runs):
    adds = 0
    for r in range(runs.shape[0]):
        n = runs[r, 2]
        vl = v_learn[runs[r, 0]:runs[r, 0] + n]
        vi = v_infer[runs[r, 0]:runs[r, 0] + n]
        wk = w[runs[r, 1]:runs[r, 1] + n]
        for k in range(n):
            vl[k] += wk[k]
            vi[k] += wk[k]
        adds += 2 * n
    return adds


def _best_cpu(fn, repeats=3):
    best = np.inf
    for _ in range(repeats):
        t0 = time.thread_time()
        out = fn()
        best = min(best, time.thread_time() - t0)
    return best, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--net", default="nmnist")
    ap.add_argument("--spikes-per-tick", type=int, default=30)
    ap.add_argument("--ticks", type=int, default=2000)
    ap.add_argument("--precision", default=None, choices=["float64", "float32"],
                    help="potentials and weights (default: the preset's)")
    a = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    net = Network.from_spec(a.net, seed=0, precision=a.precision)
    print(f"{a.net} ({net.precision}): adds per second of thread CPU time, kernel against the simplest loop")
    print(f"{'layer':6s} {'F':>5s} {'kernel Gadd/s':>14s} {'achievable':>11s} {'ratio':>6s}")
    for layer in net.learning_layers:
        layer.params = layer.params.updated(theta_learn=1e30, theta_infer=1e30)  # no crossings
        const = layer.const(net.dt_us)
        c, h, w = layer.in_shape
        n = a.spikes_per_tick * a.ticks
        in_c = rng.integers(0, c, n)
        in_y = rng.integers(0, h, n)
        in_x = rng.integers(0, w, n)
        state, scratch = layer.state, layer.scratch
        wm = scratch.w_mirror if scratch.w_mirror.size else state.w  # a dense layer's runs use w
        if scratch.w_mirror.size:
            from stdpnet.kernels.delivery import sync_mirror
            sync_mirror(const, state, scratch)
        _kernel_ticks(const, state, scratch, in_c, in_y, in_x, a.spikes_per_tick, 2)  # compile
        t_k, synops = _best_cpu(lambda: _kernel_ticks(const, state, scratch, in_c, in_y, in_x,
                                                      a.spikes_per_tick, a.ticks))
        runs = _runs(const, in_c, in_y, in_x, n)
        _achievable(state.v_learn, state.v_infer, wm, runs[:2])
        t_a, adds = _best_cpu(lambda: _achievable(state.v_learn, state.v_infer, wm, runs))
        k_rate, a_rate = 2 * synops / t_k, adds / t_a
        print(f"{layer.name:6s} {layer.n_maps:5d} {k_rate / 1e9:14.2f} {a_rate / 1e9:11.2f} {k_rate / a_rate:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
