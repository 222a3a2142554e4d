"""Worker processes for embarrassingly parallel work: several seeds of one configuration, and the
shards of an evaluation. The kernels are single-threaded, so N worker processes use N cores.

- :func:`run_jobs`: ``fn(job)`` for every job on ``workers`` processes, results in job
  order; a job's exception is raised in the parent (as the same exception: stdpnet's errors pickle);
- progress: a worker's bars and notes (:class:`QueueProgress`) travel over a queue to the parent,
  which draws one bar for all workers and prints their notes (prefixed, e.g. ``seed 2: ``);
- stops: the parent's :class:`~stdpnet.experiment.loop.StopRequest` (Ctrl-C, SIGTERM, SIGHUP) is
  forwarded to the workers (:func:`worker_should_stop`), which finish their chunk, save and return;
  workers ignore SIGINT outside their own training loop, so one Ctrl-C never kills a worker mid-save;
- :func:`state_fingerprint`: a hash of a state dict, to prove that a worker restored exactly the
  state the parent holds.

Workers are *spawned* by default: a worker imports stdpnet afresh, loads the kernels from numba's
disk cache (the parent warms them up first, so workers never compile concurrently) and opens what it
needs itself; nothing but job descriptions and results crosses the process boundary. That start
costs a few seconds per worker (imports, numba's typed lists compiled per process, the cached
kernels loaded): nothing next to training a seed, but most of a short evaluation, so evaluation
workers are *forked* where the platform allows (:data:`FAST_START`): a forked worker inherits the
loaded kernels and starts at once. Workers are forked before any thread of :func:`run_jobs`
starts, and a forked worker uses no lock a parent thread could hold (it reports over its own end
of the queue only).
"""
from __future__ import annotations

import hashlib
import json
import signal
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from ..errors import ConfigError
from .loop import Progress

_WORKER: Dict[str, Any] = {}  # this process's queue and stop event, when it is a worker

#: The start method for short jobs: "fork" on Linux (workers start at once), else "spawn".
FAST_START = "fork" if sys.platform.startswith("linux") else "spawn"


def fork_is_safe() -> bool:
    """Forking copies one thread only: safe while this process runs no other thread and no library
    that keeps thread pools (JAX, Ray) is loaded; otherwise workers are spawned."""
    import threading

    return threading.active_count() == 1 and not any(m in sys.modules for m in ("jax", "jaxlib", "ray"))


def check_workers(workers: Any, what: str = "--workers") -> int:
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or int(workers) < 1:
        raise ConfigError(f"{what} must be a whole number >= 1, got {workers!r}")
    return int(workers)


