"""``stdpnet.validate.bench`` (``benchmarks/bench_brian2.py``): report structure (numpy target)."""
import json

import pytest

pytest.importorskip("brian2")

from stdpnet.validate.bench import format_bench, main  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SMALL = "16x16x2-4C5-P2-8"


def test_bench_script_report_structure(capsys):
    # the cython target needs a compiler and minutes of compilation: structure only, numpy target
    status = main(["--net", SMALL, "--data", "synthetic", "--samples", "2", "--brian2-samples", "1",
                   "--target", "numpy", "--json"])
    captured = capsys.readouterr()
    r = json.loads(captured.out)  # stdout holds the JSON report only; progress went to stderr
    assert status == 0
    assert "building Brian2 twin" in captured.err and "first run ~" in captured.err
    assert r["identical"] and r["brian2_samples"] == 1 and r["samples"] == 2
    assert r["speedup"] > 0 and r["stdpnet_wall_s"] > 0 and r["brian2_wall_s"] > r["brian2_wall_measured_s"]
    assert any("extrapolated" in n for n in r["notes"])
    assert "speedup" in format_bench(r)
