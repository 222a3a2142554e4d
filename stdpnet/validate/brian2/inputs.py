"""Feeding a stream's events into Brian2, tick by tick.

Brian2's ``SpikeGeneratorGroup`` emits at most one spike per neuron and step, while a pixel may send
several events in one tick. The twin's generator therefore has one neuron per ``(rank, pixel)``,
``rank`` being the occurrence number of the pixel's event within its tick: every event is one spike
(SPEC §1: every event of a tick is delivered in that tick). Tick ``k`` is Brian2 step ``k - t0``.

The same events, as a per-step list of (pooled) first-layer input coordinates in the chunks'
order, also feed the greedy same-tick operation of the first layer (:class:`TickInputs`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np

from ...errors import ParameterError
from .wiring import pooled_target


def event_ranks(tick_of: np.ndarray, pix: np.ndarray) -> np.ndarray:
    """Occurrence number of each event's pixel within its tick (0 for the first, 1, ...).

    Example: ticks ``[0, 0, 0, 1]``, pixels ``[5, 7, 5, 5]`` give ranks ``[0, 0, 1, 0]``.
    """
    n = len(pix)
    if n == 0:
        return np.zeros(0, np.int64)
    o = np.lexsort((np.arange(n), pix, tick_of))
    t_s, p_s = tick_of[o], pix[o]
    new_group = np.ones(n, bool)
    new_group[1:] = (t_s[1:] != t_s[:-1]) | (p_s[1:] != p_s[:-1])
    starts = np.flatnonzero(new_group)
    group_start = starts[np.cumsum(new_group) - 1]
    rank = np.empty(n, np.int64)
    rank[o] = np.arange(n) - group_start
    return rank


def canonical_chunk(chunk, sensor_size):
    """The same chunk with the events of each tick reordered by (rank, channel, row, column).

    Same events, same ticks: stdpnet delivers all of a tick's events in that tick, so only the
    floating-point summation order changes, and it then equals Brian2's for the first layer
    (Brian2 adds a step's spikes in order of generator index, ``rank * pixels + pixel``).
    ``sensor_size`` is ``(W, H, C)``.
    """
    from streams.ticks import TickChunk

    W, H, _ = sensor_size
    ev = chunk.events
    offsets = np.asarray(chunk.offsets, np.int64)
    tick_of = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    pix = (ev["p"].astype(np.int64) * H + ev["y"].astype(np.int64)) * W + ev["x"].astype(np.int64)
    rank = event_ranks(tick_of, pix)
    order = np.lexsort((pix, rank, tick_of))
    return TickChunk(chunk.start_tick, chunk.dt_us, ev[order], offsets.copy(),
                     np.asarray(chunk.sample).copy(), np.asarray(chunk.label).copy())


@dataclass
class TwinInput:
    """The input of a twin, prepared from its chunks.

    ``t0``: first tick (Brian2 step 0); ``n_ticks``; ``n_events``. Generator: ``n_generator``
    neurons, and its spikes ``generator_index`` at ``generator_step``, sorted by step then index.
    ``generator_target``: the first layer's input index each generator neuron feeds (after the
    network's input pooling), ``-1`` for none (outside the pooled input, or never firing).
    ``first_layer``: :class:`TickInputs` for the first layer's greedy operation.
    """

    t0: int
    n_ticks: int
    n_events: int
    n_generator: int
    generator_index: np.ndarray
    generator_step: np.ndarray
    generator_target: np.ndarray
    first_layer: "TickInputs"


class TickInputs:
    """Per-step input list of the first layer: pooled ``(channel, y, x)`` of every event of the
    step that falls inside the layer's input, in the chunks' order (stdpnet's scatter order)."""

    def __init__(self, c: np.ndarray, y: np.ndarray, x: np.ndarray, offsets: np.ndarray):
        self.c, self.y, self.x = c, y, x
        self.offsets = offsets

    def at(self, step: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        a, b = self.offsets[step], self.offsets[step + 1]
        return self.c[a:b], self.y[a:b], self.x[a:b], b - a


def prepare_input(net, chunks: Sequence) -> TwinInput:
    """Bin the chunks' events into Brian2 steps and map them onto generator neurons."""
    if not chunks:
        raise ParameterError("Brian2 twin: no input; pass at least one TickChunk "
                             "(e.g. from streams.tick_chunks(stream, dt_us=net.dt_us))")
    t0 = int(chunks[0].start_tick)
    W_s, H_s, C_s = net.sensor_size
    n_pix = C_s * H_s * W_s
    ticks, xs, ys, ps = [], [], [], []
    last_tick = t0 - 1
    for i, ch in enumerate(chunks):
        if int(ch.start_tick) <= last_tick:
            raise ParameterError(f"Brian2 twin: chunk {i} starts at tick {int(ch.start_tick)}, not after "
                                 f"the previous chunk's last tick {last_tick}; pass the chunks of one stream "
                                 "in time order")
        if ch.dt_us != net.dt_us:
            raise ParameterError(f"Brian2 twin: chunk {i} has dt_us={ch.dt_us} but the network's is "
                                 f"{net.dt_us}; cut the stream with tick_chunks(..., dt_us=net.dt_us)")
        off = np.asarray(ch.offsets, np.int64)
        ticks.append(int(ch.start_tick) + np.repeat(np.arange(len(off) - 1), np.diff(off)))
        ev = ch.events[off[0]:off[-1]]
        xs.append(ev["x"].astype(np.int64))
        ys.append(ev["y"].astype(np.int64))
        ps.append(ev["p"].astype(np.int64))
        last_tick = int(ch.start_tick) + len(off) - 2
    n_ticks = last_tick + 1 - t0
    step = np.concatenate(ticks) - t0
    x, y, p = np.concatenate(xs), np.concatenate(ys), np.concatenate(ps)
    if len(x) and ((x < 0) | (x >= W_s) | (y < 0) | (y >= H_s) | (p < 0) | (p >= C_s)).any():
        raise ParameterError(f"Brian2 twin: input events lie outside the network's sensor {net.sensor_size} "
                             "(W, H, C); build the network for the recording's sensor")
    pix = (p * H_s + y) * W_s + x
    rank = event_ranks(step, pix)
    gen_idx = rank * n_pix + pix
    n_gen = int(rank.max() + 1) * n_pix if len(rank) else n_pix

    # independent restatement of SPEC §5 (pooling forwards every spike; output floor(n/P), the
    # last row/column dropped): do not share with stdpnet.kernels
    _, H0, W0 = net.learning_layers[0].in_shape
    P0 = net.input_pool
    keep = ((y // P0) < H0) & ((x // P0) < W0)
    if len(step) and np.any(np.diff(step[keep]) < 0):
        raise ParameterError("Brian2 twin: events are not in tick order within a chunk; build chunks "
                             "with streams.tick_chunks")
    first_layer = TickInputs(p[keep], (y // P0)[keep], (x // P0)[keep],
                             np.searchsorted(step[keep], np.arange(n_ticks + 1), side="left").astype(np.int64))

    order = np.lexsort((gen_idx, step))
    gen_pix = np.arange(n_gen) % n_pix
    gp, gy, gx = gen_pix // (H_s * W_s), (gen_pix // W_s) % H_s, gen_pix % W_s
    target = pooled_target(gp, gy, gx, P0, H0, W0)
    never_fires = np.ones(n_gen, bool)
    never_fires[np.unique(gen_idx)] = False
    target[never_fires] = -1  # no synapses for generator neurons that never fire
    return TwinInput(t0=t0, n_ticks=n_ticks, n_events=len(x), n_generator=n_gen,
                     generator_index=gen_idx[order].astype(np.int64), generator_step=step[order],
                     generator_target=target, first_layer=first_layer)


def spike_generator(b2, inp: TwinInput, clock, dt_us: int):
    """The ``SpikeGeneratorGroup`` emitting the input events (one spike per event, tick ``k`` at
    step ``k - t0``)."""
    return b2.SpikeGeneratorGroup(inp.n_generator, inp.generator_index, inp.generator_step * (dt_us * b2.us),
                                  clock=clock, sorted=True, name="input*")
