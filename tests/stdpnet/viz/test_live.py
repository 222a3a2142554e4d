"""Live view: frames carry what the panels show; headless snapshots are written as PNG files."""
import numpy as np

import streams
from stdpnet import Network
from stdpnet.viz.live import LiveFigure, SnapshotWriter, frame_from_network


def _frame():
    net = Network.from_spec("synthetic", seed=0)
    ch = next(iter(streams.tick_chunks(streams.LabelledStream(streams.SyntheticBars(n_samples=1, seed=0)))))
    rec = net.run(ch, record=True).record
    counts = {l.name: np.bincount(rec[(rec[:, 1] == i) & (rec[:, 2] == 1), 3], minlength=l.n_neurons)
              for i, l in enumerate(net.learning_layers)}
    return net, ch, counts, frame_from_network(net, 0.5, ch.events, counts, {"received": len(ch.events)},
                                                prediction=1, label=2, accuracy=0.25)


def test_frame_holds_input_activity_and_layer_activity_exactly():
    net, ch, counts, f = _frame()
    assert f.input_on.sum() + f.input_off.sum() == len(ch.events)
    assert f.input_on.sum() == int((ch.events["p"] == 1).sum())
    conv1 = net.layer("conv1")
    assert f.layer_activity["conv1"].shape == conv1.out_hw
    assert f.layer_activity["conv1"].sum() == counts["conv1"].sum()
    np.testing.assert_array_equal(f.top_counts, counts["fc1"])
    assert f.kernels.shape == conv1.weights.shape


def test_snapshots_are_written_at_the_interval(tmp_path):
    _, _, _, f = _frame()
    w = SnapshotWriter(tmp_path, every_s=3600)
    first = w(f)
    assert w(f) is None  # within the interval: skipped
    assert w(f, force=True) is not None
    assert first.read_bytes()[:4] == b"\x89PNG" and len(w.written) == 2


def test_redraw_updates_the_picture():
    _, _, _, f = _frame()
    fig = LiveFigure(f)
    before = fig.rgba().copy()
    f.input_on[:] = 0
    f.input_off[:] = 0
    fig.draw(f)
    assert not np.array_equal(before, fig.rgba())
