"""Small pure kernels: candidate ordering with seeded tie-breaking."""
import numpy as np
import pytest

from stdpnet.kernels import order_by_potential


@pytest.mark.parametrize("n", [1, 5, 40, 48, 49, 300])  # insertion-sort and merge-sort paths
def test_order_by_potential_sorts_descending_and_permutes(n):
    rng = np.random.default_rng(n)
    for _ in range(10):
        values = np.round(rng.random(1000) * 5) / 5  # many exact ties
        cand = rng.choice(1000, n, replace=False).astype(np.int64)
        out = order_by_potential(cand.copy(), n, values, np.array([12345], np.uint64)).copy()
        assert sorted(out) == sorted(cand)
        assert np.all(np.diff(values[out]) <= 0)
        again = order_by_potential(cand.copy(), n, values, np.array([12345], np.uint64))
        assert np.array_equal(out, again)  # same RNG state, same tie order


def test_ties_are_shuffled_by_the_rng_state():
    values = np.ones(10)
    cand = np.arange(10, dtype=np.int64)
    orders = {tuple(order_by_potential(cand.copy(), 10, values, np.array([s], np.uint64))) for s in range(1, 30)}
    assert len(orders) > 20
