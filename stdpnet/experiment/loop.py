"""The sample loop every protocol shares: a labelled stream cut into tick chunks, fed to the network
and its readout, with the figures of SPEC section 10 gathered on the way.

- :func:`make_stream`: samples laid end to end from the network's clock on, and their chunks;
- :func:`run_pass`: one pass of chunks through network and readout (keyword-only flags);
- :func:`learning_off`: a context manager that switches learning off and restores each layer's flag;
- :class:`StopRequest`: SIGINT, SIGTERM and SIGHUP ask the loop to stop after the current chunk;
- :class:`Progress`: what a long command shows while it works (bars and notes; silent by default),
  :class:`TerminalProgress` (tqdm bars and notes on stderr) and :func:`as_progress`.
"""
from __future__ import annotations

import signal
import sys
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Union

import numpy as np

import streams
from ..metrics import PassStats, RunningAccuracy

#: Signals that ask a run to stop cleanly (finish the chunk, save, exit 130).
STOP_SIGNALS = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
                     if s is not None)


class StopRequest:
    """Set by SIGINT, SIGTERM or SIGHUP while :meth:`on_signals` is active. The first signal asks
    the loop to stop after the current chunk (the caller then saves); a second SIGINT aborts at
    once (``KeyboardInterrupt``). Calling the object tells whether a stop was asked."""

    def __init__(self):
        self.requested = False
        self.signal_name: Optional[str] = None

    def __call__(self) -> bool:
        return self.requested

    def request(self, name: str = "request") -> None:
        self.requested = True
        self.signal_name = self.signal_name or name

    @contextmanager
    def on_signals(self) -> Iterator["StopRequest"]:
        def handler(signum, frame):
            if self.requested and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.request(signal.Signals(signum).name)

        previous = {}
        try:
            for s in STOP_SIGNALS:
                previous[s] = signal.signal(s, handler)
        except ValueError:  # not in the main thread: no handlers
            pass
        try:
            yield self
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


def _learning_flag(layer) -> bool:
    params = getattr(layer, "params", None)
    return bool(getattr(params, "learning", getattr(layer, "learning", True)))


@contextmanager
def learning_off(network) -> Iterator[None]:
    """Switch learning off in every layer for the ``with`` block, then give each layer back its
    own flag (a layer that was off stays off)."""
    flags = {layer.name: _learning_flag(layer) for layer in network.learning_layers}
    network.set_learning(False)
    try:
        yield
    finally:
        on = [name for name, flag in flags.items() if flag]
        if on:
            network.set_learning(True, layers=on)


