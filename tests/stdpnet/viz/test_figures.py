"""Figures: every figure of the set is written, in every format, with its labels; feature
reconstruction has the shapes of its recursion; the weight history stays bounded."""
import numpy as np
import pytest

from stdpnet import Network
from stdpnet.viz import figures as F
from stdpnet.viz.features import feature_images
from stdpnet.viz.history import WeightHistory
from streams import LabelledStream, SyntheticBars, tick_chunks


@pytest.fixture(scope="module")
def sample_run():
    net = Network.from_spec("synthetic", seed=0)
    data = SyntheticBars(n_samples=2, seed=0)
    hist = WeightHistory(every_samples=1)
    recs, evs = [], []
    for i, ch in enumerate(tick_chunks(LabelledStream(data))):
        recs.append(net.run(ch, record=True).record)
        evs.append(ch.events)
        hist.maybe_record(net, i)
    return net, np.concatenate(recs), np.concatenate(evs), hist


def test_feature_reconstruction_follows_the_recursion():
    net = Network.from_spec("34x34x2-16C5-P2-128C5-P2-1024", seed=0)
    shapes = {name: f.shape for name, f in feature_images(net)}
    # conv1: 5x5; P2, conv2 5x5 at pitch 2: 5 + 1 + 4*2 = 14; P2 (11 -> 5), fc1 over 5x5 at pitch 4: 14 + 2 + 4*4 = 32
    assert shapes == {"conv1": (16, 2, 5, 5), "conv2": (128, 2, 14, 14), "fc1": (1024, 2, 32, 32)}
    net = Network.from_spec("3x3x1-1C2", seed=0)
    net.layer("conv1").weights[...] = np.array([[[[0.1, 0.2], [0.3, 0.4]]]])
    np.testing.assert_allclose(feature_images(net)[0][1][0, 0], [[0.1, 0.2], [0.3, 0.4]])


@pytest.mark.parametrize("fmt, magic", [("png", b"\x89PNG"), ("pdf", b"%PDF"), ("svg", b"<?xml")])
def test_the_full_set_is_written_in_each_format(sample_run, tmp_path, fmt, magic):
    net, rec, ev, hist = sample_run
    counts = {l.name: np.bincount(rec[(rec[:, 1] == i) & (rec[:, 2] == 1), 3], minlength=l.n_neurons)
              for i, l in enumerate(net.learning_layers)}
    paths = F.write_figures(
        tmp_path, net, "run-x", confusion=np.array([[3, 1, 0], [0, 2, 2]]),
        raster=dict(record=rec, start_tick=0, n_ticks=int(rec[:, 0].max()) + 1, events=ev, sample_start_us=0,
                    true_label=1, predicted=-1),
        curve=dict(samples=[50, 100], accuracy=[0.4, 0.6], epoch_samples=50, n_epochs=2, validation=[(100, 0.55)]),
        history=hist, activity=F.map_activity(net, counts), n_classes=2, fmt=fmt)
    names = sorted(p.name for p in paths)
    assert names == sorted(f"{n}.{fmt}" for n in ("features_conv1", "features_fc1", "confusion", "raster",
                                                   "learning_curve", "weights"))
    for p in paths:
        data = p.read_bytes()
        assert data[:len(magic)] == magic and len(data) > 1000
    if fmt == "svg":  # text stays text in vector output: titles and axis labels are searchable
        raster = (tmp_path / "raster.svg").read_text()
        assert "predicted silent" in raster and "time from the sample" in raster


def test_unknown_format_is_a_clear_error(tmp_path):
    from stdpnet import ConfigError

    with pytest.raises(ConfigError, match="png, pdf, svg"):
        F.plot_confusion(np.eye(2, 3, dtype=int), tmp_path / "c", "t", fmt="jpg")


def test_weight_history_keeps_first_and_last_and_stays_bounded():
    net = Network.from_spec("4x1x1-2", seed=0)
    hist = WeightHistory(every_samples=1, max_snapshots=8, bins=10)
    for s in range(100):
        hist.maybe_record(net, s)
    assert len(hist.samples) <= 8 and hist.samples[0] == 0
    assert hist.counts["fc1"][0].sum() == net.top.w.size
    state = hist.state_dict()
    other = WeightHistory()
    other.load_state_dict(state)
    assert other.samples == hist.samples and other.every_samples == hist.every_samples
    np.testing.assert_array_equal(other.counts["fc1"][-1], hist.counts["fc1"][-1])
