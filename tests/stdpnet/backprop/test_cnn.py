"""The ReLU CNN: forward against the written-out network, gradient against finite differences."""
import numpy as np
import pytest

jax = pytest.importorskip("jax")

from stdpnet.backprop import cnn  # noqa: E402
from stdpnet.backprop import ops  # noqa: E402
from stdpnet.backprop import topology as T  # noqa: E402
from stdpnet.errors import ParameterError  # noqa: E402

from . import reference  # noqa: E402
from .conftest import random_params  # noqa: E402

SPEC = "7x6x2-3C3-P2-4"  # odd sizes: conv 4x5 (H x W), pooling drops a column


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_forward_is_the_written_out_network(pool):
    topo = T.build_topology(SPEC, 3)
    params = random_params(topo, seed=0)
    x = np.random.default_rng(0).integers(0, 5, size=(2, 2, 6, 7)).astype(np.float64)
    options = cnn.CNNOptions(pool=pool, input_scale=0.5)
    with jax.enable_x64(True):
        logits, stats = cnn.forward(params, x, topo, options)
    for b in range(2):
        np.testing.assert_allclose(logits[b], reference.cnn(params, x[b], topo, pool, 0.5), rtol=1e-12)
    assert float(stats["ops"][0]) == T.dense_macs(topo) == 3 * 20 * 18 + 4 * 12 + 3 * 4


def test_pool_modes_by_hand():
    x = np.arange(2 * 3 * 5, dtype=np.float32).reshape(1, 2, 3, 5)  # rows of 5, third row dropped
    np.testing.assert_array_equal(ops.pool(x, 2, "sum")[0, 0], [[0 + 1 + 5 + 6, 2 + 3 + 7 + 8]])
    np.testing.assert_array_equal(ops.pool(x, 2, "max")[0, 1], [[21, 23]])
    np.testing.assert_array_equal(ops.pool(x, 2, "avg")[0, 0], [[3, 5]])


def test_gradient_matches_finite_differences():
    topo = T.build_topology(SPEC, 3)
    params = random_params(topo, seed=4)
    rng = np.random.default_rng(4)
    x = rng.integers(0, 5, size=(3, 2, 6, 7)).astype(np.float64)
    labels = np.array([0, 2, 1])
    options = cnn.CNNOptions(input_scale=0.5)

    def loss(p):
        logits, _ = cnn.forward(p, x, topo, options)
        return -jax.nn.log_softmax(logits)[np.arange(3), labels].sum()

    with jax.enable_x64(True):
        grads = jax.grad(loss)(params)
        loss = jax.jit(loss)
        for name in params:
            for key in ("w", "b"):
                numeric = np.zeros_like(params[name][key])
                for index in np.ndindex(numeric.shape):
                    values = []
                    for sign in (1, -1):
                        p = {k: {kk: vv.copy() for kk, vv in v.items()} for k, v in params.items()}
                        p[name][key][index] += sign * 1e-6
                        values.append(float(loss(p)))
                    numeric[index] = (values[0] - values[1]) / 2e-6
                np.testing.assert_allclose(np.asarray(grads[name][key]), numeric, rtol=1e-5, atol=1e-8,
                                           err_msg=f"{name}.{key}")


def test_input_scale_defaults_to_one_over_the_training_std():
    x = np.array([[0.0, 2.0], [4.0, 6.0]])
    assert cnn.resolve_options(None, x).input_scale == pytest.approx(1 / np.std(x))
    assert cnn.resolve_options({"input_scale": 3.0}, x).input_scale == 3.0
    with pytest.raises(ParameterError, match="max' or 'avg"):
        cnn.CNNOptions(pool="sum")
