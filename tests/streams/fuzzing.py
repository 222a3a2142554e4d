"""Bad-input fuzzing of the event file readers: mutations of real sample files, outcome classes,
and a guarded worker process that survives crashes and hangs of the code under test.

Used by ``tests/streams/test_bad_input.py`` (hypothesis, in-process) and by
``benchmarks/fuzz_readers.py`` (counts per outcome class, every case in a worker subprocess).

A *case* is a format (``FORMATS``), a :class:`Mutation` of that format's sample file and the
``on_bad`` mode. Reading the mutated file must end in one of two outcome classes:

* ``clear error``: :class:`streams.EventStreamError` whose message names the file;
* ``documented result``: ``(events, sensor_size)`` with :data:`streams.EVENT_DTYPE` events inside
  the sensor and timestamps never going backwards (possibly a partial read announced by an
  :class:`streams.EventStreamWarning` when ``on_bad="drop"``).

Anything else is a failure: ``unclear error`` (our error without the file name), ``other
exception`` (any other exception type), ``invalid result`` (returned events break the contract),
``crash`` (the worker process died, e.g. a segfault in a native decoder) and ``hang`` (no answer
within the time limit).
"""
from __future__ import annotations

import io
import json
import os
import selectors
import signal
import struct
import subprocess
import sys
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

import streams

CLEAR_ERROR = "clear error"
DOCUMENTED_RESULT = "documented result"
UNCLEAR_ERROR = "unclear error"
OTHER_EXCEPTION = "other exception"
INVALID_RESULT = "invalid result"
CRASH = "crash"
HANG = "hang"
GOOD_OUTCOMES = (CLEAR_ERROR, DOCUMENTED_RESULT)
OUTCOMES = (CLEAR_ERROR, DOCUMENTED_RESULT, UNCLEAR_ERROR, OTHER_EXCEPTION, INVALID_RESULT, CRASH, HANG)

#: Format name -> sample file in ``<data>/samples`` it starts from (npy/npz are made from the
#: N-MNIST sample with ``streams.save_events``).
SAMPLE_FILES: Dict[str, str] = {
    "nmnist": "sample_nmnist.bin",
    "aedat4": "sample.aedat4",
    "aedat2": "mnist_dvs_0_scale04_0001.aedat",
    "evt2": "prophesee_evt2_sample.raw",
    "evt3": "prophesee_evt3_sample.raw",
    "dat": "sample_ncars.dat",
    "npy": "sample_nmnist.bin",
    "npz": "sample_nmnist.bin",
}
FORMATS = tuple(SAMPLE_FILES)
SUFFIXES = {"nmnist": ".bin", "aedat4": ".aedat4", "aedat2": ".aedat", "evt2": ".raw", "evt3": ".raw",
            "dat": ".dat", "npy": ".npy", "npz": ".npz"}

#: Largest prefix of a sample file used as the fuzzing seed (keeps every case fast; always cut
#: at a record boundary, so the seed itself is a valid file).
MAX_SEED_BYTES = 64 * 1024


# --------------------------------------------------------------------------------------------
# Seed files and their layout
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """Where the header ends and where records start in a seed file."""

    data: bytes
    header_end: int
    boundaries: Tuple[int, ...]  # byte offsets at which a record starts (and the file end)


def _text_header_end(data: bytes, prefix: bytes) -> int:
    position = 0
    while data.startswith(prefix, position):
        newline = data.find(b"\n", position)
        if newline < 0:
            return len(data)
        position = newline + 1
    return position


