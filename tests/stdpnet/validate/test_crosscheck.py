"""``run_crosscheck`` / ``stdpnet crosscheck``: report structure, verdict, activity (numpy target)."""
import json

import numpy as np
import pytest

pytest.importorskip("brian2")

import streams  # noqa: E402
from stdpnet.cli import main  # noqa: E402
from stdpnet.validate.crosscheck import DEFAULT_NET, WEIGHT_ATOL, format_report, run_crosscheck  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SMALL = "16x16x2-4C5-P2-8"


def _nmnist_folder():
    root = streams.data_root()
    folder = root / "nmnist" / "Train" if root else None
    return folder if folder is not None and folder.is_dir() else None


def test_report_on_synthetic_input():
    r = run_crosscheck(net=SMALL, data="synthetic", samples=2, seed=1)
    r = json.loads(json.dumps(r))  # JSON-able
    assert r["identical"] is True and r["max_weight_diff"] <= WEIGHT_ATOL
    assert r["ticks"] > 0 and r["events"] > 0 and r["target"] == "numpy"
    assert [e["name"] for e in r["per_layer"]] == ["conv1", "fc1"]
    for e in r["per_layer"]:
        assert set(e) >= {"name", "inference_spikes", "learning_spikes", "first_inference_mismatch",
                          "first_learning_mismatch", "max_weight_diff"}
        assert e["inference_spikes"][0] == e["inference_spikes"][1] > 0
        assert e["learning_spikes"][0] == e["learning_spikes"][1] > 0
        assert e["first_inference_mismatch"] is None and e["first_learning_mismatch"] is None
    assert r["active"]
    text = format_report(r)
    assert "IDENTICAL" in text and "conv1" in text


@pytest.mark.skipif(_nmnist_folder() is None, reason="no N-MNIST folder under data_root()")
def test_default_crosscheck_on_nmnist_is_identical_with_activity_in_every_layer():
    r = run_crosscheck()
    assert r["net"] == DEFAULT_NET and r["data"].startswith("nmnist:")
    assert r["identical"], format_report(r)
    for e in r["per_layer"]:  # a crosscheck with no spikes would prove nothing
        assert e["inference_spikes"][0] >= 1000, e
        assert e["learning_spikes"][0] >= 100, e
        assert e["weight_change"] >= 0.02, e


def test_cli_json_and_exit_status(capsys):
    status = main(["crosscheck", "--net", SMALL, "--data", "synthetic", "--samples", "1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0 and out["identical"] is True and isinstance(out["max_weight_diff"], float)


def test_layers_override_reaches_both_simulators():
    r = run_crosscheck(net=SMALL, data="synthetic", samples=1, layers={"fc1": {"theta_learn": 1e9}})
    fc = r["per_layer"][1]
    assert fc["learning_spikes"] == [0, 0] and r["identical"] and not r["active"]
    assert any("proves little" in n for n in r["notes"])
    assert np.isclose(r["layers"]["fc1"]["theta_learn"], 1e9)
