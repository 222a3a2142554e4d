"""The bounded event buffer: which events survive under each policy, across the wrap-around."""
from __future__ import annotations

import numpy as np
import pytest

import streams
from streams.live import DROP_NEWEST, DROP_OLDEST, EventRing


def numbered(first, n):
    return streams.make_events(np.zeros(n, int), np.zeros(n, int), np.arange(first, first + n), np.zeros(n, int))


def test_fifo_across_the_wrap_around():
    ring = EventRing(5)
    assert ring.push(numbered(0, 4)) == 0
    assert ring.pop(3)["t"].tolist() == [0, 1, 2]
    assert ring.push(numbered(4, 4)) == 0  # occupies slots 4, 0, 1, 2
    assert ring.pop()["t"].tolist() == [3, 4, 5, 6, 7]
    assert ring.size == 0 and len(ring.pop()) == 0


@pytest.mark.parametrize(
    "policy, pushes, survivors, dropped",
    [
        (DROP_NEWEST, [4, 3], [0, 1, 2, 3, 4], 2),     # the last two of the second push are refused
        (DROP_OLDEST, [4, 3], [2, 3, 4, 5, 6], 2),     # the two oldest make room
        (DROP_NEWEST, [2, 9], [0, 1, 2, 3, 4], 6),
        (DROP_OLDEST, [2, 9], [6, 7, 8, 9, 10], 6),    # a push larger than the ring keeps its newest 5
    ],
)
def test_policies_when_full(policy, pushes, survivors, dropped):
    ring = EventRing(5, policy)
    first, total_dropped = 0, 0
    for n in pushes:
        total_dropped += ring.push(numbered(first, n))
        first += n
    assert total_dropped == dropped
    assert ring.pop()["t"].tolist() == survivors


def test_bad_settings():
    with pytest.raises(ValueError, match="on_full"):
        EventRing(5, "drop-some")
    with pytest.raises(ValueError, match="buffer_events"):
        EventRing(0)