# ---------------------------------------------------------------------------------------------
# worker side
# ---------------------------------------------------------------------------------------------
class _QueueBar:
    """The worker end of a bar: its total and counts go to the parent's bar (which adds the totals
    up unless it knows its total beforehand). A resumed bar's ``initial`` counts as done."""

    def __init__(self, queue, total: Optional[int], initial: int):
        self.queue = queue
        if total is not None:
            queue.put(("total", int(total)))
        if initial:
            queue.put(("update", int(initial)))

    def update(self, n: int = 1) -> None:
        if n:
            self.queue.put(("update", int(n)))

    def set_description(self, desc: str = "", refresh: bool = True) -> None:
        pass  # one bar in the parent serves every worker; epochs are told by notes

    def set_postfix(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass


class QueueProgress(Progress):
    """A worker's :class:`Progress`: bar counts and notes go to the parent over ``queue``."""

    enabled = True

    def __init__(self, queue, prefix: str = ""):
        self.queue = queue
        self.prefix = prefix

    def bar(self, total: Optional[int], desc: str, *, initial: int = 0, unit: str = "sample",
            elapsed_only: bool = False):
        return _QueueBar(self.queue, total, initial)

    def note(self, line: str) -> None:
        self.queue.put(("note", self.prefix + line))


def worker_progress(prefix: str = "") -> Progress:
    """The progress of this worker process (silent outside a worker)."""
    queue = _WORKER.get("queue")
    return QueueProgress(queue, prefix) if queue is not None else Progress()


def worker_should_stop() -> bool:
    """Whether the parent asked its workers to stop (after the current chunk, saving)."""
    event = _WORKER.get("stop")
    return bool(event is not None and event.is_set())


def _init_worker(queue, stop_event, initializer, initargs) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; see the module docstring
    _WORKER.update(queue=queue, stop=stop_event)
    if initializer is not None:
        initializer(*initargs)


# ---------------------------------------------------------------------------------------------
# parent side
# ---------------------------------------------------------------------------------------------
class _Relay:
    """A thread drawing the workers' progress on one bar of ``progress`` and printing their notes."""

    def __init__(self, queue, progress: Progress, desc: str, total: Optional[int]):
        self.queue = queue
        self.progress = progress
        self.fixed_total = total
        self.total = 0
        self.bar = progress.bar(total, desc)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            message = self.queue.get()
            if message is None:
                return
            kind, value = message
            if kind == "update" and self.bar is not None:
                self.bar.update(value)
            elif kind == "total" and self.bar is not None and self.fixed_total is None:
                self.total += value
                self.bar.total = self.total
                self.bar.refresh()
            elif kind == "note":
                self.progress.note(value)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.bar is not None:
            self.bar.close()


def run_jobs(fn: Callable[[Any], Any], jobs: Sequence[Any], *, workers: int,
             initializer: Optional[Callable] = None, initargs: tuple = (), progress: Optional[Progress] = None,
             desc: str = "", total: Optional[int] = None, should_stop: Callable[[], bool] = lambda: False,
             start_method: str = "spawn") -> List:
    """``[fn(job) for job in jobs]`` on ``workers`` processes (each first runs
    ``initializer(*initargs)``), started by ``start_method`` ("spawn", or :data:`FAST_START`).
    ``fn``, ``initializer`` and the jobs must be picklable (module-level functions, plain data).
    ``progress``: one bar of ``total`` units (``None``: the sum of what the workers' bars announce)
    and the workers' notes. ``should_stop()`` is polled; once true, workers see
    :func:`worker_should_stop` true. The first failed job's exception is raised (the jobs not
    started are cancelled)."""
    import multiprocessing as mp

    if not jobs:
        return []
    if start_method == "fork" and not fork_is_safe():
        start_method = "spawn"  # a forked child of a multithreaded process (JAX, Ray, ...) can deadlock
    ctx = mp.get_context(start_method)
    queue = ctx.Queue()
    stop_event = ctx.Event()
    relay = None
    try:
        with ProcessPoolExecutor(max_workers=max(1, min(int(workers), len(jobs))), mp_context=ctx,
                                 initializer=_init_worker,
                                 initargs=(queue, stop_event, initializer, tuple(initargs))) as pool:
            futures = [pool.submit(fn, jobs[0])]  # with fork, every worker is forked here: before our thread
            relay = _Relay(queue, progress or Progress(), desc, total)
            futures += [pool.submit(fn, job) for job in jobs[1:]]
            pending = set(futures)
            try:
                while pending:
                    done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    for f in done:
                        if f.exception() is not None:
                            raise f.exception()
                    if should_stop():
                        stop_event.set()
            except BaseException:
                stop_event.set()
                for f in pending:
                    f.cancel()
                raise
            return [f.result() for f in futures]
    finally:
        if relay is not None:
            relay.close()  # after the pool has shut down: every worker message is in the queue


# ---------------------------------------------------------------------------------------------
# state fingerprints
# ---------------------------------------------------------------------------------------------
def state_fingerprint(state: Any) -> str:
    """SHA-256 of a nested state dict: arrays by dtype, shape and bytes, everything else by value
    (numpy scalars as Python numbers), keys sorted. Equal for a state and its checkpoint round trip."""
    h = hashlib.sha256()

    def canon(o):
        if isinstance(o, dict):
            return {str(k): canon(o[k]) for k in sorted(o, key=str)}
        if isinstance(o, (list, tuple)):
            return [canon(v) for v in o]
        if isinstance(o, np.ndarray):
            a = np.ascontiguousarray(o)
            digest = hashlib.sha256(a.dtype.str.encode() + str(a.shape).encode() + a.tobytes()).hexdigest()
            return {"__array__": digest}
        if isinstance(o, np.generic):
            return o.item()
        return o

    h.update(json.dumps(canon(state), sort_keys=True, default=str).encode())
    return h.hexdigest()
