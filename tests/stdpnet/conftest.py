import numpy as np
import pytest

from stdpnet import Network
from stdpnet.network import RunResult
from streams.events import make_events
from streams.ticks import TickChunk


def chunk_of(ticks, start_tick=0, dt_us=1000, labels=None):
    """A TickChunk from a list (one entry per tick) of lists of (x, y, p) input events."""
    xs, ys, ps, ts, offsets = [], [], [], [], [0]
    for k, evs in enumerate(ticks):
        for (x, y, p) in evs:
            xs.append(x); ys.append(y); ps.append(p); ts.append((start_tick + k) * dt_us)
        offsets.append(len(ts))
    n = len(ticks)
    label = np.full(n, -1, np.int64) if labels is None else np.asarray(labels, np.int64)
    return TickChunk(start_tick, dt_us, make_events(xs, ys, ts, ps), np.asarray(offsets, np.int64),
                     np.full(n, -1, np.int64), label)


def feed(net, ticks, labels=None, record=True):
    """Run ``ticks`` (list of lists of (x, y, p)) starting at the network's current tick."""
    return net.run(chunk_of(ticks, net.now, net.dt_us, labels), record=record)


def set_weights(layer, value):
    """Set all weights (scalar or array shaped (F, C, k_h, k_w))."""
    layer.weights[...] = value


@pytest.fixture
def tiny():
    def make(spec, **layers):
        return Network.from_spec(spec, layers=layers or None, seed=1)
    return make


def readout_chunk(samples, labels, start=0):
    """An event-free TickChunk whose ticks belong to ``samples`` with ``labels`` (readout tests)."""
    n = len(samples)
    return TickChunk(start, 1000, make_events([], [], [], []), np.zeros(n + 1, np.int64),
                     np.asarray(samples, np.int64), np.asarray(labels, np.int64))


def readout_result(chunk, spikes):
    """A RunResult for ``chunk`` whose top layer made ``spikes``: (chunk-local tick, top neuron) pairs."""
    s = np.asarray(spikes, np.int64).reshape(-1, 2)
    return RunResult(chunk.start_tick, chunk.n_ticks, s[:, 0] + chunk.start_tick, s[:, 1], np.zeros((1, 3), np.int64))
