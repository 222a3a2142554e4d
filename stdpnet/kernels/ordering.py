"""Same-tick candidate ordering (SPEC section 4): by potential, descending; exact ties in seeded
random order from a checkpointable xorshift64* state."""
from __future__ import annotations

import numpy as np
from numba import njit


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
