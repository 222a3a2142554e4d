"""A bounded first-in first-out buffer of events, with a stated policy for when it is full.

Memory is one preallocated array of ``capacity`` events, whatever the stream length. Not
thread-safe by itself: :class:`streams.live.UDPReceiver` holds a lock around it.
"""
from __future__ import annotations

import numpy as np

from ..events import EVENT_DTYPE

#: When full, discard the events that do not fit (the newest): what is buffered is never lost.
DROP_NEWEST = "drop-newest"
#: When full, discard the oldest buffered events to make room: the buffer holds the freshest input.
DROP_OLDEST = "drop-oldest"
POLICIES = (DROP_NEWEST, DROP_OLDEST)


def check_policy(on_full: str) -> str:
    if on_full not in POLICIES:
        raise ValueError(f"on_full must be one of {POLICIES}, got {on_full!r}")
    return on_full


def check_capacity(capacity: int, name: str = "buffer_events") -> int:
    if int(capacity) != capacity or capacity < 1:
        raise ValueError(f"{name} must be a positive whole number of events, got {capacity!r}")
    return int(capacity)


class EventRing:
    """Bounded FIFO of :data:`EVENT_DTYPE` events.

    ``push(events) -> n_dropped`` applies ``on_full`` (:data:`DROP_NEWEST` or :data:`DROP_OLDEST`)
    and returns how many events it discarded; ``pop(max_events)`` removes and returns the oldest
    events (a copy), at most ``max_events`` (``None``: all).
    """

    def __init__(self, capacity: int, on_full: str = DROP_OLDEST):
        self.capacity = check_capacity(capacity)
        self.on_full = check_policy(on_full)
        self._data = np.zeros(self.capacity, dtype=EVENT_DTYPE)
        self._head = 0  # index of the oldest event
        self.size = 0

    def push(self, events: np.ndarray) -> int:
        n = len(events)
        free = self.capacity - self.size
        if n <= free:
            dropped = 0
        elif self.on_full == DROP_NEWEST:
            events, dropped = events[:free], n - free
        else:
            if n >= self.capacity:  # only the newest `capacity` events can stay
                dropped = self.size + n - self.capacity
                events = events[n - self.capacity:]
                self._head, self.size = 0, 0
            else:
                dropped = n - free
                self._head = (self._head + dropped) % self.capacity
                self.size -= dropped
        self._write(events)
        return dropped

    def _write(self, events: np.ndarray) -> None:
        n = len(events)
        start = (self._head + self.size) % self.capacity
        first = min(n, self.capacity - start)
        self._data[start:start + first] = events[:first]
        self._data[: n - first] = events[first:]
        self.size += n

    def pop(self, max_events=None) -> np.ndarray:
        n = self.size if max_events is None else max(0, min(int(max_events), self.size))
        first = min(n, self.capacity - self._head)
        out = np.concatenate([self._data[self._head:self._head + first], self._data[: n - first]])
        self._head = (self._head + n) % self.capacity
        self.size -= n
        return out