def make_stream(dataset, indices: Sequence[int], network, *, gap_us: int = 0, epochs: int = 1,
                shuffle: bool = False, seed: int = 0, start_us: Optional[int] = None):
    """A lazy labelled stream of ``indices`` of ``dataset`` and its tick chunks (one per sample).
    By default it starts where the network's clock stands, so passes form one continuous stream."""
    if start_us is None:
        start_us = network.now * network.dt_us
    stream = streams.LabelledStream(dataset, indices=np.asarray(indices, np.int64), gap_us=int(gap_us),
                                    epochs=int(epochs), shuffle=shuffle, seed=int(seed), start_us=int(start_us))
    return stream, streams.tick_chunks(stream, dt_us=network.dt_us, start_tick=int(start_us) // network.dt_us)


class OutcomeTally:
    """Decisions of a pass, without keeping them: correct, silent, total, and a confusion matrix
    (rows: true class, columns: predicted class then silent) of ``n_classes`` classes."""

    def __init__(self, n_classes: int):
        self.n_classes = int(n_classes)
        self.samples = 0
        self.correct = 0
        self.silent = 0
        self.confusion = np.zeros((self.n_classes, self.n_classes + 1), np.int64)
        self.first = None  # the first decision (the figures mark it on the raster)

    def add(self, outcomes) -> None:
        for o in outcomes:
            if self.first is None:
                self.first = o
            self.samples += 1
            self.correct += int(o.correct)
            self.silent += int(o.silent)
            if 0 <= o.label < self.n_classes:
                self.confusion[o.label, o.predicted if 0 <= o.predicted < self.n_classes else self.n_classes] += 1

    def report(self) -> Dict[str, object]:
        n = self.samples
        return {"accuracy": self.correct / n if n else 0.0, "samples": n, "correct": self.correct,
                "silent": self.silent, "silent_rate": self.silent / n if n else 0.0,
                "confusion": self.confusion.tolist(),
                "confusion_columns": "predicted class 0..n-1, then silent"}


class _SampleCounter:
    """Samples begun in a pass without a readout (unlabelled): a new sample id starts a sample."""

    def __init__(self):
        self.last = -1

    def count(self, chunk) -> int:
        ids = np.asarray(chunk.sample, np.int64)
        if len(ids) == 0:
            return 0
        starts = np.concatenate(([ids[0] != self.last], ids[1:] != ids[:-1]))
        new = int(np.count_nonzero(starts & (ids >= 0)))
        self.last = int(ids[-1])
        return new


def run_pass(network, readout, chunks: Iterable, *, learn: bool, stats: PassStats,
             accuracy: Optional[RunningAccuracy] = None, tally: Optional[OutcomeTally] = None,
             progress=None, should_stop: Callable[[], bool] = lambda: False, skip_before_tick: int = 0,
             on_result: Optional[Callable] = None, record_chunks: int = 0,
             after_chunk: Optional[Callable[[], None]] = None) -> bool:
    """Feed ``chunks`` to ``network`` and ``readout``; returns True if ``should_stop`` stopped it.

    ``learn``: the readout's learning switch (the network's own flags are the caller's, see
    :func:`learning_off`). ``readout=None``: no decisions (unlabelled data); samples are counted
    as they begin. Decisions go to ``accuracy`` (the running curve) and ``tally`` (a report).
    Chunks starting before ``skip_before_tick`` are skipped (resume). The first ``record_chunks``
    chunks record every spike for ``on_result(result, chunk)``. ``after_chunk()`` runs after each
    chunk, when network and readout are between chunks (periodic checkpoints).
    """
    n_run = 0
    counter = _SampleCounter() if readout is None else None
    for chunk in chunks:
        if chunk.start_tick < skip_before_tick:
            continue
        t0 = time.perf_counter()
        result = network.run(chunk, record=n_run < record_chunks)
        n_run += 1
        done: List = readout.process(result, chunk, network, learn) if readout is not None else []
        stats.add_chunk(len(chunk.events), chunk.n_ticks, time.perf_counter() - t0, result.counts)
        n_samples = len(done) if readout is not None else counter.count(chunk)
        stats.samples += n_samples
        if accuracy is not None and done:
            accuracy.add(done, {"events_per_s": stats.events / max(stats.wall_s, 1e-9)})
        if tally is not None and done:
            tally.add(done)
        if on_result is not None:
            on_result(result, chunk)
        if progress is not None:
            progress.update(n_samples)
            post = {"ev/s": f"{stats.events / max(stats.wall_s, 1e-9):,.0f}"}
            if accuracy is not None:
                post["acc"] = f"{accuracy.value:.3f}"
            progress.set_postfix(post, refresh=False)
        if after_chunk is not None:
            after_chunk()
        if should_stop():
            return True
    return False


def close_pass(network, readout, *, stats: PassStats, accuracy: Optional[RunningAccuracy] = None,
               tally: Optional[OutcomeTally] = None, progress=None) -> None:
    """End of a stream: the readout decides the sample still open (and ``progress`` counts it, so
    a bar reaches N/N)."""
    if readout is None:
        return
    last = readout.flush(network)
    stats.samples += len(last)
    if accuracy is not None:
        accuracy.add(last)
    if tally is not None:
        tally.add(last)
    if progress is not None and last:
        progress.update(len(last))


class Progress:
    """What a long command shows while it works. This base class shows nothing (``--quiet``, tests,
    library use); :class:`TerminalProgress` draws tqdm bars on stderr, and
    :class:`stdpnet.experiment.parallel.QueueProgress` relays a worker process's progress to its parent.

    :meth:`bar` returns an object with tqdm's ``update(n)``, ``set_description(text)``,
    ``set_postfix(dict, refresh=False)`` and ``close()``, or ``None`` (no bar); ``elapsed_only``: show
    only the elapsed time (work that cannot tell how far it is). :meth:`note` shows one line of news
    (a compile announcement, an epoch done) without garbling a bar."""

    enabled = False

    def bar(self, total: Optional[int], desc: str, *, initial: int = 0, unit: str = "sample",
            elapsed_only: bool = False):
        return None

    def note(self, line: str) -> None:
        pass


class TerminalProgress(Progress):
    """tqdm bars and notes on stderr; ``prefix`` starts every description and note (e.g. ``seed 2: ``)."""

    enabled = True

    def __init__(self, prefix: str = "", file=None):
        self.prefix = prefix
        self.file = file

    def bar(self, total: Optional[int], desc: str, *, initial: int = 0, unit: str = "sample",
            elapsed_only: bool = False):
        from tqdm import tqdm

        return tqdm(total=total, desc=self.prefix + desc, initial=int(initial), unit=unit, dynamic_ncols=True,
                    file=self.file or sys.stderr, bar_format="{desc}: {elapsed} elapsed" if elapsed_only else None)

    def note(self, line: str) -> None:
        from tqdm import tqdm

        tqdm.write(self.prefix + line, file=self.file or sys.stderr)


def as_progress(progress: Union[bool, None, Progress]) -> Progress:
    """``True``: bars on the terminal; ``False``/``None``: nothing; a :class:`Progress`: itself."""
    if isinstance(progress, Progress):
        return progress
    return TerminalProgress() if progress else Progress()


def progress_bar(total: int, desc: str, enabled: Union[bool, Progress], *, initial: int = 0):
    """A bar of ``total`` samples from ``enabled`` (see :func:`as_progress`), or None."""
    return as_progress(enabled).bar(total, desc, initial=initial)


def close_bar(bar: Any) -> None:
    if bar is not None:
        bar.close()


@contextmanager
def elapsed_indicator(progress: Progress, desc: str, every_s: float = 1.0) -> Iterator[None]:
    """For work that reports no progress of its own: a bar without a total showing the elapsed
    seconds, ticked by a background thread while the ``with`` block runs (nothing if ``progress``
    shows no bars)."""
    import threading

    bar = progress.bar(None, desc, unit="s", elapsed_only=True)
    if bar is None:
        yield
        return
    done = threading.Event()
    start = time.monotonic()

    def tick():
        shown = 0
        while not done.wait(every_s):
            now = int(time.monotonic() - start)
            bar.update(now - shown)
            shown = now

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        bar.close()
