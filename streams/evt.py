"""Prophesee EVT 2.0 and EVT 3.0 decoders: vectorised numpy, one block of words at a time.

We decode these formats ourselves instead of calling ``expelliarmus`` (a C library: it prints to
stderr and returns nothing on an unknown word, cannot read a truncated file partially, and could
only be guarded from outside against memory errors on corrupt input). The decoders give the same
x, y, p as ``expelliarmus.Wizard`` on the sample recordings, and the same t for EVT 2.0. For
EVT 3.0, expelliarmus 1.1 also adds 4096 us every time ``time_low`` decreases, on top of the
``time_high`` that already carries the wrap (so its clock runs fast: 53.9 ms instead of 8.8 ms on
``prophesee_evt3_sample.raw``); here ``t = time_high << 12 | time_low``, as Prophesee specifies.
The decoders never index outside their input, whatever the bytes.

EVT 2.0, 32-bit little-endian words, type in bits 31..28:

* ``0x0`` CD_OFF / ``0x1`` CD_ON: ``t_low`` bits 27..22, ``x`` bits 21..11, ``y`` bits 10..0,
  ``p`` = type. Timestamp ``t = time_high << 6 | t_low``;
* ``0x8`` EVT_TIME_HIGH: ``time_high`` bits 27..0;
* ``0xA`` EXT_TRIGGER, ``0xE`` OTHERS, ``0xF`` CONTINUED: no pixel event (skipped).

EVT 3.0, 16-bit little-endian words, type in bits 15..12, payload bits 11..0 (state machine):

* ``0x0`` EVT_ADDR_Y: ``y`` = bits 10..0;
* ``0x2`` EVT_ADDR_X: one event at ``x`` = bits 10..0, ``p`` = bit 11;
* ``0x3`` VECT_BASE_X: vector base ``x`` = bits 10..0 and polarity = bit 11;
* ``0x4`` VECT_12 / ``0x5`` VECT_8: an event at ``base + i`` for every set bit ``i`` of the 12 (8)
  payload bits, then ``base += 12`` (8);
* ``0x6`` EVT_TIME_LOW: ``time_low`` (12 bits); ``0x8`` EVT_TIME_HIGH: ``time_high`` (12 bits;
  cameras also resend it unchanged, so it leaves ``time_low`` as it is).
  Timestamp ``t = time_high << 12 | time_low``;
* ``0x7`` CONTINUED_4, ``0xA`` EXT_TRIGGER, ``0xE`` OTHERS, ``0xF`` CONTINUED_12: skipped.

Time-high wrap-around (as Metavision decodes it): when ``time_high`` drops by at least its full
range minus 10 steps, the counter has looped and ``2**bits`` is added from there on.
Any other word type is *unknown*: the decoders count it (the reader raises or drops).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Tuple

import numpy as np

EVT2_WORD = np.dtype("<u4")
EVT3_WORD = np.dtype("<u2")
EVT2_KNOWN_TYPES = (0x0, 0x1, 0x8, 0xA, 0xE, 0xF)
EVT3_KNOWN_TYPES = (0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0xA, 0xE, 0xF)
_LOOP_MARGIN = 10  # time-high steps: a drop within this of a full loop counts as a wrap-around

Columns = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class DecoderState:
    """What a decoder carries from one block of words to the next (all start at 0)."""

    time_high: int = 0       # last raw EVT_TIME_HIGH payload
    loops: int = 0           # time-high wrap-arounds so far
    time_base_us: int = 0    # (time_high + loops * 2**bits) << low_bits
    time_low: int = 0        # EVT 3.0 only: time low applying now
    y: int = 0               # EVT 3.0 only
    vector_x: int = 0        # EVT 3.0 only: next vector base x
    vector_p: int = 0        # EVT 3.0 only: vector polarity
    words: int = 0           # words decoded so far (to report absolute word positions)
    unknown: int = 0         # unknown words so far
    first_unknown: int = -1  # absolute position of the first unknown word, -1 if none
    first_unknown_type: int = -1


_EVT2_KNOWN = np.isin(np.arange(16), EVT2_KNOWN_TYPES)
_EVT3_KNOWN = np.isin(np.arange(16), EVT3_KNOWN_TYPES)
_BIT = np.arange(12, dtype=np.uint16)


def _state_at(positions: np.ndarray, values: np.ndarray, at: np.ndarray, default: int) -> np.ndarray:
    """The value set by the last of the (sorted) word ``positions`` at or before each position in
    ``at`` (``values[i]`` is the value set at ``positions[i]``), or ``default`` before any."""
    if len(positions) == 0:
        return np.full(len(at), default, dtype=np.int64)
    k = np.searchsorted(positions, at, side="right") - 1
    return np.where(k >= 0, values[np.maximum(k, 0)].astype(np.int64), default)


def _time_bases(raw: np.ndarray, state: DecoderState, bits: int, low_bits: int) -> Tuple[np.ndarray, int, int]:
    """Full time bases (us) of the time-high words ``raw`` in order, with wrap-around counting.

    Returns ``(bases, last raw value, loops)``."""
    raw = raw.astype(np.int64)
    previous = np.concatenate([[state.time_high], raw[:-1]])
    wrapped = (previous - raw) >= (2**bits - 1) - _LOOP_MARGIN
    loops = state.loops + np.cumsum(wrapped)
    bases = (raw + loops * 2**bits) << low_bits
    return bases, int(raw[-1]), int(loops[-1])


def _count_unknown(types: np.ndarray, known: np.ndarray, state: DecoderState) -> DecoderState:
    unknown = ~known[types]
    if not unknown.any():
        return state
    if state.first_unknown >= 0:
        return replace(state, unknown=state.unknown + int(unknown.sum()))
    i = int(np.argmax(unknown))
    return replace(state, unknown=state.unknown + int(unknown.sum()), first_unknown=state.words + i,
                   first_unknown_type=int(types[i]))


def _time_base_at(types: np.ndarray, high_type: int, values: np.ndarray, at: np.ndarray,
                  state: DecoderState, bits: int, low_bits: int):
    """Time base (us) in force at word positions ``at``; returns ``(bases, time_high, loops, last base)``."""
    highs = np.flatnonzero(types == high_type)
    if len(highs) == 0:
        return np.full(len(at), state.time_base_us, np.int64), state.time_high, state.loops, state.time_base_us
    bases, time_high, loops = _time_bases(values[highs], state, bits, low_bits)
    return _state_at(highs, bases, at, state.time_base_us), time_high, loops, int(bases[-1])


def decode_evt2(words: np.ndarray, state: DecoderState = DecoderState()) -> Tuple[Columns, DecoderState]:
    """Decode a block of EVT 2.0 words; returns ``((x, y, t, p), state after the block)``."""
    words = np.asarray(words, dtype=EVT2_WORD)
    n = len(words)
    if n == 0:
        return tuple(np.zeros(0, np.int64) for _ in range(4)), state  # type: ignore[return-value]
    types = (words >> 28).astype(np.uint8)
    state = _count_unknown(types, _EVT2_KNOWN, state)
    cd = np.flatnonzero(types <= 0x1)
    base, time_high, loops, last_base = _time_base_at(types, 0x8, words & 0x0FFFFFFF, cd, state, 28, 6)
    w = words[cd]
    columns = (((w >> 11) & 0x7FF).astype(np.int16), (w & 0x7FF).astype(np.int16),
               base | ((w >> 22) & 0x3F), types[cd].astype(np.int8))
    state = replace(state, time_high=time_high, loops=loops, time_base_us=last_base, words=state.words + n)
    return columns, state


def _last_of(mask: np.ndarray, index: np.ndarray) -> np.ndarray:
    """For every word, the position of the last word at or before it where ``mask`` holds (-1)."""
    return np.maximum.accumulate(np.where(mask, index, -1))


def decode_evt3(words: np.ndarray, state: DecoderState = DecoderState()) -> Tuple[Columns, DecoderState]:
    """Decode a block of EVT 3.0 words; returns ``((x, y, t, p), state after the block)``."""
    words = np.asarray(words, dtype=EVT3_WORD)
    n = len(words)
    if n == 0:
        return tuple(np.zeros(0, np.int64) for _ in range(4)), state  # type: ignore[return-value]
    types = (words >> 12).astype(np.uint8)
    payload = (words & 0xFFF).astype(np.int32)
    state = _count_unknown(types, _EVT3_KNOWN, state)
    index = np.arange(n, dtype=np.int32)
    # words that carry events, in file order: single events (0x2) and vectors (0x4, 0x5)
    at = np.flatnonzero((types == 0x2) | (types == 0x4) | (types == 0x5))
    kind = types[at]

    # state in force at each event word: set by the last word of the right type before it
    k = _last_of(types == 0x0, index)[at]
    y = np.where(k >= 0, payload[k] & 0x7FF, state.y)
    highs = np.flatnonzero(types == 0x8)
    time_high, loops, last_base = state.time_high, state.loops, state.time_base_us
    base_of_word = np.zeros(n, np.int64)
    if len(highs):
        bases, time_high, loops = _time_bases(payload[highs], state, 12, 12)
        base_of_word[highs], last_base = bases, int(bases[-1])
    k = _last_of(types == 0x8, index)[at]
    t = np.where(k >= 0, base_of_word[k], state.time_base_us)
    k = _last_of(types == 0x6, index)[at]
    t += np.where(k >= 0, payload[k], state.time_low)

    # vectors: base x from the last VECT_BASE_X, advanced by the vectors since (12 or 8 each)
    step = np.where(kind == 0x4, 12, np.where(kind == 0x5, 8, 0))
    advanced = np.concatenate([[0], np.cumsum(step)])  # advanced[i]: steps of event words before i
    base_words = np.flatnonzero(types == 0x3)
    start_x = np.zeros(n, np.int64)  # at each base word: its x minus the steps taken before it
    start_x[base_words] = (payload[base_words] & 0x7FF) - advanced[np.searchsorted(at, base_words)]
    k = _last_of(types == 0x3, index)[at]
    x_before = advanced[:-1] + np.where(k >= 0, start_x[k], state.vector_x)
    vector_p = np.where(k >= 0, (payload[k] >> 11) & 1, state.vector_p)

    # events: one per single word; one per set bit of a vector word, by bit. Output slots follow
    # the event words' order, so no sorting is needed.
    is_vector = kind != 0x2
    vector_rows = np.flatnonzero(is_vector)
    masks = np.where(kind[vector_rows] == 0x4, payload[at[vector_rows]], payload[at[vector_rows]] & 0xFF)
    counts = np.ones(len(at), np.int64)
    counts[vector_rows] = np.bitwise_count(masks.astype(np.uint16))
    first_slot = np.cumsum(counts) - counts
    x = np.repeat(np.where(is_vector, x_before, payload[at] & 0x7FF), counts)
    p = np.repeat(np.where(is_vector, vector_p, (payload[at] >> 11) & 1), counts)
    rows, bit = np.nonzero((masks[:, None].astype(np.uint16) >> _BIT) & 1)
    x[first_slot[vector_rows[rows]] + (np.arange(len(rows)) - (np.cumsum(counts[vector_rows]) - counts[vector_rows])[rows])] += bit
    columns = (x.astype(np.int16), np.repeat(y, counts).astype(np.int16), np.repeat(t, counts), p.astype(np.int8))

    # state after the block
    last = {kind_: (np.flatnonzero(types == kind_)[-1:]) for kind_ in (0x0, 0x6)}
    state = replace(
        state, time_high=time_high, loops=loops, time_base_us=last_base,
        time_low=int(payload[last[0x6][0]]) if len(last[0x6]) else state.time_low,
        y=int(payload[last[0x0][0]] & 0x7FF) if len(last[0x0]) else state.y,
        vector_x=int(advanced[-1]) + (int(start_x[base_words[-1]]) if len(base_words) else state.vector_x),
        vector_p=int((payload[base_words[-1]] >> 11) & 1) if len(base_words) else state.vector_p,
        words=state.words + n,
    )
    return columns, state
