"""Real-time pacing of a stream, as if it came live from a sensor."""
from __future__ import annotations

import math
import time
from typing import Callable, Iterable, Iterator, TypeVar

from .ticks import TickChunk

Item = TypeVar("Item")


def stream_end_us(item) -> int:
    """Stream time (microseconds) at which ``item`` is complete: the end of a :class:`TickChunk`'s
    last tick, or a :class:`streams.Segment`'s ``t_end``."""
    if isinstance(item, TickChunk):
        return (item.start_tick + item.n_ticks) * item.dt_us
    if hasattr(item, "t_end"):
        return int(item.t_end)
    raise TypeError(f"cannot pace {type(item).__name__}: expected a TickChunk or a Segment")


class RealTimeReplay:
    """Release TickChunks (or Segments) at real time, or ``speed`` times real time.

    A live sensor can only deliver the events of a chunk once the chunk's time span is over, so
    each item is released when the wall clock, counted from the start of iteration, reaches the
    item's end in stream time divided by ``speed`` (``speed=2``: twice as fast as real time).
    If the consumer falls behind, items are released at once (no catching up by skipping);
    ``late_items`` counts them and ``max_lag_s`` records the worst delay.

    ``clock`` (seconds, monotonic) and ``sleep`` (seconds) are injectable, so tests can run on a
    fake clock without actually sleeping.
    """

    def __init__(
        self,
        chunks: Iterable[Item],
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not (speed > 0 and math.isfinite(speed)):
            raise ValueError(f"speed must be a positive finite factor, got {speed}")
        self.chunks = chunks
        self.speed = float(speed)
        self.clock = clock
        self.sleep = sleep
        self.late_items = 0
        self.max_lag_s = 0.0

    def __iter__(self) -> Iterator[Item]:
        self.late_items = 0
        self.max_lag_s = 0.0
        wall_start = self.clock()
        for item in self.chunks:
            due = wall_start + stream_end_us(item) * 1e-6 / self.speed
            wait = due - self.clock()
            if wait > 0:
                self.sleep(wait)
            elif wait < 0:
                self.late_items += 1
                self.max_lag_s = max(self.max_lag_s, -wait)
            yield item
