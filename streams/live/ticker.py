"""Wall-clock ticks for live input: close ticks as real time passes, reduce input the simulator
cannot absorb, and never let the backlog grow without bound.

Time base: microseconds on the clock the events were stamped with (a
:class:`streams.live.UDPReceiver`'s ``now_us``, or :class:`streams.pacing.PacedSource`'s). Tick
``k`` covers ``[k * dt_us, (k + 1) * dt_us)`` as in :mod:`streams.ticks`. At wall time ``now``,
every tick ending at or before ``now - settle_us`` is **closed**: its events are final (the
allowance ``settle_us``, one tick by default, covers events stamped just before ``now`` but still
on their way through the receiver thread). Events that turn up for a tick already closed are
**late**: they are moved to the first open tick and counted. Events stamped after ``now`` wait
in their own tick, keeping their exact timing, as long as they are at most ``max_ahead_us``
(default 50 ms) ahead: a sender's timestamps rebased onto the receiver's clock land ahead of
arrival by the rebase's rounding up to a whole tick plus however late the sender's first datagram
arrived (the rebase takes its offset from it; a sender on a busy machine is often a few
milliseconds late). Events further ahead (a sensor clock running away) are **early**: they are
clamped to ``now + max_ahead_us`` and counted, so they cannot pile up.

**Only ticks with events cost anything.** :meth:`WallClockTicker.close` returns
:class:`streams.TickChunk` objects covering the closed ticks from the first to the last that has
events; silent stretches longer than ``max_silent_ticks`` split the output into separate chunks
whose ``start_tick`` jumps over the silence. An hour of silence is one integer subtraction.

**Lag.** ``lag_us`` is ``now`` minus the end of the oldest tick handed out by the last
:meth:`close`: how stale the simulator's input is. Ticks that ended more than ``max_lag_us``
before ``now`` are dropped with their events (``dropped_by_lag``) instead of being queued: a
simulator that falls behind skips the oldest input and stays within ``max_lag_us`` of real time.

**Reduction policy**, applied in this order to the events of each closed tick, every stage counted:

a. *downsample* to the network's input size (always): ``x // fx``, ``y // fy`` like tonic's
   ``Downsample``, with one integer factor ``max(ceil(W / Wn), ceil(H / Hn))`` for both axes by
   default (keeps the aspect ratio; pass ``factor`` to choose), polarities merged into channel 0 if
   the network has one channel. Events mapped outside the network's input are dropped.
b. *one spike per pixel and polarity per tick*: later duplicates within a tick are dropped.
   ``one_spike_per_pixel="over_cap"`` (default) applies it only to ticks that hold more than
   ``max_events_per_tick`` events; ``"always"`` or ``"never"``.
c. *rate cap*: a tick still holding more than ``max_events_per_tick`` events keeps a uniform
   random subset of that size (seeded: the same input and calls give the same output).

So a simulator that keeps up sees every event (after downsampling); reductions start only where
a tick exceeds what it can take.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from ..events import EVENT_DTYPE, SensorSize
from ..ticks import TickChunk
from .labels import MARK_DTYPE, NO_LABEL, check_marks
from .reduce import NEVER, downsample, downsample_factor, first_spike_per_pixel, over_cap, rate_cap, tick_runs

_DEDUP_MODES = ("over_cap", "always", "never")


def _size3(size, name: str) -> Tuple[int, int, int]:
    try:
        w, h, c = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (W, H, P), got {size!r}") from None
    if min(w, h, c) < 1:
        raise ValueError(f"{name} must be positive, got {size!r}")
    return w, h, c


class WallClockTicker:
    """Turn polled live events into :class:`streams.TickChunk` batches on the wall clock.

    Parameters (see the module docstring for the rules):
    ``dt_us``: tick length; ``sensor_size``: ``(W, H, P)`` of the incoming events;
    ``net_input_size``: ``(Wn, Hn, C)`` of the network's input (``C`` = P, or 1 to merge
    polarities); ``max_events_per_tick``: the rate cap (``None``: no cap); ``seed``: of the cap's
    random subsampling; ``clock``: ``() -> now`` in microseconds on the events' time base (or pass
    ``now_us`` to :meth:`close`); ``factor``: downsampling factor, an int or ``(fx, fy)``;
    ``settle_us`` (default ``dt_us``), ``max_lag_us``, ``max_silent_ticks``, ``one_spike_per_pixel``,
    ``max_ahead_us`` (default 50 ms, at least two ticks).

    Use: ``chunks = ticker.step(receiver.poll())`` in the consumer loop, then run each chunk.
    Label marks (:data:`streams.live.MARK_DTYPE`, e.g. from a :class:`streams.live.LabelReceiver`)
    given to :meth:`push_marks` fill the chunks' ``sample`` and ``label``: a tick takes the latest
    mark at or before its start (-1 before any mark).
    """

    def __init__(
        self,
        dt_us: int,
        sensor_size: SensorSize,
        net_input_size: SensorSize,
        max_events_per_tick: Optional[int] = None,
        seed: int = 0,
        *,
        clock: Optional[Callable[[], int]] = None,
        factor: Union[int, Tuple[int, int], None] = None,
        one_spike_per_pixel: str = "over_cap",
        settle_us: Optional[int] = None,
        max_lag_us: int = 1_000_000,
        max_silent_ticks: int = 1000,
        max_ahead_us: Optional[int] = None,
    ):
        if int(dt_us) != dt_us or dt_us <= 0:
            raise ValueError(f"dt_us must be a positive whole number of microseconds, got {dt_us!r}")
        self.dt_us = int(dt_us)
        self.sensor_size = _size3(sensor_size, "sensor_size")
        self.net_input_size = _size3(net_input_size, "net_input_size")
        if self.net_input_size[2] not in (1, self.sensor_size[2]):
            raise ValueError(
                f"the network has {self.net_input_size[2]} input channel(s) and the sensor "
                f"{self.sensor_size[2]} polarities: use as many channels as polarities, or 1 to merge them"
            )
        if factor is None:
            factor = downsample_factor(self.sensor_size, self.net_input_size)
        self.factor = (int(factor), int(factor)) if np.isscalar(factor) else tuple(int(f) for f in factor)
        if len(self.factor) != 2 or min(self.factor) < 1:
            raise ValueError(f"factor must be a positive int or (fx, fy), got {factor!r}")
        if max_events_per_tick is not None and (int(max_events_per_tick) != max_events_per_tick or max_events_per_tick < 1):
            raise ValueError(f"max_events_per_tick must be a positive integer or None, got {max_events_per_tick!r}")
        self.max_events_per_tick = None if max_events_per_tick is None else int(max_events_per_tick)
        if one_spike_per_pixel not in _DEDUP_MODES:
            raise ValueError(f"one_spike_per_pixel must be one of {_DEDUP_MODES}, got {one_spike_per_pixel!r}")
        self.one_spike_per_pixel = one_spike_per_pixel
        self.settle_us = self.dt_us if settle_us is None else int(settle_us)
        self.max_lag_us = int(max_lag_us)
        self.max_silent_ticks = int(max_silent_ticks)
        self.max_ahead_us = max(50_000, 2 * self.dt_us) if max_ahead_us is None else int(max_ahead_us)
        if self.max_ahead_us < 0:
            raise ValueError(f"max_ahead_us must be >= 0, got {max_ahead_us!r}")
        if self.settle_us < 0 or self.max_silent_ticks < 0 or self.max_lag_us <= self.settle_us:
            raise ValueError(
                f"need settle_us >= 0, max_silent_ticks >= 0 and max_lag_us > settle_us; got settle_us="
                f"{self.settle_us}, max_silent_ticks={self.max_silent_ticks}, max_lag_us={self.max_lag_us}"
            )
        self.clock = clock
        self.rng = np.random.default_rng(seed)
        self._last_tick = np.full(int(np.prod(self.net_input_size)), NEVER, dtype=np.int64)
        self.next_tick = 0  # the first tick not yet closed
        self._pending: List[np.ndarray] = []
        self._marks = np.zeros(0, dtype=MARK_DTYPE)
        self._mark_in_force = (NO_LABEL, NO_LABEL)  # (index, label) of the latest mark already passed
        self._mark_in_force_t: Optional[int] = None
        self.lag_us = 0
        self.max_lag_seen_us = 0
        self._counts = dict(
            pushed=0, early=0, late=0, dropped_by_lag=0,
            closed=0, after_downsample=0, after_one_per_pixel=0, after_rate_cap=0,
            ticks_closed=0, ticks_emitted=0, ticks_over_cap=0, chunks=0,
        )

    # ---- input ----------------------------------------------------------------------------------
    def push(self, events: np.ndarray) -> None:
        """Queue polled events (:data:`EVENT_DTYPE`, on the ticker's time base) until their tick closes."""
        if len(events):
            self._pending.append(np.asarray(events, dtype=EVENT_DTYPE))
            self._counts["pushed"] += len(events)

    def push_marks(self, marks: np.ndarray) -> None:
        """Queue label marks (:data:`streams.live.MARK_DTYPE`; field ``t`` on the ticker's time base)."""
        marks = check_marks(marks, "WallClockTicker.push_marks")
        if self._mark_in_force_t is not None:  # older than a mark already applied: superseded
            marks = marks[marks["t"] >= self._mark_in_force_t]
        if len(marks):
            merged = np.concatenate([self._marks, marks])
            self._marks = merged[np.argsort(merged["t"], kind="stable")]

    def step(self, events: np.ndarray, now_us: Optional[int] = None) -> List[TickChunk]:
        """:meth:`push` then :meth:`close`."""
        self.push(events)
        return self.close(now_us)

    def feed(self, source, max_events: Optional[int] = None) -> List[TickChunk]:
        """One consumer step on a live source: ``events, until = source.drain(max_events)``, then
        :meth:`step` with ``now_us = until`` (the time up to which the source's input is complete).

        ``source``: a :class:`streams.live.UDPReceiver` or a :class:`streams.pacing.PacedSource`.
        Push label marks first (:meth:`push_marks`), so the ticks closed now carry them.
        """
        events, until_us = source.drain(max_events)
        return self.step(events, until_us)

    # ---- output ---------------------------------------------------------------------------------
    def close(self, now_us: Optional[int] = None) -> List[TickChunk]:
        """Close every tick ending at or before ``now_us - settle_us``; return their chunks."""
        now = self._now(now_us)
        dt = self.dt_us
        end_tick = (now - self.settle_us) // dt
        if end_tick <= self.next_tick:
            return []
        lag_tick = (now - self.max_lag_us) // dt  # ticks before it ended more than max_lag_us ago
        events, times = self._take_pending(now)  # sorted by time, early events clamped to now
        first_kept = int(np.searchsorted(times, lag_tick * dt))  # events of ticks < lag_tick go
        first_on_time = max(first_kept, int(np.searchsorted(times, self.next_tick * dt)))
        first_pending = int(np.searchsorted(times, end_tick * dt))  # ticks >= end_tick stay open
        self._pending = [events[first_pending:]] if first_pending < len(events) else []
        closed = events[first_kept:first_pending]
        n_late = first_on_time - first_kept
        if n_late:  # already closed: into the first open tick (stays sorted: they were the oldest)
            closed = closed.copy()
            closed["t"][:n_late] = self.next_tick * dt
        self._counts["dropped_by_lag"] += first_kept
        self._counts["late"] += n_late
        self._counts["ticks_closed"] += end_tick - self.next_tick
        self._counts["closed"] += len(closed)
        events, ticks = self._reduce(closed, closed["t"] // dt)
        chunks = self._chunks(events, ticks)
        self._advance_marks(end_tick)
        self.next_tick = end_tick
        if chunks:
            self.lag_us = now - (chunks[0].start_tick + 1) * dt
            self.max_lag_seen_us = max(self.max_lag_seen_us, self.lag_us)
        return chunks

    def counters(self) -> Dict[str, int]:
        """Counts since construction (events unless named ``ticks_``/``chunks``), plus the lag.

        ``pushed`` events went in; ``dropped_by_lag`` were too old; ``closed`` entered the
        reduction; ``after_downsample``, ``after_one_per_pixel``, ``after_rate_cap`` survived each
        stage (the last is what the chunks hold); ``early``/``late`` were re-timed, not dropped.
        ``ticks_over_cap``: closed ticks that held more than ``max_events_per_tick`` after
        downsampling. ``lag_us``/``max_lag_us``: the last and the worst lag.
        """
        counts = dict(self._counts)
        counts["pending"] = sum(len(p) for p in self._pending)
        counts["lag_us"] = self.lag_us
        counts["max_lag_us"] = self.max_lag_seen_us
        return counts

    # ---- steps of close() -----------------------------------------------------------------------
    def _now(self, now_us: Optional[int]) -> int:
        if now_us is not None:
            return int(now_us)
        if self.clock is None:
            raise ValueError("WallClockTicker has no clock: pass clock= (e.g. receiver.now_us) or now_us to close()")
        return int(self.clock())

    def _take_pending(self, now: int) -> Tuple[np.ndarray, np.ndarray]:
        """The queued events, sorted by time with early ones clamped to ``now``, and their times
        as a contiguous array (searchsorted on the strided field would copy it on every call)."""
        if not self._pending:
            return np.zeros(0, dtype=EVENT_DTYPE), np.zeros(0, dtype=np.int64)
        events = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending)
        self._pending = []
        times = np.ascontiguousarray(events["t"])
        if len(times) > 1 and np.any(times[1:] < times[:-1]):
            order = np.argsort(times, kind="stable")
            events, times = events[order], times[order]
        n_early = len(times) - int(np.searchsorted(times, now + self.max_ahead_us, side="right"))
        if n_early:  # a clock running away: clamp to the bound (they were the newest: still sorted)
            events = events.copy()
            events["t"][len(events) - n_early:] = now + self.max_ahead_us
            times[len(times) - n_early:] = now + self.max_ahead_us
            self._counts["early"] += n_early
        return events, times

    def _reduce(self, events: np.ndarray, ticks: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Stages a, b, c of the reduction policy (:mod:`streams.live.reduce`), each counted."""
        events, ticks = downsample(events, ticks, self.factor, self.net_input_size)
        self._counts["after_downsample"] += len(events)
        cap = self.max_events_per_tick
        crowded = over_cap(ticks, cap)
        if crowded.any():
            self._counts["ticks_over_cap"] += len(tick_runs(ticks[crowded])[0])
        if self.one_spike_per_pixel == "always" or (self.one_spike_per_pixel == "over_cap" and crowded.any()):
            candidate = np.ones(len(ticks), dtype=bool) if self.one_spike_per_pixel == "always" else crowded
            keep = first_spike_per_pixel(events, ticks, candidate, self.net_input_size, self._last_tick)
            events, ticks = events[keep], ticks[keep]
        self._counts["after_one_per_pixel"] += len(events)
        if cap is not None:
            kept = rate_cap(ticks, cap, self.rng)
            if len(kept) < len(ticks):
                events, ticks = events[kept], ticks[kept]
        self._counts["after_rate_cap"] += len(events)
        return events, ticks

    def _chunks(self, events: np.ndarray, ticks: np.ndarray) -> List[TickChunk]:
        """One chunk per run of event ticks whose silent gaps are at most ``max_silent_ticks``."""
        if not len(ticks):
            return []
        active = np.unique(ticks)
        breaks = np.flatnonzero(np.diff(active) > self.max_silent_ticks + 1)
        run_first = active[np.r_[0, breaks + 1]]
        run_last = active[np.r_[breaks, len(active) - 1]]
        chunks = []
        for first, last in zip(run_first.tolist(), run_last.tolist()):
            edges = np.searchsorted(ticks, np.arange(first, last + 2), side="left")
            sample, label = self._labels_of(np.arange(first, last + 1))
            chunks.append(TickChunk(
                start_tick=first,
                dt_us=self.dt_us,
                events=events[edges[0]:edges[-1]],
                offsets=edges - edges[0],
                sample=sample,
                label=label,
            ))
        self._counts["chunks"] += len(chunks)
        self._counts["ticks_emitted"] += int(sum(c.n_ticks for c in chunks))
        return chunks

    def _labels_of(self, ticks: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """``(sample, label)`` of each tick: the latest mark at or before the tick's start."""
        index_in_force, label_in_force = self._mark_in_force
        if not len(self._marks):
            return np.full(len(ticks), index_in_force, np.int64), np.full(len(ticks), label_in_force, np.int64)
        which = np.searchsorted(self._marks["t"], ticks * self.dt_us, side="right") - 1
        before = which < 0
        which = np.maximum(which, 0)
        sample = np.where(before, index_in_force, self._marks["index"][which])
        label = np.where(before, label_in_force, self._marks["label"][which])
        return sample.astype(np.int64), label.astype(np.int64)

    def _advance_marks(self, end_tick: int) -> None:
        """Forget marks that no open tick can need; the latest of them stays in force."""
        passed = int(np.searchsorted(self._marks["t"], end_tick * self.dt_us, side="right"))
        if passed:
            last = self._marks[passed - 1]
            self._mark_in_force = (int(last["index"]), int(last["label"]))
            self._mark_in_force_t = int(last["t"])
            self._marks = self._marks[passed:]
