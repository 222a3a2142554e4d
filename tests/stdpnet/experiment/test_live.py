"""Live learning: a stream sent over loopback UDP with labels reaches the network and the readout
with every event accounted for; snapshots are written; a stopped live run can be evaluated and
resumed; an hour of silence costs nothing."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import streams
from stdpnet.cli import main
from stdpnet.experiment.config import build_config
from stdpnet.experiment.live import LiveOptions, run_live
from streams.live import send_stream


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_udp_stream_with_labels_is_learned_and_fully_accounted(tmp_path):
    port, label_port = _free_port(), _free_port()
    data = streams.SyntheticBars(n_samples=30, seed=0)
    config = build_config(net="synthetic", seed=0)
    result = {}
    listening = threading.Event()

    def learner():
        result["r"] = run_live(config, tmp_path / "run", source=f"udp://127.0.0.1:{port}",
                               options=LiveOptions(duration_s=8.0, label_port=label_port, n_classes=4),
                               on_start=listening.set)

    t = threading.Thread(target=learner)
    t.start()
    assert listening.wait(60)
    sent = send_stream(streams.LabelledStream(data), data.sensor_size, ("127.0.0.1", port),
                       ("127.0.0.1", label_port), speed=4.0)
    t.join(timeout=60)
    r = result["r"]
    assert r["dropped_by_kernel"] == 0 and r["dropped_by_buffer"] == 0 and r["rejected"] == 0
    assert r["received"] == sent["sent"]  # nothing lost silently
    assert r["processed_events"] + r["reduced"] <= r["received"]
    assert r["samples_decided"] > 0 and r["accuracy"] is not None  # labels reached the readout
    assert (tmp_path / "run" / "checkpoint.npz").exists()
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["received"] == sent["sent"]


def test_paced_recording_live_then_eval_and_resume(tmp_path, capsys):
    out = tmp_path / "live"
    snaps = tmp_path / "snaps"
    assert main(["live", "--source", "synthetic:20", "--speed", "20", "--duration", "4", "--out", str(out),
                 "--snapshots", str(snaps), "--every", "0.5", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["processed_events"] > 0 and r["received"] > 0 and r["lag_ms_p99"] is not None
    assert any(snaps.glob("live_*.png"))
    assert main(["eval", str(out), "--data", "synthetic:10", "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["samples"] == 10
    assert main(["live", "--source", "synthetic:10", "--speed", "20", "--duration", "2", "--resume", str(out),
                 "--json"]) == 0
    r2 = json.loads(capsys.readouterr().out)
    assert r2["processed_events"] > 0


def test_ctrl_c_during_live_saves_a_usable_run(tmp_path):
    out = tmp_path / "live"
    proc = subprocess.Popen([sys.executable, "-m", "stdpnet.cli", "live", "--source", "synthetic:200", "--speed", "1",
                             "--out", str(out), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    deadline = time.time() + 60
    while not (out / "split.json").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert (out / "checkpoint.npz").exists()
    assert json.loads((out / "metrics.json").read_text())["interrupted"] is True
    assert main(["live", "--source", "synthetic:5", "--speed", "50", "--duration", "1", "--resume", str(out),
                 "--quiet"]) == 0
