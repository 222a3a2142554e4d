"""Events into the Brian2 twin: ranks of same-tick repeats, canonical order, generator mapping."""
import numpy as np
import pytest

from stdpnet import Network
from stdpnet.errors import ParameterError
from stdpnet.validate.brian2.inputs import canonical_chunk, event_ranks, prepare_input

from ..conftest import chunk_of


def test_event_ranks_count_repeats_of_a_pixel_within_its_tick():
    np.testing.assert_array_equal(event_ranks(np.array([0, 0, 0, 1]), np.array([5, 7, 5, 5])), [0, 0, 1, 0])
    np.testing.assert_array_equal(event_ranks(np.array([0, 0, 0, 0]), np.array([3, 3, 3, 1])), [0, 1, 2, 0])
    assert len(event_ranks(np.zeros(0, np.int64), np.zeros(0, np.int64))) == 0


# sensor (W, H, C) = (3, 2, 2): pixel index (p * 2 + y) * 3 + x
TICKS = [[(2, 0, 1), (0, 1, 0), (2, 0, 1), (1, 0, 0)],  # pixels 8, 3, 8 (repeat), 1
         [(0, 0, 1)]]                                    # pixel 6


def test_canonical_chunk_orders_each_tick_by_rank_then_pixel():
    chunk = chunk_of(TICKS, start_tick=5, labels=[3, 4])
    out = canonical_chunk(chunk, (3, 2, 2))
    ev = out.events
    # tick 0: rank 0 pixels 1, 3, 8, then the repeat of pixel 8 (rank 1); tick 1 unchanged
    assert list(zip(ev["x"], ev["y"], ev["p"])) == [(1, 0, 0), (0, 1, 0), (2, 0, 1), (2, 0, 1), (0, 0, 1)]
    np.testing.assert_array_equal(ev["t"], [5000] * 4 + [6000])  # same events, same ticks
    np.testing.assert_array_equal(out.offsets, chunk.offsets)
    np.testing.assert_array_equal(out.label, [3, 4])
    assert out.start_tick == 5


def test_prepare_input_one_generator_neuron_per_rank_and_pixel():
    net = Network.from_spec("3x2x2-2", seed=0)
    inp = prepare_input(net, [chunk_of(TICKS, start_tick=5)])
    assert (inp.t0, inp.n_ticks, inp.n_events, inp.n_generator) == (5, 2, 5, 24)  # 2 ranks x 12 pixels
    np.testing.assert_array_equal(inp.generator_index, [1, 3, 8, 20, 6])  # rank 1 of pixel 8: 12 + 8
    np.testing.assert_array_equal(inp.generator_step, [0, 0, 0, 0, 1])
    expected = np.full(24, -1)
    expected[[1, 3, 6, 8]] = [1, 3, 6, 8]  # no pooling: the pixel itself
    expected[20] = 8
    np.testing.assert_array_equal(inp.generator_target, expected)
    c, y, x, n = inp.first_layer.at(0)  # the chunk's order, for the greedy operation
    assert n == 4 and list(zip(c, y, x)) == [(1, 0, 2), (0, 1, 0), (1, 0, 2), (0, 0, 1)]
    c, y, x, n = inp.first_layer.at(1)
    assert n == 1 and (c[0], y[0], x[0]) == (1, 0, 0)


def test_prepare_input_pools_the_sensor_and_drops_the_odd_edge():
    net = Network.from_spec("5x5x1-P2-2", seed=0)  # input pooling 2: 2x2 input, row/column 4 dropped
    inp = prepare_input(net, [chunk_of([[(3, 3, 0), (4, 1, 0), (1, 2, 0)]])])
    # pixel (x, y) = (3, 3) -> (1, 1) -> input 3; (4, 1) -> x 2 is outside; (1, 2) -> (0, 1) -> input 2
    assert inp.generator_target[3 * 5 + 3] == 3 and inp.generator_target[1 * 5 + 4] == -1
    assert inp.generator_target[2 * 5 + 1] == 2
    c, y, x, n = inp.first_layer.at(0)
    assert n == 2 and list(zip(y, x)) == [(1, 1), (1, 0)]


def test_prepare_input_errors_say_how_to_fix():
    net = Network.from_spec("3x2x2-2", seed=0)
    with pytest.raises(ParameterError, match="at least one TickChunk"):
        prepare_input(net, [])
    with pytest.raises(ParameterError, match="in time order"):
        prepare_input(net, [chunk_of([[]], start_tick=3), chunk_of([[]], start_tick=3)])
    with pytest.raises(ParameterError, match="dt_us=500.*tick_chunks"):
        prepare_input(net, [chunk_of([[]], dt_us=500)])
    with pytest.raises(ParameterError, match="outside the network's sensor"):
        prepare_input(net, [chunk_of([[(3, 0, 0)]])])
