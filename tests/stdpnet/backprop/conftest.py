"""Shared helpers of the backprop tests: a tiny random network and the synthetic task."""
from __future__ import annotations

import numpy as np
import pytest

import streams
from stdpnet.backprop import topology as topo_mod

# the task of the brief: SyntheticBars, sensor 16x16x2, net 16x16x2-8C5-P2-32 + 4 classes
SYNTHETIC_SPEC = "16x16x2-8C5-P2-32"
SYNTHETIC_CLASSES = 4
# count images of whole bar sweeps are uniform (see frames docstring): the middle fifth of the sample
SYNTHETIC_WINDOW_US = (20_000, 30_000)


def random_params(topology, seed, bias_std=0.5, dtype=np.float64):
    """He-initialised parameters with random (non-zero) biases."""
    params = topo_mod.init_params(topology, seed)
    rng = np.random.default_rng([seed, 99])
    return {name: {"w": p["w"].astype(dtype), "b": rng.normal(0.0, bias_std, p["b"].shape).astype(dtype)}
            for name, p in params.items()}


@pytest.fixture(scope="session")
def synthetic_split():
    """(dataset, train indices, validation indices) of a small SyntheticBars task."""
    dataset = streams.SyntheticBars(n_samples=480, seed=0)
    train, val = streams.stratified_split(dataset.labels, 0.75, seed=0)
    return dataset, train, val


@pytest.fixture(scope="session")
def nmnist_folder():
    root = streams.data_root()
    if root is None or not (root / "nmnist" / "Train").is_dir():
        pytest.skip("N-MNIST recordings absent: set STDPNET_DATA or provide ../shared/data/nmnist/Train")
    return streams.NMNISTFolder(root / "nmnist" / "Train")
