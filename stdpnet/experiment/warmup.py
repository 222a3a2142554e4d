"""Kernel warm-up: numba compiles the simulator's kernels on their first call and caches them on
disk (``cache=True``). The first call after an install (or after a kernel changed) therefore takes
seconds (about 10 s on an idle core, several times that on a loaded machine); later processes load
the cache in about a second.

:func:`warm_up_kernels` makes that first call on a throwaway tiny network (one tick, one event,
learning on, spikes recorded) and on a throwaway event classifier, before anything is timed, so

- a cold cache is announced *before* the wait (:data:`COMPILE_NOTICE`), and only when it is cold
  (numba's cache index is read without compiling, see :func:`kernels_cached`);
- the compile time never lands in a measured throughput or in a progress bar's ETA: it is
  reported on its own (``compile_s``).

The kernels' signature does not depend on the network's shape (layers travel as typed lists of
named tuples), only on its precision (float64 or float32 arrays): the tiny network, built once in
each precision, compiles everything a real one needs.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, List, Optional

import numpy as np

#: Said before the wait when numba's disk cache is cold.
COMPILE_NOTICE = "compiling kernels (first run after install, ~20 s per precision)..."
#: A network with every layer kind the kernels serve: conv, pooling, dense.
WARM_NET = "6x6x2-2C3-P2-3"
#: When the cache cannot be inspected, announce after this many seconds of warm-up.
ANNOUNCE_AFTER_S = 2.0


@dataclass(frozen=True)
class WarmUp:
    """The outcome of :func:`warm_up_kernels`.

    ``compile_s``: wall time of this process's warm-up in seconds (compiling, or loading numba's
    cache), paid once per process by the first call; ``from_cache``: ``True`` if every kernel came from the
    disk cache, ``False`` if some were compiled, ``None`` if numba did not say; ``announced``:
    whether :data:`COMPILE_NOTICE` was given."""

    compile_s: float
    from_cache: Optional[bool]
    announced: bool = False

    def to_dict(self) -> dict:
        return {"compile_s": round(self.compile_s, 3), "compile_from_cache": self.from_cache}


_done: Optional[WarmUp] = None
_warm_precisions: set = set()
_lock = threading.Lock()


def _dispatchers() -> List:
    from ..kernels import run_ticks_plain
    from ..readouts.classifier import classifier_ticks

    return [run_ticks_plain, classifier_ticks]


def kernels_cached() -> Optional[bool]:
    """Whether numba's disk cache holds every kernel for the current source, read without compiling
    (numba discards an index whose source stamp is stale, so an edited kernel counts as cold).
    ``None`` if this numba version's cache cannot be inspected."""
    try:
        return all(bool(d._cache._cache_file._load_index()) for d in _dispatchers())
    except Exception:  # noqa: BLE001 - numba internals; fall back to timing the warm-up
        return None


def _cache_counts():
    """Numba's cumulative (hits, misses) of the kernels in this process, or None."""
    try:
        return (sum(sum(d.stats.cache_hits.values()) for d in _dispatchers()),
                sum(sum(d.stats.cache_misses.values()) for d in _dispatchers()))
    except AttributeError:
        return None


def _cache_outcome(before=None) -> Optional[bool]:
    """Did the warm-up load from the disk cache (True), compile (False), or touch neither because
    the kernels were already loaded in this process (None)? Counts since ``before``."""
    after = _cache_counts()
    if after is None:
        return None
    hits, misses = (after[0] - before[0], after[1] - before[1]) if before is not None else after
    if misses:
        return False
    return True if hits else None


def _run_tiny(precisions) -> None:
    """One tick through a tiny network in each of ``precisions`` and an event classifier (learning
    on, spikes recorded)."""
    from streams.events import make_events
    from streams.ticks import TickChunk

    from ..network import Network
    from ..readouts.classifier import EventClassifier

    for precision in precisions:  # one compiled variant per precision (the presets run in float32)
        net = Network.from_spec(WARM_NET, seed=0, precision=precision)
        chunk = TickChunk(0, net.dt_us, make_events([1], [1], [0], [0]), np.array([0, 1], np.int64),
                          np.array([0], np.int64), np.array([0], np.int64))
        result = net.run(chunk, record=True)
    classifier = EventClassifier(net.top.n_neurons, 2, eta=0.01, w_init_mean=0.5, w_init_std=0.1)
    classifier.process(result, chunk, net, True)


def warm_up_kernels(announce: Optional[Callable[[str], None]] = None,
                    precision: Optional[str] = None) -> WarmUp:
    """Load or compile every kernel once in this process (see the module docstring), for networks of
    ``precision`` (``None``: both; loading a variant costs memory, so a command that knows its
    network's precision names it). ``announce`` receives :data:`COMPILE_NOTICE` before the wait when
    the cache is cold, then one line saying how long it took. Later calls in the same process for a
    precision already warm return the first call's outcome at once."""
    global _done
    from ..kernels.precision import PRECISIONS

    wanted = tuple(PRECISIONS) if precision is None else (precision,)
    with _lock:
        todo = tuple(p for p in wanted if p not in _warm_precisions)
        if _done is not None and not todo:
            return _done
        say = announce or (lambda line: None)
        cached = kernels_cached()
        announced = threading.Event()

        def notice():
            if not announced.is_set():
                announced.set()
                say(COMPILE_NOTICE)

        timer = None
        if cached is False:
            notice()
        elif cached is None:  # cannot tell: announce if the warm-up turns out to be long
            timer = threading.Timer(ANNOUNCE_AFTER_S, notice)
            timer.daemon = True
            timer.start()
        before = _cache_counts()
        t0 = time.perf_counter()
        try:
            _run_tiny(todo)
        finally:
            if timer is not None:
                timer.cancel()
        elapsed = time.perf_counter() - t0
        from_cache = _cache_outcome(before)
        if announced.is_set():
            say(f"kernels compiled in {elapsed:.1f} s (cached on disk: later runs start in about a second)")
        _warm_precisions.update(todo)
        _done = WarmUp(elapsed, from_cache, announced.is_set())
        return _done
