"""Kernel warm-up: the cold-cache probe, the announcement before the wait, compile time kept apart."""
import os
import subprocess
import sys
from pathlib import Path

from stdpnet.experiment import warmup
from stdpnet.experiment.warmup import COMPILE_NOTICE, kernels_cached, warm_up_kernels

ROOT = Path(__file__).resolve().parents[3]


def test_the_cache_probe_reads_numbas_index_without_compiling(tmp_path):
    """An empty cache folder is cold; this work tree's cache is warm once the kernels ran."""
    warm_up_kernels()
    assert kernels_cached() is True
    probe = ("from stdpnet.experiment.warmup import kernels_cached; from stdpnet.kernels import run_ticks;"
             "print(kernels_cached(), len(run_ticks.overloads))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(tmp_path / "empty-cache")}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "0"]  # cold, and nothing was compiled to find out


def test_a_cold_cache_is_announced_before_the_wait_and_timed_apart(monkeypatch):
    said = []

    def say(line):  # what the user has been told by the time the kernels run
        said.append(line)

    ran = []
    real_run = warmup._run_tiny

    def run_tiny_and_note(precisions):
        ran.append(list(said))
        real_run(precisions)

    monkeypatch.setattr(warmup, "_done", None)
    monkeypatch.setattr(warmup, "_warm_precisions", set())
    monkeypatch.setattr(warmup, "kernels_cached", lambda: False)  # as in a fresh install
    monkeypatch.setattr(warmup, "_run_tiny", run_tiny_and_note)
    w = warm_up_kernels(announce=say)
    assert ran == [[COMPILE_NOTICE]]  # announced first, then the warm-up ran
    assert said[0] == COMPILE_NOTICE and said[1].startswith("kernels compiled in ") and len(said) == 2
    assert w.announced and w.compile_s > 0
    # a second call in the same process does nothing and says nothing
    assert warm_up_kernels(announce=say) is w and len(said) == 2
    assert warm_up_kernels(announce=say, precision="float32") is w and len(ran) == 1


def test_warm_up_loads_only_the_precision_asked_for(monkeypatch):
    warmed = []
    monkeypatch.setattr(warmup, "_done", None)
    monkeypatch.setattr(warmup, "_warm_precisions", set())
    monkeypatch.setattr(warmup, "_run_tiny", lambda precisions: warmed.append(tuple(precisions)))
    warm_up_kernels(precision="float32")
    warm_up_kernels(precision="float32")  # already warm
    warm_up_kernels()  # both: only float64 is left
    assert warmed == [("float32",), ("float64",)]


def test_a_warm_cache_is_not_announced(monkeypatch):
    said = []
    monkeypatch.setattr(warmup, "_done", None)
    monkeypatch.setattr(warmup, "_warm_precisions", set())
    w = warm_up_kernels(announce=said.append)
    assert said == [] and not w.announced
    assert w.from_cache in (True, None)  # None: the kernels were already loaded in this process
    assert w.to_dict()["compile_s"] >= 0
