"""Continual-learning figures: real matplotlib figures written as PNG, PDF and SVG."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

from stdpnet.errors import ParameterError
from stdpnet.metrics.continual import accuracy_matrix
from stdpnet.viz.continual import plot_accuracy_matrices, plot_forgetting_curves, plot_method_bars

NAMES = ["0,1", "2,3", "4,5"]
STDP = [[0.91, np.nan, np.nan], [0.42, 0.88, np.nan], [0.30, 0.35, 0.87]]
REPLAY = [[0.90, 0.10, 0.12], [0.81, 0.86, 0.11], [0.77, 0.80, 0.85]]


def check_figure(path):
    data = path.read_bytes()
    assert path.exists() and len(data) > 1000
    if path.suffix == ".png":
        assert data[:4] == b"\x89PNG"
        pixels = imread(path)
        assert pixels[..., :3].std() > 0.05  # something is drawn
    elif path.suffix == ".pdf":
        assert data[:5] == b"%PDF-"
    else:
        assert b"<svg" in data[:1000]
    return data


@pytest.mark.parametrize("suffix", [".png", ".pdf", ".svg"])
def test_accuracy_matrices(tmp_path, suffix):
    stdp = accuracy_matrix(NAMES, STDP)
    path = plot_accuracy_matrices({"stdp": stdp, "replay": np.array(REPLAY)}, tmp_path / f"R{suffix}")
    data = check_figure(path)
    if suffix == ".svg":  # text stays text: method names, task names and cell values are there
        text = data.decode()
        for token in ("stdp", "replay", "4,5", "0.87", "0.77", "after learning task"):
            assert token in text
        assert "nan" not in text  # unmeasured cells stay blank


def test_forgetting_curves(tmp_path):
    samples = np.arange(0, 301, 25)
    accuracy = np.full((len(samples), 3), np.nan)
    for t, start in enumerate((0, 100, 200)):
        seen = samples >= start
        accuracy[seen, t] = np.clip(0.9 - 0.002 * (samples[seen] - start - 100).clip(0), 0, 1)
    for suffix in (".png", ".svg"):
        path = plot_forgetting_curves(samples, accuracy, tmp_path / "sub" / f"curves{suffix}",
                                      task_starts=[0, 100, 200, 300], task_names=NAMES, chance=0.5)
        data = check_figure(path)
    text = data.decode()
    assert all(name in text for name in NAMES) and "training samples seen" in text


def test_method_bars(tmp_path):
    results = {"stdp": {"acc": [0.51, 0.55, 0.49], "bwt": [-0.40, -0.35, -0.45]},
               "stdp+replay": {"acc": [0.80, 0.78, 0.81], "bwt": [-0.08, -0.10, -0.07]},
               "one seed": {"acc": [0.6], "bwt": [None, -0.2]}}
    for suffix in (".png", ".svg"):
        data = check_figure(plot_method_bars(results, tmp_path / f"bars{suffix}"))
    text = data.decode()
    assert "stdp+replay (n=3)" in text and "one seed (n=1)" in text and "BWT" in text
    assert "-0.40" in text  # mean BWT of stdp written on its bar


def test_figure_errors(tmp_path):
    with pytest.raises(ParameterError, match=r"\.png, \.pdf or \.svg"):
        plot_accuracy_matrices({"a": np.eye(2)}, tmp_path / "R.jpg")
    with pytest.raises(ParameterError, match="3 tasks, the others 2"):
        plot_accuracy_matrices({"a": np.eye(2), "b": np.eye(3)}, tmp_path / "R.png")
    with pytest.raises(ParameterError, match="P = 3"):
        plot_forgetting_curves([0, 1, 2], np.zeros((2, 2)), tmp_path / "c.png")
    with pytest.raises(ParameterError, match="no 'bwt' values"):
        plot_method_bars({"a": {"acc": [0.5]}}, tmp_path / "b.png")
