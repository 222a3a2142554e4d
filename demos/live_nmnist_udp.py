"""Send N-MNIST over loopback UDP at x1 (aestream's datagram format, labels on a side channel) and
watch the nmnist network learn it live.

    python demos/live_nmnist_udp.py [--data DIR] [--samples 200] [--speed 1] [--view] [--out runs/demo-live]

The learner is ``stdpnet live --source udp://127.0.0.1:PORT --label-port PORT2`` (another process);
this script sends the recordings with ``stdpnet send`` semantics (streams.live.send_stream) and
prints the learner's report: events received, dropped (kernel, buffer), rejected, reduced, lag and
running accuracy. ``--view`` opens the live window (needs a display); without it, PNG snapshots
go to OUT/snapshots every second.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

import streams  # noqa: E402
from streams.live import send_stream  # noqa: E402


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="N-MNIST folder (default: $STDPNET_DATA/nmnist/Train)")
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--view", action="store_true")
    p.add_argument("--out", default="runs/demo-live")
    a = p.parse_args()
    root = a.data or (streams.data_root() and str(streams.data_root() / "nmnist" / "Train"))
    if not root or not os.path.isdir(root):
        sys.exit("no N-MNIST folder: pass --data DIR or set STDPNET_DATA")
    data = streams.NMNISTFolder(root)
    idx = np.random.default_rng(0).permutation(len(data))[: a.samples]
    port, label_port = free_port(), free_port()
    duration = a.samples * 0.32 / a.speed + 5  # ~310 ms per recording, plus start-up
    cmd = [sys.executable, "-m", "stdpnet.cli", "live", "--source", f"udp://127.0.0.1:{port}", "--net", "nmnist",
           "--label-port", str(label_port), "--duration", f"{duration:.0f}", "--out", a.out, "--json"]
    cmd += ["--view"] if a.view else ["--snapshots", os.path.join(a.out + "-snapshots"), "--every", "1"]
    learner = subprocess.Popen(cmd, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.getcwd()})
    time.sleep(4.0)  # the learner loads its kernels and binds its sockets
    print(f"sending {len(idx)} N-MNIST recordings to udp://127.0.0.1:{port} at x{a.speed} ...", flush=True)
    sent = send_stream(streams.LabelledStream(data, indices=idx), data.sensor_size, ("127.0.0.1", port),
                       ("127.0.0.1", label_port), speed=a.speed)
    print(f"sent {sent['sent']:,} events in {sent['datagrams']:,} datagrams ({sent['wall_s']:.1f} s)")
    out, _ = learner.communicate(timeout=duration + 120)
    report = json.loads(out)
    keys = ("received", "dropped_by_kernel", "dropped_by_buffer", "rejected", "reduced", "processed_events",
            "lag_ms_p50", "lag_ms_p99", "realtime_factor", "accuracy", "samples_decided")
    for k in keys:
        print(f"  {k:18s} {report[k]}")
    print(f"run directory: {report['run_dir']} (evaluate with: stdpnet eval {report['run_dir']} --data nmnist:{root})")


if __name__ == "__main__":
    main()
