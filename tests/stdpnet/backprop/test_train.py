"""The trainer: every baseline learns the synthetic task, runs are reproducible, errors are clear."""
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from stdpnet import backprop as bp  # noqa: E402
from stdpnet.backprop import costs  # noqa: E402
from stdpnet.errors import ConfigError, ParameterError  # noqa: E402

from .conftest import SYNTHETIC_CLASSES, SYNTHETIC_SPEC, SYNTHETIC_WINDOW_US  # noqa: E402

REPO = Path(__file__).resolve().parents[3]


def arrays(split, method, n_bins=10):
    dataset, train, val = split
    if bp.input_kind(method) == "bins":
        kw = {"kind": "bins", "n_bins": n_bins}
    else:
        kw = {"kind": "counts", "window_us": SYNTHETIC_WINDOW_US}
    return bp.dataset_arrays(dataset, train, **kw) + bp.dataset_arrays(dataset, val, **kw)


@pytest.fixture(scope="module")
def trained(synthetic_split):
    models = {}
    for method in bp.METHODS:
        x, y, xv, yv = arrays(synthetic_split, method)
        models[method] = (bp.train_method(method, SYNTHETIC_SPEC, x, y, xv, yv, seed=0, max_epochs=12,
                                          patience=3, lr=3e-3, n_classes=SYNTHETIC_CLASSES), xv, yv)
    return models


@pytest.mark.parametrize("method", bp.METHODS)
def test_each_method_learns_the_synthetic_task(trained, method):
    model, xv, yv = trained[method]
    report = bp.evaluate(model, xv, yv)
    assert report["accuracy"] > 0.9, model.history
    assert report["accuracy"] == pytest.approx(model.best_val_accuracy)
    assert model.wall_time_s < 60 and 1 <= model.best_epoch <= model.epochs <= 12
    assert len(model.history) == model.epochs
    assert np.mean(bp.predict(model, xv) == yv) == report["accuracy"]


@pytest.mark.parametrize("method", bp.METHODS)
def test_evaluate_reports_costs(trained, method):
    model, xv, yv = trained[method]
    report = bp.evaluate(model, xv, yv)
    assert report["params"] == model.topology.n_params == 8 * 2 * 25 + 8 + 32 * 288 + 32 + 4 * 32 + 4
    assert report["n_samples"] == len(yv)
    assert report["input_events_per_sample"] == pytest.approx(xv.reshape(len(xv), -1).sum(1).mean(), rel=1e-6)
    kind = "MAC" if method == "cnn" else "AC"
    assert report["op_kind"] == kind
    assert report["energy_uj_per_sample"] == pytest.approx(
        report["infer_ops_per_sample"] * costs.PJ_PER_OP[kind] * 1e-6)
    assert "estimate" in report["energy_note"]
    if method == "cnn":
        assert report["spikes_per_sample"] is None
        assert report["infer_ops_per_sample"] == bp.dense_macs(model.topology)
    else:
        assert report["spikes_per_sample"] == pytest.approx(sum(report["spikes_per_layer"].values()))
        assert 0 < report["infer_ops_per_sample"] < bp.dense_macs(model.topology) * xv.shape[1]


def test_spikegrad_model_runs_as_its_spiking_network(trained, synthetic_split):
    # the trained integer ANN and the event-driven IF network classify alike, sample by sample
    model, xv, yv = trained["spikegrad"]
    dataset, _, val = synthetic_split
    predictions = bp.predict(model, xv[:20])
    for row, index in enumerate(val[:20]):
        events = bp.frames.select_window(dataset[int(index)][0], SYNTHETIC_WINDOW_US)
        result = bp.simulate_if(model.params, events, model.topology, model.options)
        assert np.argmax(result.readout_potential) == predictions[row]
    layers = bp.export_static_layers(model)
    assert layers["fc1"]["weights"].shape == (32, 8, 6, 6) and layers["conv1"]["theta"] == 1.0


@pytest.mark.parametrize("method", ["spikegrad", "surrogate"])
def test_same_seed_same_numbers(synthetic_split, method):
    x, y, xv, yv = arrays(synthetic_split, method, n_bins=5)
    runs = [bp.train_method(method, SYNTHETIC_SPEC, x[:64], y[:64], xv, yv, seed=5, max_epochs=2,
                            patience=2, n_classes=4) for _ in range(2)]
    assert runs[0].history == runs[1].history
    for name in runs[0].params:
        for key in ("w", "b"):
            np.testing.assert_array_equal(runs[0].params[name][key], runs[1].params[name][key])
    other = bp.train_method(method, SYNTHETIC_SPEC, x[:64], y[:64], xv, yv, seed=6, max_epochs=1,
                            patience=1, n_classes=4)
    assert not np.array_equal(other.params["fc1"]["w"], runs[0].params["fc1"]["w"])


