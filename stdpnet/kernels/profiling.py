"""Per-phase cycle counters for the kernels, compiled in only when profiling.

The kernels take a ``prof`` argument: ``None`` on the normal path, or an int64 array
``(n_layers, N_PHASES)`` when profiling. :func:`clock` and :func:`lap` are overloaded on its *type*,
so with ``None`` they compile to nothing at all (no clock read, no branch): numba compiles a separate
specialisation of :func:`stdpnet.kernels.run_ticks` for the profiling call, and the normal one pays
nothing. With an array, :func:`clock` reads the CPU's time-stamp counter (``llvm.readcyclecounter``,
``rdtsc`` on x86; constant rate, converted to seconds against wall time by the caller) and
:func:`lap` adds the cycles since the last lap to ``prof[layer, phase]``.
"""
from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

# Phases of one layer's tick, in the order they run (columns of the ``prof`` array).
PH_DELIVER = 0  # input spikes added into both accumulators (and threshold crossings noted)
PH_SCAN = 1  # collecting this tick's candidates from the touched positions
PH_SORT_LEARN = 2  # ordering the learning candidates (by V_learn, ties shuffled)
PH_LEARN = 3  # the rule (STDP / R-STDP) on each winner's kernel
PH_INHIBIT = 4  # learning inhibition (intra- and inter-map)
PH_INFER = 5  # inference spikes: ordering, resets, inference inhibition
PH_ROUTE = 6  # pooling the inference spikes into the next layer's input, recording
PHASES = ("deliver", "scan", "sort_learn", "learn", "inhibit_learn", "infer", "route")
N_PHASES = len(PHASES)


@intrinsic
def _read_cycle_counter(typingctx):
    sig = types.int64()

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(64), [])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.readcyclecounter")
        return builder.call(fn, [])

    return sig, codegen


def clock(prof):
    """The time-stamp counter when profiling (``prof`` is an array), else the constant 0."""
    raise NotImplementedError  # pragma: no cover - compiled only, see the overload


def lap(prof, layer, phase, t0):
    """``prof[layer, phase] += clock() - t0``; returns ``clock()``. Nothing when ``prof`` is None."""
    raise NotImplementedError  # pragma: no cover - compiled only, see the overload


@overload(clock)
def _clock_overload(prof):
    if isinstance(prof, (types.NoneType, types.Omitted)):
        return lambda prof: 0
    return lambda prof: _read_cycle_counter()


@overload(lap)
def _lap_overload(prof, layer, phase, t0):
    if isinstance(prof, (types.NoneType, types.Omitted)):
        return lambda prof, layer, phase, t0: 0

    def impl(prof, layer, phase, t0):
        t1 = _read_cycle_counter()
        prof[layer, phase] += t1 - t0
        return t1

    return impl


@njit(cache=True)
def read_cycle_counter():
    """The time-stamp counter, callable from Python (to calibrate cycles against wall time)."""
    return _read_cycle_counter()
