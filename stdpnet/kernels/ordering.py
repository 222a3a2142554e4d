"""Same-tick candidate ordering (SPEC section 4): by potential, descending; exact ties in seeded
random order from a checkpointable xorshift64* state."""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .precision import bit_patterns


@njit(cache=True)
def next_random(rng):
    """xorshift64* step on ``rng[0]`` (uint64); returns a uint64. Checkpointable: the state is an array."""
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    return x * np.uint64(2685821657736338717)


@njit(cache=True)
def order_by_potential(cand, n, values, rng):
    """Sort ``cand[:n]`` in place by ``values[cand]`` descending (stable), then shuffle each run of
    exact ties with ``rng``; returns ``cand[:n]``. Insertion sort: candidate lists are short, and
    this runs every tick, so it must not allocate (long lists: stable merge sort)."""
    if n > 48:
        keys = np.empty(n)
        for i in range(n):
            keys[i] = -values[cand[i]]
        order = np.argsort(keys, kind="mergesort")
        sorted_cand = cand[:n][order]
        cand[:n] = sorted_cand
    for i in range(1, n if n <= 48 else 0):
        c = cand[i]
        v = values[c]
        j = i - 1
        while j >= 0 and values[cand[j]] < v:
            cand[j + 1] = cand[j]
            j -= 1
        cand[j + 1] = c
    start = 0
    while start < n:
        stop = start + 1
        while stop < n and values[cand[stop]] == values[cand[start]]:
            stop += 1
        for i in range(stop - 1, start, -1):  # Fisher-Yates on cand[start:stop]
            j = start + np.int64(next_random(rng) % np.uint64(i - start + 1))
            tmp = cand[i]
            cand[i] = cand[j]
            cand[j] = tmp
        start = stop
    return cand[:n]


@njit(cache=True)
def _bits_hash(bits, mask):
    """Fibonacci hash of a float's bit pattern (equal positive values have equal bits)."""
    return np.int64((np.uint64(bits) * np.uint64(11400714819323198485)) >> np.uint64(40)) & mask


@njit(cache=True)
def has_equal_values(cand, n, values, table_v, table_gen, gen):
    """Whether two of ``values[cand[:n]]`` are exactly equal (or one is not finite, or the table is
    too small: then True, the caller takes the general path).

    Without equal values the seeded tie shuffle of :func:`order_by_potential` draws nothing, so the
    same-tick greedy choice is fully determined by the values and may be computed without sorting.
    An open-addressing hash set over ``table_v``/``table_gen`` (``gen[0]`` advances once per call:
    slots of older calls count as empty, so the table is never cleared), hashed on the values' bit
    patterns: equal values have equal bits except ``0.0 == -0.0``, which cannot occur here (a
    candidate is at or above a positive threshold). O(n), no allocation.
    """
    cap = table_v.shape[0]
    size = 16
    while size < 2 * n:
        size <<= 1
    if size > cap:
        return True
    mask = size - 1
    gen[0] += 1
    g = gen[0]
    bits = bit_patterns(values)  # no copy: the same memory read as bit patterns
    for k in range(n):
        v = values[cand[k]]
        if not math.isfinite(v):
            return True
        h = _bits_hash(bits[cand[k]], mask)
        while table_gen[h] == g:
            if table_v[h] == v:
                return True
            h = (h + 1) & mask
        table_gen[h] = g
        table_v[h] = v
    return False
