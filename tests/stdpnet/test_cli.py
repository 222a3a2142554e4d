"""The thin CLI: exit statuses, one-line errors, stops and resume, every command through the resolver."""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import streams
from stdpnet import Network, ParameterError
from stdpnet.cli import main
from stdpnet.experiment.config import build_config
from stdpnet.experiment.protocol import train

from .experiment.conftest import assert_same_learning, load_state

ROOT = Path(__file__).resolve().parents[2]


def cli(*args, **kw):
    """Run ``python -m stdpnet.cli ARGS`` from the repository root (this work tree's packages)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "stdpnet.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def finish(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


# --------------------------------------------------------------------------------------------
# subprocess level: exit statuses and one-line errors
# --------------------------------------------------------------------------------------------
def test_version_and_user_errors_are_one_line(tmp_path):
    code, out, _ = finish(cli("--version"))
    assert code == 0 and out.strip() == "stdpnet 0.1.0"
    bad = tmp_path / "bad.toml"
    bad.write_text("[layers.conv1]\ntheta_learn = '8'\n")
    for args, expected in [
        (["train", "--data", "imagenet:/x", "--out", str(tmp_path / "a")], "unknown data source"),
        (["train", "--config", str(bad), "--out", str(tmp_path / "b")], "layers.conv1.theta_learn must be a number"),
        (["train", "--resume", str(tmp_path), "--net", "nmnist", "--epochs", "2"], "--net, --epochs would be ignored"),
        (["eval", str(tmp_path / "nothing")], "does not exist"),
    ]:
        code, out, err = finish(cli(*args))
        assert code == 2, (args, err)
        assert err.count("\n") == 1 and err.startswith(f"stdpnet {args[0]}: error: ") and expected in err, err
        assert "Traceback" not in err


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_resume_after_a_kill_is_bit_identical(tmp_path, sig, capsys):
    options = dict(data="synthetic:300", epochs=3, val_fraction=0.1, checkpoint_every_samples=20)
    train(build_config(**options), tmp_path / "whole", progress=False, make_plots=False)
    out = tmp_path / "killed"
    proc = cli("train", "--data", "synthetic:300", "--epochs", "3", "--val-fraction", "0.1", "--checkpoint-every", "20",
               "--out", str(out), "--quiet", "--no-plots")
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.npz").exists():  # the first periodic checkpoint
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    # a second run into the same directory is refused while this one holds it
    assert main(["train", "--resume", str(out), "--quiet"]) == 2
    assert "in use by another run" in capsys.readouterr().err
    time.sleep(random.Random(sig).uniform(0.0, 0.4))
    assert proc.poll() is None, "the run ended before it could be stopped; make it longer"
    proc.send_signal(sig)
    code, stdout, err = finish(proc)
    if sig == signal.SIGTERM:  # finish the chunk, save, exit 130
        assert code == 130 and "stopped (SIGTERM)" in stdout and "--resume" in stdout, (stdout, err)
    else:
        assert code == -signal.SIGKILL
    state = load_state(out)
    assert state["phase"] == "train" and state["network"]["now"] > 0
    (out / "checkpoint.npz.tmp").write_bytes(b"partial")  # as a kill during a save would leave
    code, stdout, err = finish(cli("train", "--resume", str(out), "--quiet", "--no-plots", "--json"))
    assert code == 0, err
    assert json.loads(stdout)["validation"]["samples"] == 30
    assert_same_learning(tmp_path / "whole", out)
    assert not (out / "checkpoint.npz.tmp").exists()


# --------------------------------------------------------------------------------------------
# in process
# --------------------------------------------------------------------------------------------
def test_cli_train_and_eval_on_the_synthetic_default(tmp_path, capsys):
    assert main(["train", "--data", "synthetic:60", "--out", str(tmp_path / "r"), "--quiet", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["validation"]["samples"] == 12
    assert any(p.endswith(".png") for p in summary["plots"])
    assert main(["eval", str(tmp_path / "r"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["samples"] == 12 and report["accuracy"] == summary["validation"]["accuracy"]
    assert main(["eval", str(tmp_path / "r"), "--max-samples", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 5
    assert main(["eval", str(tmp_path / "r")]) == 0
    assert "confusion" in capsys.readouterr().out


def test_mismatched_sensor_is_refused_with_advice(tmp_path, capsys):
    assert main(["train", "--net", "nmnist", "--data", "synthetic:10", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "expects 34x34x2" in err and "--net synthetic" in err


def test_an_unlabelled_folder_reports_no_readout(tmp_path, capsys):
    from .experiment.conftest import write_bars_folder

    folder = write_bars_folder(tmp_path / "rec", 6, labelled=False)
    assert main(["train", "--data", str(folder), "--out", str(tmp_path / "r"), "--quiet", "--no-plots"]) == 0
    assert "unlabelled source: features learned, no readout" in capsys.readouterr().out


def test_live_sources_belong_to_stdpnet_live(tmp_path, capsys):
    assert main(["train", "--data", "udp://127.0.0.1:7777", "--out", str(tmp_path / "r")]) == 2
    assert "used by `stdpnet live`" in capsys.readouterr().err


def test_internal_errors_ask_for_a_report(monkeypatch, capsys):
    import stdpnet.cli.info as info

    def broken(a):
        raise RuntimeError("boom")

    monkeypatch.setattr(info, "cmd_info", broken)
    assert main(["info", "x"]) == 1
    err = capsys.readouterr().err
    assert "internal error" in err and "please report" in err and "RuntimeError: boom" in err


def test_ctrl_c_outside_training_exits_130(monkeypatch, capsys):
    import stdpnet.cli.info as info

    def interrupted(a):
        raise KeyboardInterrupt

    monkeypatch.setattr(info, "cmd_info", interrupted)
    assert main(["info", "x"]) == 130
    assert capsys.readouterr().err.strip() == "stdpnet info: interrupted"


def test_every_option_has_help():
    from stdpnet.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        for action in p._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"


def test_info_json_on_the_nmnist_sample(capsys):
    root = streams.data_root()
    if root is None:
        pytest.skip("data folder absent (set STDPNET_DATA)")
    assert main(["info", str(root / "samples" / "sample_nmnist.bin"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["events"] == 4325 and info["sensor"] == [34, 34, 2] and info["duration_us"] > 0


def test_info_on_a_dataset_folder(capsys):
    root = streams.data_root()
    if root is None or not (root / "nmnist" / "Train").is_dir():
        pytest.skip("N-MNIST data folder absent (set STDPNET_DATA)")
    assert main(["info", str(root / "nmnist" / "Train"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["samples"] == 800 and info["classes"] == 10


def test_info_on_a_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nope.bin")]) == 2
    assert "nope.bin" in capsys.readouterr().err


def test_bench_json_has_the_tracked_keys(capsys):
    assert main(["bench", "--net", "synthetic", "--data", "synthetic:20", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    for key in ("train_events_per_s", "infer_events_per_s", "realtime_factor", "synops_per_s", "peak_rss_mb", "compile_s"):
        assert r[key] > 0, key


def test_train_on_two_threads_gives_the_same_run(monkeypatch, tmp_path, capsys):
    # train/eval/live --threads reach every network they build through STDPNET_THREADS
    monkeypatch.delenv("STDPNET_THREADS", raising=False)
    summaries = []
    for threads in ("1", "2"):
        assert main(["train", "--data", "synthetic:60", "--out", str(tmp_path / threads), "--quiet", "--json",
                     "--no-plots", "--threads", threads]) == 0
        assert os.environ["STDPNET_THREADS"] == threads
        summaries.append(json.loads(capsys.readouterr().out))
    one, two = summaries
    for key in ("accuracy", "samples", "correct", "confusion"):
        assert one["validation"].get(key) == two["validation"].get(key), key
    assert one["running_accuracy"] == two["running_accuracy"] and one["validation"]["samples"] == 12
    assert one["train"]["events"] == two["train"]["events"]


def test_threads_option_of_bench_and_of_the_commands_that_build_networks(monkeypatch, capsys):
    monkeypatch.delenv("STDPNET_THREADS", raising=False)
    assert main(["bench", "--net", "synthetic", "--samples", "3", "--threads", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["threads"] == 2
    assert main(["bench", "--net", "synthetic", "--samples", "3", "--threads", "2", "--profile"]) == 2
    assert "without --threads" in capsys.readouterr().err
    monkeypatch.setenv("STDPNET_THREADS", "2")
    assert Network.from_spec("synthetic").threads == 2
    assert main(["bench", "--net", "synthetic", "--samples", "3", "--json"]) == 0  # bench follows it too
    assert json.loads(capsys.readouterr().out)["threads"] == 2
    assert main(["bench", "--net", "synthetic", "--samples", "3", "--profile", "--json"]) == 0  # profiled: serial
    assert json.loads(capsys.readouterr().out)["threads"] == 1
    monkeypatch.setenv("STDPNET_THREADS", "4")
    with pytest.raises(ParameterError, match="STDPNET_THREADS must be 1 or 2"):
        Network.from_spec("synthetic")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # brian2's use of pyparsing
def test_bench_and_crosscheck_of_the_synthetic_preset_use_its_data(capsys):
    assert main(["bench", "--net", "synthetic", "--samples", "5", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["data"] == "synthetic:2000" and r["samples"] == 5
    pytest.importorskip("brian2")
    assert main(["crosscheck", "--net", "synthetic", "--samples", "1", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["identical"] is True


def test_bench_without_data_draws_synthetic_bars_on_the_network_sensor(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("STDPNET_DATA", str(tmp_path / "absent"))
    assert main(["bench", "--net", "34x34x2-4C5-P2-8", "--samples", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 2


@pytest.mark.data
def test_cli_train_and_eval_on_real_nmnist_recordings(tmp_path, capsys):
    root = streams.data_root()
    if root is None or not (root / "nmnist" / "Train").is_dir():
        pytest.skip("N-MNIST data folder absent (set STDPNET_DATA)")
    out = tmp_path / "nm"
    assert main(["train", "--net", "nmnist", "--max-train", "12", "--max-val", "6", "--epochs", "1",
                 "--out", str(out), "--quiet", "--no-plots", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["train_samples"] == 12 and summary["validation"]["samples"] == 6
    assert summary["data"] == f"nmnist:{root / 'nmnist' / 'Train'}"  # the preset's data, absolute
    assert summary["train"]["spikes_per_sample"]["fc1"]["inference"] > 0
    assert main(["eval", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 6


# --------------------------------------------------------------------------------------------
# a researcher's first hour: several seeds, parallel evaluation, feedback
# --------------------------------------------------------------------------------------------
def test_seeds_on_workers_stop_on_sigterm_and_resume_bit_identically(tmp_path):
    options = dict(data="synthetic:200", epochs=3, val_fraction=0.1, checkpoint_every_samples=20)
    for s in (0, 1):
        train(build_config(seed=s, **options), tmp_path / f"whole-{s}", progress=False, make_plots=False)
    out = tmp_path / "seeds"
    proc = cli("train", "--data", "synthetic:200", "--epochs", "3", "--val-fraction", "0.1", "--checkpoint-every", "20",
               "--repeat", "2", "--workers", "2", "--out", str(out), "--no-plots")
    deadline = time.monotonic() + 180
    while not all((out / f"seed-{s}" / "checkpoint.npz").exists() for s in (0, 1)):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    assert proc.poll() is None, "the seeds ended before they could be stopped; make them longer"
    proc.send_signal(signal.SIGTERM)  # to the parent only: it must stop its workers
    code, stdout, err = finish(proc)
    assert code == 130, (stdout, err)
    assert "stopped: 0 of 2 seeds finished" in stdout and f"--resume {out}" in stdout
    assert "Traceback" not in err
    for s in (0, 1):
        assert load_state(out / f"seed-{s}")["phase"] == "train"
    code, stdout, err = finish(cli("train", "--resume", str(out), "--workers", "2", "--quiet", "--no-plots", "--json"))
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["finished"] == 2 and summary["metrics"]["val_accuracy"]["n"] == 2
    for s in (0, 1):
        assert_same_learning(tmp_path / f"whole-{s}", out / f"seed-{s}")


def test_cli_seeds_and_parallel_eval(tmp_path, capsys):
    assert main(["train", "--data", "synthetic:60", "--seeds", "0,3", "--out", str(tmp_path / "s"), "--no-plots",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 seeds of 16x16x2-8C5-P2-32 on synthetic:60") and "+-" in out
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["results.csv", "run.log", "seed-0", "seed-3",
                                                                   "seeds.json", "summary.json"]
    assert main(["train", "--seeds", "1", "--seed", "2", "--out", str(tmp_path / "x")]) == 2
    assert "--seed and --seeds" in capsys.readouterr().err
    run = str(tmp_path / "s" / "seed-3")
    assert main(["eval", run, "--json"]) == 0
    serial = json.loads(capsys.readouterr().out)
    assert main(["eval", run, "--workers", "2", "--shard-samples", "5", "--json", "--quiet"]) == 0
    parallel = json.loads(capsys.readouterr().out)
    assert main(["eval", run, "--shard-samples", "5", "--json"]) == 0
    same_shards = json.loads(capsys.readouterr().out)
    assert parallel["confusion"] == same_shards["confusion"] and parallel["shard_samples"] == 5
    assert serial["shard_samples"] == 20 and serial["samples"] == parallel["samples"] == 12


def test_bench_progress_goes_to_stderr_and_quiet_silences_it(capsys):
    assert main(["bench", "--net", "synthetic", "--data", "synthetic:5"]) == 0
    err = capsys.readouterr().err
    assert "bench: training" in err and "5/5" in err and "bench: inference" in err
    assert main(["bench", "--net", "synthetic", "--data", "synthetic:5", "--quiet", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and json.loads(captured.out)["compile_s"] > 0