def test_early_stopping_keeps_the_best_epoch(synthetic_split):
    # a learning rate so small that nothing changes: no epoch improves on the first one
    x, y, xv, yv = arrays(synthetic_split, "cnn")
    model = bp.train_method("cnn", SYNTHETIC_SPEC, x[:64], y[:64], xv, yv, seed=0, max_epochs=10,
                            patience=2, lr=1e-30, n_classes=4)
    assert model.epochs == 3 and model.best_epoch == 1
    # min_epochs: no stopping before epoch 6, still the best epoch's parameters
    model = bp.train_method("cnn", SYNTHETIC_SPEC, x[:64], y[:64], xv, yv, seed=0, max_epochs=10,
                            patience=2, lr=1e-30, n_classes=4, min_epochs=6)
    assert model.epochs == 6 and model.best_epoch == 1 and model.settings["min_epochs"] == 6
    with pytest.raises(ParameterError, match="min_epochs"):
        bp.train_method("cnn", SYNTHETIC_SPEC, x[:64], y[:64], xv, yv, max_epochs=3, min_epochs=4)


def test_classes_come_from_the_spec_or_the_labels(synthetic_split):
    x, y, xv, yv = arrays(synthetic_split, "cnn")
    model = bp.train_method("cnn", SYNTHETIC_SPEC, x[:32], y[:32], xv, yv, max_epochs=1)
    assert model.topology.n_classes == int(max(y.max(), yv.max())) + 1
    model = bp.train_method("cnn", SYNTHETIC_SPEC + "-6", x[:32], y[:32], xv, yv, max_epochs=1)
    assert model.topology.n_classes == 6


def test_errors_say_what_to_do(synthetic_split):
    x, y, xv, yv = arrays(synthetic_split, "cnn")
    with pytest.raises(ConfigError, match="unknown backprop method 'svm'; choose one of spikegrad"):
        bp.train_method("svm", SYNTHETIC_SPEC, x, y, xv, yv)
    with pytest.raises(ConfigError, match=r"kind='bins', n_bins=T"):
        bp.train_method("surrogate", SYNTHETIC_SPEC, x, y, xv, yv, n_classes=4)
    with pytest.raises(ConfigError, match=r"\(C, H, W\) = \(2, 8, 8\) from the spec, got an array of shape \(360, 2, 16, 16\)"):
        bp.train_method("cnn", "8x8x2-4C3-4", x, y, xv, yv, n_classes=4)
    with pytest.raises(ConfigError, match=r"labels must lie in \[0, 3\)"):
        bp.train_method("cnn", SYNTHETIC_SPEC, x, y, xv, yv, n_classes=3)
    with pytest.raises(ConfigError, match="stratified_split"):
        bp.train_method("cnn", SYNTHETIC_SPEC, x, y, xv[:0], yv[:0], n_classes=4)
    with pytest.raises(ParameterError, match="lr must be a positive finite number"):
        bp.train_method("cnn", SYNTHETIC_SPEC, x, y, xv, yv, n_classes=4, lr=float("nan"))
    with pytest.raises(ConfigError, match="known: theta, pool, max_count, init_gain"):
        bp.train_method("spikegrad", SYNTHETIC_SPEC, x, y, xv, yv, n_classes=4, options={"tau": 1})


def test_without_jax_a_clear_error_and_the_numpy_parts_still_work():
    script = textwrap.dedent("""
        import sys
        sys.modules["jax"] = None  # as if JAX were not installed
        import numpy as np
        import streams
        from stdpnet import backprop as bp
        from stdpnet.errors import ConfigError
        data = streams.SyntheticBars(n_samples=4)
        x, y = bp.dataset_arrays(data, kind="counts")
        topo = bp.build_topology("16x16x2-8C5-P2-32", 4)
        bp.simulate_if(bp.init_params(topo, 0), data[0][0], topo)  # numba, no JAX
        try:
            bp.train_method("cnn", "16x16x2-8C5-P2-32", x, y, x, y, n_classes=4)
        except ConfigError as exc:
            print("ConfigError:", exc)
        assert "jax" not in [m.split(".")[0] for m in sys.modules if sys.modules[m] is not None]
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "ConfigError:" in done.stdout and "pip install 'stdpnet[backprop]'" in done.stdout
