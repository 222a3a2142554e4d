"""stdpnet compare: the JSON contract, identical subsets for every method, same seed same table,
a clear error without JAX."""
import json
import subprocess
import sys

import numpy as np
import pytest

import streams
from stdpnet.cli import main
from stdpnet.experiment.compare import subsets

KEYS = ("accuracy", "accuracy_std", "train_samples", "labels_used", "samples_seen", "epochs", "train_wall_s",
        "infer_ops_per_sample", "spikes_per_sample", "energy_uj_per_sample", "params")


def test_subsets_are_stratified_seeded_and_shared():
    labels = np.repeat(np.arange(4), 25)
    pool = np.arange(100)
    a, b = subsets(labels, pool, [20, 40], seed=3), subsets(labels, pool, [20, 40], seed=3)
    assert all(np.array_equal(a[n], b[n]) for n in a)
    assert np.bincount(labels[a[20]], minlength=4).tolist() == [5, 5, 5, 5]


def test_json_contract_and_same_seed_same_table(tmp_path, capsys):
    pytest.importorskip("jax")
    args = ["compare", "--data", "synthetic:120", "--train-sizes", "40", "--methods", "stdp,cnn", "--seeds", "1",
            "--max-epochs", "3", "--json"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    first = json.loads(capsys.readouterr().out)
    for m in ("stdp", "cnn"):
        entry = first["methods"][m][0]
        for k in KEYS:
            assert k in entry, (m, k)
        assert entry["train_samples"] == 40 and entry["labels_used"] == 40
    assert first["methods"]["cnn"][0]["op_kind"] == "MAC" and first["methods"]["stdp"][0]["op_kind"] == "AC"
    assert (tmp_path / "a" / "compare.md").exists() and (tmp_path / "a" / "accuracy_vs_size.png").exists()
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    second = json.loads(capsys.readouterr().out)
    for m in ("stdp", "cnn"):
        assert first["methods"][m][0]["accuracy"] == second["methods"][m][0]["accuracy"]


def test_methods_run_apart_merge_into_the_table_of_one_run(tmp_path, capsys):
    pytest.importorskip("jax")
    base = ["compare", "--data", "synthetic:120", "--train-sizes", "40", "--seeds", "1", "--max-epochs", "3", "--json"]
    assert main(base + ["--methods", "stdp,cnn", "--out", str(tmp_path / "both")]) == 0
    both = json.loads(capsys.readouterr().out)
    for m in ("stdp", "cnn"):
        assert main(base + ["--methods", m, "--out", str(tmp_path / m)]) == 0
        capsys.readouterr()
    assert main(["compare", "--merge", str(tmp_path / "stdp"), str(tmp_path / "cnn"), "--out",
                 str(tmp_path / "merged"), "--json"]) == 0
    merged = json.loads(capsys.readouterr().out)
    assert list(merged["methods"]) == ["stdp", "cnn"]
    for m in ("stdp", "cnn"):
        assert [e["accuracy"] for e in merged["methods"][m]] == [e["accuracy"] for e in both["methods"][m]]
    assert (tmp_path / "merged" / "compare.md").read_text().count("| stdp |") == 1
    # another design (other sizes) or a method twice: a clear error
    assert main(base[:4] + ["30"] + base[5:] + ["--methods", "cnn", "--out", str(tmp_path / "other")]) == 0
    capsys.readouterr()
    assert main(["compare", "--merge", str(tmp_path / "stdp"), str(tmp_path / "other")]) == 2
    assert "train_sizes" in capsys.readouterr().err
    assert main(["compare", "--merge", str(tmp_path / "cnn"), str(tmp_path / "cnn")]) == 2
    assert "already" in capsys.readouterr().err


def test_without_jax_compare_names_the_extra(tmp_path):
    code = ("import sys; sys.modules['jax'] = None; sys.modules['optax'] = None\n"
            "from stdpnet.cli import main\n"
            f"sys.exit(main(['compare', '--data', 'synthetic:40', '--methods', 'cnn', '--out', r'{tmp_path}']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 2 and "stdpnet[backprop]" in r.stderr and "Traceback" not in r.stderr
