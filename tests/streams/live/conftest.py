"""Shared helpers of the live-input tests: a fake nanosecond clock, and bounded waiting."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import streams


class FakeClock:
    """A nanosecond clock that moves only when told to (``advance``) or slept on (``sleep``, seconds).

    Thread-safe: receiver threads read it while the test moves it.
    """

    def __init__(self, start_ns: int = 0):
        self._ns = int(start_ns)
        self._lock = threading.Lock()
        self.sleeps = []

    def __call__(self) -> int:
        with self._lock:
            return self._ns

    def advance(self, ns: int) -> None:
        with self._lock:
            self._ns += int(ns)

    def set(self, ns: int) -> None:
        with self._lock:
            self._ns = int(ns)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(round(seconds * 1e9))


@pytest.fixture
def fake_clock():
    return FakeClock()


def wait_until(condition, timeout_s: float = 5.0, what: str = "condition"):
    """Poll ``condition()`` every millisecond until true; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.001)


def grid_events(n: int, sensor=(34, 34, 2), t_step_us: int = 10, t0: int = 0) -> np.ndarray:
    """``n`` events walking over every pixel and polarity of ``sensor``, ``t_step_us`` apart."""
    w, h, p = sensor
    i = np.arange(n)
    return streams.make_events(i % w, (i // w) % h, t0 + i * t_step_us, (i // (w * h)) % p)
