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


def _last_index(mask: np.ndarray) -> np.ndarray:
    """For each position, the index of the last True of ``mask`` at or before it (-1 if none)."""
    return np.maximum.accumulate(np.where(mask, np.arange(len(mask)), -1))


def _time_bases(raw: np.ndarray, state: DecoderState, bits: int, low_bits: int) -> Tuple[np.ndarray, int, int]:
    """Full time bases (us) of the time-high words ``raw`` in order, with wrap-around counting.

    Returns ``(bases, last raw value, loops)``."""
    raw = raw.astype(np.int64)
    previous = np.concatenate([[state.time_high], raw[:-1]])
    wrapped = (previous - raw) >= (2**bits - 1) - _LOOP_MARGIN
    loops = state.loops + np.cumsum(wrapped)
    bases = (raw + loops * 2**bits) << low_bits
    return bases, int(raw[-1]), int(loops[-1])


def _count_unknown(types: np.ndarray, known: Tuple[int, ...], state: DecoderState) -> DecoderState:
    unknown = ~np.isin(types, known)
    if not unknown.any():
        return state
    if state.first_unknown >= 0:
        return replace(state, unknown=state.unknown + int(unknown.sum()))
    i = int(np.argmax(unknown))
    return replace(state, unknown=state.unknown + int(unknown.sum()), first_unknown=state.words + i,
                   first_unknown_type=int(types[i]))


def decode_evt2(words: np.ndarray, state: DecoderState = DecoderState()) -> Tuple[Columns, DecoderState]:
    """Decode a block of EVT 2.0 words; returns ``((x, y, t, p), state after the block)``."""
    words = np.asarray(words, dtype=EVT2_WORD)
    n = len(words)
    if n == 0:
        return tuple(np.zeros(0, np.int64) for _ in range(4)), state  # type: ignore[return-value]
    types = words >> 28
    state = _count_unknown(types, EVT2_KNOWN_TYPES, state)
    is_time_high = types == 0x8
    time_high, loops = state.time_high, state.loops
    base_of_word = np.zeros(n, np.int64)
    if is_time_high.any():
        bases, time_high, loops = _time_bases(words[is_time_high] & 0x0FFFFFFF, state, 28, 6)
        base_of_word[is_time_high] = bases
    last = _last_index(is_time_high)
    base = np.where(last >= 0, base_of_word[np.maximum(last, 0)], state.time_base_us)
    cd = types <= 0x1
    w = words[cd].astype(np.int64)
    columns = ((w >> 11) & 0x7FF, w & 0x7FF, base[cd] | ((w >> 22) & 0x3F), w >> 28)
    state = replace(state, time_high=time_high, loops=loops, time_base_us=int(base[-1]), words=state.words + n)
    return columns, state


def decode_evt3(words: np.ndarray, state: DecoderState = DecoderState()) -> Tuple[Columns, DecoderState]:
    """Decode a block of EVT 3.0 words; returns ``((x, y, t, p), state after the block)``."""
    words = np.asarray(words, dtype=EVT3_WORD)
    n = len(words)
    if n == 0:
        return tuple(np.zeros(0, np.int64) for _ in range(4)), state  # type: ignore[return-value]
    types = (words >> 12).astype(np.int64)
    payload = (words & 0xFFF).astype(np.int64)
    state = _count_unknown(types, EVT3_KNOWN_TYPES, state)

    # y: last EVT_ADDR_Y
    last_y = _last_index(types == 0x0)
    y = np.where(last_y >= 0, payload[np.maximum(last_y, 0)] & 0x7FF, state.y)

    # time: last time-high base plus the last time low
    is_time_high = types == 0x8
    time_high, loops = state.time_high, state.loops
    base_of_word = np.zeros(n, np.int64)
    if is_time_high.any():
        bases, time_high, loops = _time_bases(payload[is_time_high], state, 12, 12)
        base_of_word[is_time_high] = bases
    last_high = _last_index(is_time_high)
    base = np.where(last_high >= 0, base_of_word[np.maximum(last_high, 0)], state.time_base_us)
    last_low = _last_index(types == 0x6)
    low = np.where(last_low >= 0, payload[np.maximum(last_low, 0)], state.time_low)
    t = base + low

    # vectors: base x and polarity from the last VECT_BASE_X, advanced by the vectors since
    last_base = _last_index(types == 0x3)
    step = np.where(types == 0x4, 12, np.where(types == 0x5, 8, 0))
    advanced = np.cumsum(step)  # inclusive
    since_base = np.where(last_base >= 0, advanced - advanced[np.maximum(last_base, 0)], advanced)
    start_x = np.where(last_base >= 0, payload[np.maximum(last_base, 0)] & 0x7FF, state.vector_x)
    vector_p = np.where(last_base >= 0, (payload[np.maximum(last_base, 0)] >> 11) & 1, state.vector_p)
    x_before = start_x + since_base - step  # vector base of each word, before its own step

    # single events
    single = np.flatnonzero(types == 0x2)
    # vector events: (word, bit) for every set bit, in word order then bit order
    vector = np.flatnonzero((types == 0x4) | (types == 0x5))
    width = np.where(types[vector] == 0x4, 12, 8)
    bits = (payload[vector, None] >> np.arange(12)) & 1
    bits &= np.arange(12) < width[:, None]
    rows, bit = np.nonzero(bits)
    vector_word = vector[rows]

    word = np.concatenate([single, vector_word])
    order = np.argsort(word * 16 + np.concatenate([np.zeros(len(single), np.int64), bit]), kind="stable")
    word = word[order]
    x = np.concatenate([payload[single] & 0x7FF, x_before[vector_word] + bit])[order]
    p = np.concatenate([(payload[single] >> 11) & 1, vector_p[vector_word]])[order]
    columns = (x, y[word], t[word], p)
    state = replace(
        state, time_high=time_high, loops=loops, time_base_us=int(base[-1]), time_low=int(low[-1]),
        y=int(y[-1]), vector_x=int(start_x[-1] + since_base[-1]), vector_p=int(vector_p[-1]),
        words=state.words + n,
    )
    return columns, state
