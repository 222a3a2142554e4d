"""Figures (SPEC section 10): each writes a non-empty PNG quickly; feature reconstruction shapes."""
import time
from types import SimpleNamespace

import numpy as np
import pytest

from stdpnet import Network, plots
from streams import LabelledStream, SyntheticBars, tick_chunks


def one_sample_record(net):
    W, H, _ = net.sensor_size
    data = SyntheticBars(n_samples=1, sensor_size=(W, H, 2), seed=0)
    chunks = list(tick_chunks(LabelledStream(data)))
    return np.concatenate([net.run(ch, record=True).record for ch in chunks])


@pytest.fixture(scope="module", params=["synthetic", "nmnist"])
def net_and_record(request):
    net = Network.from_spec(request.param, seed=0)
    return net, one_sample_record(net)


def check_png(path, budget_s, t0):
    elapsed = time.perf_counter() - t0
    data = path.read_bytes()
    assert data[:4] == b"\x89PNG" and len(data) > 1000
    assert elapsed < budget_s, f"{path.name} took {elapsed:.2f} s"


def test_every_plot_writes_a_png_quickly(net_and_record, tmp_path):
    net, record = net_and_record
    plots.plot_weight_histograms(net, tmp_path / "warmup.png")  # matplotlib's first-use costs
    budget = 1.5  # generous for loaded CI machines; typically 0.05-0.3 s
    t0 = time.perf_counter()
    check_png(plots.plot_features(net, tmp_path / "f.png"), budget, t0)
    t0 = time.perf_counter()
    check_png(plots.plot_weight_histograms(net, tmp_path / "w.png"), budget, t0)
    t0 = time.perf_counter()
    samples = np.arange(1, 301)
    check_png(plots.plot_running_accuracy(samples, np.linspace(0.2, 0.9, 300), tmp_path / "a.png",
                                          second=([100, 200, 300], [0.5, 0.7, 0.8]), chance=0.1), budget, t0)
    assert len(record) > 0 and set(np.unique(record[:, 2])) <= {0, 1}
    t0 = time.perf_counter()
    check_png(plots.plot_raster(record, net, tmp_path / "sub" / "r.png", title="one sample"), budget, t0)


def test_feature_reconstruction_shapes_follow_the_receptive_fields():
    net = Network.from_spec("nmnist")
    feats = dict(plots.feature_images(net))
    assert feats["conv1"].shape == (16, 2, 5, 5)
    # conv2: 5x5 kernel on the P2-pooled conv1 grid (pitch 2): 5 + 1*1 (pool) + 4*2 = 14 pixels
    assert feats["conv2"].shape == (128, 2, 14, 14)
    # fc1 on P2-pooled conv2 (pitch 4): 14 + 1*2 + 4*4 = 32 pixels, within the 34x34 sensor
    assert feats["fc1"].shape == (1024, 2, 32, 32)
    np.testing.assert_allclose(feats["conv1"], net.layer("conv1").weights)


def test_reconstruction_places_each_kernel_weight_at_its_offset():
    net = Network.from_spec("6x6x1-1C2-P2-1C2")
    conv1, conv2 = net.learning_layers
    conv1.weights[...] = [[[[1.0, 0.0], [0.0, 0.0]]]]  # conv1 prefers the top-left pixel
    conv2.weights[...] = 0.0
    conv2.weights[0, 0, 1, 1] = 2.0  # conv2 prefers the pooled unit at offset (1, 1)
    feats = dict(plots.feature_images(net))
    f2 = feats["conv2"][0, 0]
    # pooled unit (1, 1) covers conv1 positions 2..3 -> the top-left pixels 2..3 of the sensor
    expected = np.zeros((5, 5))
    expected[2:4, 2:4] = 2.0
    assert f2.shape == (5, 5)
    np.testing.assert_allclose(f2, expected)


def test_write_run_plots(tmp_path):
    net = Network.from_spec("synthetic")
    record = one_sample_record(net)
    run = SimpleNamespace(dir=tmp_path, network=net, n_classes=4,
                          accuracy=SimpleNamespace(log=[{"samples": 50, "running_accuracy": 0.3},
                                                        {"samples": 100, "running_accuracy": 0.5}]))
    paths = plots.write_run_plots(run, {"record": record, "start_tick": 0, "n_ticks": 50, "label": 2})
    assert [p.name for p in paths] == ["features.png", "weights.png", "running_accuracy.png", "raster.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
