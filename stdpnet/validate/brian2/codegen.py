"""Brian2 code generation for the twin: IEEE arithmetic, quiet expected notices, progress lines.

Brian2 turns every object's code into a code object on its first run (the ``numpy`` target: Python
source, fast; the ``cython`` target: C++ compiled by GCC, slow on a first run, then cached on disk).
Nothing here states the model; it only makes Brian2 evaluate the twin's equations
(:mod:`.equations`) in the order written, so that results are bitwise comparable with stdpnet's.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Callable, Optional, Union

from ...errors import ParameterError

TARGETS = ("numpy", "cython")

#: A progress sink: a callable taking one line, ``True`` (print to stderr), or ``None``/``False`` (silent).
Progress = Union[bool, Callable[[str], None], None]

# First-run cost of Brian2's code generation, measured on the 2-core reference machine (Brian2
# 2.9, GCC 12, another job running): numpy target, 1.7 s to build and generate the code of the
# default crosscheck network (0.8 million synapses), mostly connecting synapses; cython target
# into an empty cache, 168 s for the 39 modules of ``16x16x2-4C5-P2-8`` (4.3 s per module).
# Brian2's Cython cache is keyed by code, which names the layers' arrays: a twin of the same layer
# names reuses it, and then builds about as fast as on the numpy target.
NUMPY_BASE_S = 1.0
NUMPY_S_PER_MILLION_SYNAPSES = 1.5
CYTHON_S_PER_MODULE = 4.5
CYTHON_LOAD_S = 2.0
# Distinct Cython modules of a twin (39 for two layers): a few shared (the input generator) and
# those of each layer (thresholds, resets, deliveries, STDP, synapse creation, monitors).
CYTHON_SHARED_MODULES = 5
CYTHON_MODULES_PER_LAYER = 17
IEEE_CACHE_SUBDIR = "stdpnet_ieee"


def check_target(target: str) -> str:
    if target not in TARGETS:
        raise ParameterError(f"Brian2 twin: target must be 'numpy' or 'cython', got {target!r}; "
                             "use 'numpy' when no C compiler is available")
    return target


def progress_sink(progress: Progress) -> Callable[[str], None]:
    """``progress`` as a function of one line: ``True`` prints to stderr (flushed at once)."""
    if progress is None or progress is False:
        return lambda line: None
    if progress is True:
        return lambda line: print(line, file=sys.stderr, flush=True)
    if callable(progress):
        return progress
    raise ParameterError(f"Brian2 twin: progress must be True, False, None or a callable taking one "
                         f"line of text, got {type(progress).__name__}")


def ieee_cache_dir() -> Optional[Path]:
    """The twin's own sub-directory of Brian2's Cython cache (see :func:`brian2_prefs`)."""
    from brian2.codegen.runtime.cython_rt.extension_manager import get_cython_cache_dir

    base = get_cython_cache_dir()
    return Path(os.path.expanduser(base)) / IEEE_CACHE_SUBDIR if base else None


def _cached_modules() -> int:
    """Compiled modules in the twin's Cython cache (call outside :func:`brian2_prefs`)."""
    d = ieee_cache_dir()
    try:
        return sum(1 for _ in d.glob("*.so")) if d is not None and d.is_dir() else 0
    except OSError:
        return 0


def first_run_estimate_s(target: str, n_layers: int, n_synapses: int) -> float:
    """Rough first-run code generation time of a twin (seconds), for the progress line.

    numpy: network construction grows with the synapse count. cython: one compilation per distinct
    code object when the twin's cache holds fewer modules than the twin needs, otherwise the
    numpy figure plus loading (a warm cache is the common case after the first run).
    """
    build = NUMPY_BASE_S + NUMPY_S_PER_MILLION_SYNAPSES * n_synapses / 1e6
    if target == "numpy":
        return build
    modules = CYTHON_SHARED_MODULES + CYTHON_MODULES_PER_LAYER * n_layers
    if _cached_modules() >= modules:
        return build + CYTHON_LOAD_S
    return CYTHON_S_PER_MODULE * modules


class _DropSTDPNotices(logging.Filter):
    """Two Brian2 notices about the twin's STDP code, both expected:
    - "may not be well-defined: the outcome may depend on the order of execution": several synapses
      write the same shared kernel entry. Within one tick at most one winner per map learns, and a
      winner's receptive field holds each kernel entry once, so no entry is written twice in a step;
    - "Failed to vectorise code, falling back on Python loop" (numpy target): for the same reason
      (a write through an index that may repeat); it costs time on learning spikes only."""

    def filter(self, record):
        msg = record.getMessage()
        return not ("dwp" in msg and ("well-defined" in msg or "vectorise" in msg))


_quieted = False


def quiet_brian2() -> None:
    """Install :class:`_DropSTDPNotices` on Brian2's code generation loggers (once)."""
    global _quieted
    if not _quieted:
        for name in ("brian2.codegen.generators.base", "brian2.codegen.generators.numpy_generator"):
            logging.getLogger(name).addFilter(_DropSTDPNotices())
        _quieted = True


@contextlib.contextmanager
def brian2_prefs(b2, target: str):
    """Brian2 preferences of the twin, restored on exit (also on Ctrl-C):
    - the code generation target;
    - no loop-invariant optimisation (Brian2 would hoist ``-beta_plus / w_span`` out of
      ``-beta_plus * (w - w_min) / w_span`` and round differently);
    - for the cython target, GCC flags without ``-ffast-math`` (reassociation, vectorised ``exp``)
      and with ``-ffp-contract=off`` (no fused multiply-add), otherwise as Brian2's defaults; the
      modules go to their own sub-directory ``stdpnet_ieee`` of Brian2's Cython cache, as Brian2's
      cache key ignores compiler flags;
    - ``core.stop_on_keyboard_interrupt`` off: by default Brian2's SIGINT handler turns Ctrl-C
      during ``Network.run`` into a quiet stop after the current step, and ``run`` returns as if it
      had finished; the twin would then hand back a result covering part of its ticks. With the
      preference off, Ctrl-C raises ``KeyboardInterrupt`` as everywhere else.
    """
    p = b2.prefs.codegen
    old = (p.target, p.loop_invariant_optimisations, p.cpp.extra_compile_args_gcc,
           p.runtime.cython.cache_dir)
    old_stop = b2.prefs.core.stop_on_keyboard_interrupt
    p.target = target
    p.loop_invariant_optimisations = False
    flags = [f for f in old[2] if f not in ("-ffast-math", "-fno-finite-math-only")]
    p.cpp.extra_compile_args_gcc = flags + ["-ffp-contract=off"]
    ieee = ieee_cache_dir()
    if ieee is not None:
        p.runtime.cython.cache_dir = str(ieee)
    b2.prefs.core.stop_on_keyboard_interrupt = False
    try:
        yield
    finally:
        (p.target, p.loop_invariant_optimisations, p.cpp.extra_compile_args_gcc,
         p.runtime.cython.cache_dir) = old
        b2.prefs.core.stop_on_keyboard_interrupt = old_stop
