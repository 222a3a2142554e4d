"""The shared sample loop: learning switched off and restored, outcome tallies, stop requests."""
import os
import signal

import numpy as np
import pytest

import streams
from stdpnet import Network
from stdpnet.experiment.loop import OutcomeTally, StopRequest, learning_off, make_stream, run_pass
from stdpnet.metrics import PassStats
from stdpnet.readouts import SampleOutcome


def flags(net):
    return [l.params.learning for l in net.learning_layers]


def test_learning_off_restores_each_layers_own_flag():
    net = Network.from_spec("synthetic", seed=0)
    net.set_learning(False, layers=["fc1"])
    with learning_off(net):
        assert flags(net) == [False, False]
    assert flags(net) == [True, False]
    with pytest.raises(RuntimeError):
        with learning_off(net):
            raise RuntimeError("restored even on errors")
    assert flags(net) == [True, False]


def test_a_pass_with_learning_off_changes_no_weight():
    net = Network.from_spec("synthetic", seed=0)
    data = streams.SyntheticBars(n_samples=4, seed=0)
    w = net.layer("conv1").w.copy()
    with learning_off(net):
        _, chunks = make_stream(data, np.arange(4), net)
        stats = PassStats([l.name for l in net.learning_layers])
        assert run_pass(net, None, chunks, learn=False, stats=stats) is False
    assert np.array_equal(w, net.layer("conv1").w)
    assert stats.samples == 4 and stats.events == sum(len(data[i][0]) for i in range(4))
    assert net.now == 4 * data.duration_us // net.dt_us


def test_streams_continue_the_network_clock():
    net = Network.from_spec("synthetic", seed=0)
    data = streams.SyntheticBars(n_samples=2, seed=0)
    for _ in range(2):
        _, chunks = make_stream(data, [0, 1], net, gap_us=3000)
        run_pass(net, None, chunks, learn=False, stats=PassStats(["conv1", "fc1"]))
    # each pass: a 50 ms sample, the 3 ms gap, a 50 ms sample (a pass ends with its last sample);
    # the second pass starts where the first ended
    assert net.now == 2 * (50 + 3 + 50)


def test_should_stop_ends_the_pass_after_the_current_chunk():
    net = Network.from_spec("synthetic", seed=0)
    _, chunks = make_stream(streams.SyntheticBars(n_samples=5, seed=0), np.arange(5), net)
    seen = []
    stopped = run_pass(net, None, chunks, learn=True, stats=PassStats(["conv1", "fc1"]),
                       after_chunk=lambda: seen.append(net.now), should_stop=lambda: len(seen) == 2)
    assert stopped and len(seen) == 2 and net.now == seen[-1]


def test_outcome_tally_counts_and_confusion():
    t = OutcomeTally(3)
    t.add([SampleOutcome(0, 0, 0, 5), SampleOutcome(1, 1, 2, 5), SampleOutcome(2, 2, -1, 0), SampleOutcome(3, 2, 2, 1)])
    r = t.report()
    assert (r["samples"], r["correct"], r["silent"]) == (4, 2, 1)
    assert r["accuracy"] == 0.5 and r["silent_rate"] == 0.25
    assert r["confusion"] == [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1]]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_stop_signals_ask_for_a_stop(sig):
    stop = StopRequest()
    with stop.on_signals():
        os.kill(os.getpid(), sig)
        assert stop() and stop.signal_name == signal.Signals(sig).name
    assert signal.getsignal(sig) is not None  # previous handler back


def test_a_second_sigint_aborts():
    stop = StopRequest()
    with pytest.raises(KeyboardInterrupt):
        with stop.on_signals():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)


def test_a_pass_bar_counts_every_sample_including_the_one_closed_at_the_end():
    from stdpnet.experiment.loop import OutcomeTally, close_pass
    from stdpnet.readouts import make_readout

    from .conftest import recorded_progress

    net = Network.from_spec("synthetic", seed=0)
    data = streams.SyntheticBars(n_samples=6, seed=0)
    readout = make_readout("count", net, 4)
    bar = recorded_progress().bar(6, "eval")
    stats, tally = PassStats(["conv1", "fc1"]), OutcomeTally(4)
    with learning_off(net):
        _, chunks = make_stream(data, np.arange(6), net)
        run_pass(net, readout, chunks, learn=False, stats=stats, tally=tally, progress=bar)
        assert bar.n == 5  # the last sample is still open: only the end of the stream closes it
        close_pass(net, readout, stats=stats, tally=tally, progress=bar)
    assert bar.n == 6 == tally.samples


def test_the_elapsed_indicator_ticks_while_the_block_runs():
    import time

    from stdpnet.experiment.loop import Progress, elapsed_indicator

    from .conftest import recorded_progress

    progress = recorded_progress()
    with elapsed_indicator(progress, "crosscheck", every_s=0.05):
        time.sleep(1.3)
    bar = progress.bars[0]
    assert bar.total is None and bar.closed and bar.n >= 1  # whole seconds elapsed
    with elapsed_indicator(Progress(), "quiet"):  # no bar: nothing happens
        pass