def _fixed_records(data: bytes, header_end: int, record: int) -> Layout:
    n = min((len(data) - header_end) // record, (MAX_SEED_BYTES - header_end) // record)
    data = data[: header_end + n * record]
    return Layout(data, header_end, tuple(range(header_end, header_end + n * record + 1, record)))


def _aedat4_layout(data: bytes) -> Layout:
    """The whole file (its IOHeader points at a file data table at the end, so no prefix of it is
    complete); boundaries are the packet starts up to that table."""
    header_end = 18 + struct.unpack_from("<I", data, 14)[0]
    boundaries = [header_end]
    position = header_end
    while position + 8 <= len(data):
        size = struct.unpack_from("<I", data, position + 4)[0]
        if position + 8 + size > len(data):
            break
        position += 8 + size
        boundaries.append(position)
    return Layout(data, header_end, tuple(boundaries))


def _npy_bytes(events: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, events, allow_pickle=False)
    return buffer.getvalue()


def _npy_layout(events: np.ndarray) -> Layout:
    data = _npy_bytes(events)
    header_end = len(data) - events.nbytes
    return Layout(data, header_end, tuple(range(header_end, len(data) + 1, events.dtype.itemsize)))


def _npz_layout(events: np.ndarray) -> Layout:
    buffer = io.BytesIO()
    np.savez(buffer, events=events, sensor_size=np.asarray([34, 34, 2], dtype=np.int64))
    data = buffer.getvalue()
    member = zipfile.ZipFile(io.BytesIO(data)).getinfo("events.npy")
    name_length, extra_length = struct.unpack_from("<HH", data, member.header_offset + 26)
    member_start = member.header_offset + 30 + name_length + extra_length
    npy_header = len(_npy_bytes(events)) - events.nbytes
    header_end = member_start + npy_header
    record = events.dtype.itemsize
    return Layout(data, header_end, tuple(range(header_end, header_end + events.nbytes + 1, record)))


def seed_layout(fmt: str, samples_dir: Path) -> Layout:
    """The seed file of ``fmt`` (a valid prefix of its real sample file) and its layout."""
    data = (Path(samples_dir) / SAMPLE_FILES[fmt]).read_bytes()
    if fmt == "nmnist":
        return _fixed_records(data, 0, 5)
    if fmt == "aedat2":
        return _fixed_records(data, _text_header_end(data, b"#"), 8)
    if fmt == "evt2":
        return _fixed_records(data, _text_header_end(data, b"%"), 4)
    if fmt == "evt3":
        return _fixed_records(data, _text_header_end(data, b"%"), 2)
    if fmt == "dat":
        header_end = _text_header_end(data, b"%") + 2
        return _fixed_records(data, header_end, 8)
    if fmt == "aedat4":
        return _aedat4_layout(data)
    events = streams.read_events(Path(samples_dir) / SAMPLE_FILES[fmt])[0]
    return _npy_layout(events) if fmt == "npy" else _npz_layout(events)


# --------------------------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------------------------
MUTATION_KINDS = (
    "cut at record",       # truncation at a record boundary
    "cut inside record",   # truncation at a random point inside a record
    "cut inside header",   # truncation inside the header
    "random bytes",        # the whole file is random bytes
    "random body",         # the header is kept, the body is random bytes
    "flip bytes",          # a few bytes anywhere replaced by random values
    "flip header bytes",   # a few bytes of the header replaced
    "flip bits",           # single bits flipped anywhere
)


@dataclass(frozen=True)
class Mutation:
    """How to damage a seed file: ``kind`` (one of :data:`MUTATION_KINDS`) and its numbers."""

    kind: str
    numbers: Tuple[int, ...] = ()

    def apply(self, layout: Layout) -> bytes:
        data = layout.data
        k, n = self.kind, self.numbers
        if k in ("cut at record", "cut inside record", "cut inside header"):
            return data[: n[0]]
        if k == "random bytes":
            return np.random.default_rng(n[1]).integers(0, 256, n[0], dtype=np.uint8).tobytes()
        if k == "random body":
            body = np.random.default_rng(n[1]).integers(0, 256, n[0], dtype=np.uint8).tobytes()
            return data[: layout.header_end] + body
        if k in ("flip bytes", "flip header bytes"):
            out = bytearray(data)
            for position, value in zip(n[0::2], n[1::2]):
                out[position] = value
            return bytes(out)
        if k == "flip bits":
            out = bytearray(data)
            for position, bit in zip(n[0::2], n[1::2]):
                out[position] ^= 1 << bit
            return bytes(out)
        raise ValueError(f"unknown mutation kind {k!r}")


def draw_mutation(layout: Layout, draw_int: Callable[[int, int], int], kind: Optional[str] = None) -> Mutation:
    """A mutation of ``layout``; ``draw_int(lo, hi)`` draws an int in ``[lo, hi]`` (from hypothesis
    or a seeded ``random.Random``), ``kind`` fixes the kind."""
    if kind is None:
        kind = MUTATION_KINDS[draw_int(0, len(MUTATION_KINDS) - 1)]
    data, header_end, boundaries = layout.data, layout.header_end, layout.boundaries
    size = len(data)
    if kind == "cut at record":
        return Mutation(kind, (boundaries[draw_int(0, len(boundaries) - 1)],))
    if kind == "cut inside record":
        i = draw_int(0, max(len(boundaries) - 2, 0))
        start = boundaries[i]
        end = boundaries[i + 1] if i + 1 < len(boundaries) else start + 1
        return Mutation(kind, (min(start + draw_int(1, max(end - start - 1, 1)), size),))
    if kind == "cut inside header":
        return Mutation(kind, (draw_int(1, max(header_end - 1, 1)),))
    if kind == "random bytes":
        return Mutation(kind, (draw_int(1, 4096), draw_int(0, 2**31)))
    if kind == "random body":
        return Mutation(kind, (draw_int(0, 4096), draw_int(0, 2**31)))
    if kind in ("flip bytes", "flip header bytes"):
        limit = size - 1 if kind == "flip bytes" else max(header_end - 1, 0)
        numbers: List[int] = []
        for _ in range(draw_int(1, 8)):
            numbers += [draw_int(0, limit), draw_int(0, 255)]
        return Mutation(kind, tuple(numbers))
    if kind == "flip bits":
        numbers = []
        for _ in range(draw_int(1, 8)):
            numbers += [draw_int(0, size - 1), draw_int(0, 7)]
        return Mutation(kind, tuple(numbers))
    raise ValueError(f"unknown mutation kind {kind!r}")


# --------------------------------------------------------------------------------------------
# Outcome of one read
# --------------------------------------------------------------------------------------------
def check_result(events, sensor_size) -> Optional[str]:
    """``None`` if ``read_events``' return value keeps its contract, else what is wrong."""
    if not isinstance(events, np.ndarray) or events.dtype != streams.EVENT_DTYPE or events.ndim != 1:
        return f"events are not a 1-D EVENT_DTYPE array: {type(events).__name__} {getattr(events, 'dtype', '')}"
    if (not isinstance(sensor_size, tuple) or len(sensor_size) != 3
            or not all(isinstance(v, int) and v > 0 for v in sensor_size)):
        return f"bad sensor size {sensor_size!r}"
    W, H, P = sensor_size
    x, y, t, p = events["x"], events["y"], events["t"], events["p"]
    if len(events) and (x.min() < 0 or x.max() >= W or y.min() < 0 or y.max() >= H or p.min() < 0 or p.max() >= P):
        return f"events outside the sensor {sensor_size}"
    if len(events) > 1 and np.any(np.diff(t) < 0):
        return "timestamps go backwards"
    return None


def classify(path: Path, on_bad: str = "raise") -> Tuple[str, str]:
    """Read ``path`` with ``streams.read_events`` in this process: ``(outcome, detail)``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", streams.EventStreamWarning)
            events, size = streams.read_events(path, on_bad=on_bad)
    except streams.EventStreamError as error:
        message = str(error)
        return (CLEAR_ERROR if path.name in message else UNCLEAR_ERROR), message[:300]
    except Exception as error:  # noqa: BLE001 - the point is to catch what must not escape
        return OTHER_EXCEPTION, f"{type(error).__module__}.{type(error).__name__}: {str(error)[:300]}"
    except BaseException as error:  # pyo3 PanicException derives from BaseException
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        return OTHER_EXCEPTION, f"{type(error).__module__}.{type(error).__name__}: {str(error)[:300]}"
    problem = check_result(events, size)
    if problem:
        return INVALID_RESULT, problem
    return DOCUMENTED_RESULT, f"{len(events)} events, sensor {size}"


#: Outcome counts of every in-process read classified by the tests of this session, per format
#: (printed at the end of a pytest run by tests/streams/conftest.py).
SESSION_COUNTS: Dict[str, Dict[str, int]] = {}


def record(fmt: str, outcome: str) -> None:
    SESSION_COUNTS.setdefault(fmt, {o: 0 for o in OUTCOMES})[outcome] += 1


class Timeout(Exception):
    """Raised by :func:`time_limit` when the code under test runs too long."""


class time_limit:
    """Context manager: raise :class:`Timeout` after ``seconds`` (SIGALRM; main thread, Unix).

    Interrupts Python-level loops; a native call that never returns to the interpreter is only
    caught by :class:`GuardedReader`'s process timeout."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def _expire(self, signum, frame):
        raise Timeout(f"no answer within {self.seconds} s")

    def __enter__(self):
        self.previous = signal.signal(signal.SIGALRM, self._expire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous)
        return False


# --------------------------------------------------------------------------------------------
# A worker process: crashes and hangs of the code under test become outcomes, not test deaths
# --------------------------------------------------------------------------------------------
class GuardedReader:
    """Classify reads in a worker subprocess; a dead worker is a ``crash``, a silent one a ``hang``.

    The worker is restarted after either. Run from the repository root (it is started with
    ``python -m tests.streams.fuzzing --worker``, with this process's ``PYTHONPATH``; ``command``
    replaces that worker, e.g. to test the harness with a process that crashes).
    """

    def __init__(self, timeout_s: float = 30.0, cwd: Optional[Path] = None, command: Optional[List[str]] = None):
        self.timeout_s = timeout_s
        self.cwd = Path(cwd) if cwd else Path(__file__).resolve().parents[2]
        self.command = command or [sys.executable, "-m", "tests.streams.fuzzing", "--worker"]
        self.process: Optional[subprocess.Popen] = None

    def _start(self) -> None:
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.cwd), environment.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd, env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, bufsize=1,
        )

    def _stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            self.process = None

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def classify(self, path: Path, on_bad: str = "raise") -> Tuple[str, str]:
        if self.process is None or self.process.poll() is not None:
            self._start()
        assert self.process is not None
        try:
            self.process.stdin.write(json.dumps({"path": str(path), "on_bad": on_bad}) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            code = self.process.wait()
            self.process = None
            return CRASH, f"worker died before the read (exit code {code})"
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=self.timeout_s)
        selector.close()
        if not ready:
            self._stop()
            return HANG, f"no answer within {self.timeout_s} s"
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            self.process = None
            reason = f"signal {-code} ({signal.Signals(-code).name})" if code < 0 else f"exit code {code}"
            return CRASH, f"worker died: {reason}"
        answer = json.loads(line)
        return answer["outcome"], answer["detail"]


def _worker() -> None:
    """Loop of the worker process: one JSON request per line in, one JSON answer per line out."""
    for line in sys.stdin:
        request = json.loads(line)
        outcome, detail = classify(Path(request["path"]), request["on_bad"])
        sys.stdout.write(json.dumps({"outcome": outcome, "detail": detail}) + "\n")
        sys.stdout.flush()


# --------------------------------------------------------------------------------------------
# Counting report
# --------------------------------------------------------------------------------------------
def run_report(samples_dir: Path, work_dir: Path, cases_per_format: int, seed: int = 0,
               formats=FORMATS, timeout_s: float = 30.0, progress: bool = False):
    """Run ``cases_per_format`` random cases per format in a :class:`GuardedReader`.

    Returns ``(counts, failures)``: ``counts[fmt][outcome]`` and a list of
    ``(fmt, mutation, on_bad, outcome, detail)`` for every case outside :data:`GOOD_OUTCOMES`.
    """
    import random

    counts: Dict[str, Dict[str, int]] = {fmt: {o: 0 for o in OUTCOMES} for fmt in formats}
    failures = []
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    with GuardedReader(timeout_s=timeout_s) as reader:
        for fmt in formats:
            layout = seed_layout(fmt, samples_dir)
            rng = random.Random(f"{seed}-{fmt}")
            started = time.perf_counter()
            for case in range(cases_per_format):
                mutation = draw_mutation(layout, rng.randint)
                on_bad = "drop" if rng.random() < 0.3 else "raise"
                path = work_dir / f"case{case}_{fmt}{SUFFIXES[fmt]}"
                path.write_bytes(mutation.apply(layout))
                outcome, detail = reader.classify(path, on_bad)
                counts[fmt][outcome] += 1
                if outcome not in GOOD_OUTCOMES:
                    failures.append((fmt, mutation, on_bad, outcome, detail))
                path.unlink()
            if progress:
                print(f"  {fmt}: {cases_per_format} cases in {time.perf_counter() - started:.1f} s",
                      file=sys.stderr)
    return counts, failures


def format_counts(counts: Dict[str, Dict[str, int]]) -> str:
    columns = OUTCOMES
    width = max(len(c) for c in columns)
    lines = ["format   " + "  ".join(f"{c:>{width}}" for c in columns)]
    totals = {c: 0 for c in columns}
    for fmt, row in counts.items():
        lines.append(f"{fmt:<8} " + "  ".join(f"{row[c]:>{width}}" for c in columns))
        for c in columns:
            totals[c] += row[c]
    lines.append(f"{'total':<8} " + "  ".join(f"{totals[c]:>{width}}" for c in columns))
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        _worker()
    else:
        sys.exit("usage: python -m tests.streams.fuzzing --worker (see benchmarks/fuzz_readers.py)")
