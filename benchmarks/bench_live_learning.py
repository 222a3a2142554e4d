"""Live learning figures (issue: live DVS stream learning). Prints, for this machine:

1. labelled N-MNIST replayed at x1 over loopback UDP into the ``nmnist`` net: drops, lag p50/p99 and
   the running accuracy, against the same samples in the same order learned offline. The samples
   are a seeded shuffle (``stdpnet send --shuffle``; the folder's own order is class by class). The
   running accuracy of one pass depends on sub-millisecond timing (shifting the whole offline stream
   by a fraction of a tick moves it by about 2 points), so both sides are distributions: ``--repeats``
   live runs against the offline learner at 8 sub-tick phases (0, 125, ..., 875 us);
2. the largest replay speed K (of 1, 2, 4, 8, 16) with zero loss of any kind (kernel, buffer, lag);
3. the Prophesee EVT2 sample (640x480, ~10 M events/s) paced at x1 into a 64x48 network: kept
   fraction per reduction stage, lag, and that learning goes on.

    python benchmarks/bench_live_learning.py [--samples 300] [--repeats 3] [--quick]

The sender runs in another process (``stdpnet send``), as a camera pipeline would.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

import streams  # noqa: E402
from stdpnet.experiment.config import build_config  # noqa: E402
from stdpnet.experiment.live import LiveOptions, run_live  # noqa: E402
from stdpnet.metrics import RunningAccuracy  # noqa: E402
from stdpnet.network import Network  # noqa: E402
from stdpnet.readouts import make_readout  # noqa: E402


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SHUFFLE_SEED = 0


def live_udp(root, n, speed, out):
    port, label_port = free_port(), free_port()
    config = build_config(net="nmnist", seed=0)
    listening = threading.Event()
    result = {}
    duration = n * 0.32 / speed + 6

    def learner():
        result["r"] = run_live(config, out, source=f"udp://127.0.0.1:{port}",
                               options=LiveOptions(duration_s=duration, label_port=label_port, n_classes=10),
                               on_start=listening.set)

    t = threading.Thread(target=learner)
    t.start()
    listening.wait(120)
    sender = subprocess.run([sys.executable, "-m", "stdpnet.cli", "send", f"nmnist:{root}", f"udp://127.0.0.1:{port}",
                             "--label-port", str(label_port), "--max-samples", str(n), "--shuffle", str(SHUFFLE_SEED),
                             "--speed", str(speed), "--json"],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    t.join()
    r = result["r"]
    r["sent"] = json.loads(sender.stdout)["sent"]
    return r


def offline_accuracy(root, n, phase_us=0):
    """Running accuracy of the offline learner on the samples ``stdpnet send --max-samples n
    --shuffle SHUFFLE_SEED`` plays, in that order, with every event and sample boundary shifted by
    ``phase_us`` (a sub-tick shift: where the tick boundaries fall, as on a receiver's clock)."""
    from stdpnet.cli.live import send_order

    config = build_config(net="nmnist", seed=0)
    net = Network.from_config(config.network_dict())
    data = streams.NMNISTFolder(root)
    readout = make_readout(config.readout.kind, net, 10, **config.readout.params)
    acc = RunningAccuracy()
    segments = streams.LabelledStream(data, indices=send_order(len(data), n, SHUFFLE_SEED), dt_us=net.dt_us)
    shifted = (streams.Segment(index=g.index, label=g.label, t_start=g.t_start + phase_us,
                               t_end=g.t_end + phase_us, events=_shift(g.events, phase_us)) for g in segments)
    for ch in streams.tick_chunks(shifted, dt_us=net.dt_us):
        acc.add(readout.process(net.run(ch), ch, net, True))
    acc.add(readout.flush(net))
    return acc.value, acc.samples


def _shift(events, us):
    out = events.copy()
    out["t"] += us
    return out


def looped(events, seconds):
    """The recording played again and again, end to end, for ``seconds`` (lazily, one copy at a time)."""
    span = int(events["t"][-1] - events["t"][0]) + 1
    for k in range(int(seconds * 1e6 // span)):
        ev = events.copy()
        ev["t"] = ev["t"] - events["t"][0] + k * span
        yield streams.Segment(index=k, label=-1, t_start=k * span, t_end=(k + 1) * span, events=ev)


def evt2(seconds):
    from streams.pacing import PacedSource

    samples = streams.data_root() / "samples"
    path = next(p for p in samples.iterdir() if "evt2" in p.name.lower() and p.suffix == ".raw")
    events, sensor = streams.read_events(str(path))
    config = build_config(net="64x48x2-16C5-P2-64", data="synthetic:2", seed=0)
    # one array for the whole stream: the pacer then only slices it (as a camera driver would hand over buffers)
    whole = np.concatenate([seg.events for seg in looped(events, seconds + 1)])
    src = PacedSource(whole, 1.0, sensor_size=sensor, buffer_events=1 << 20)
    return run_live(config, f"/tmp/bench-live-evt2-{os.getpid()}-{time.time():.0f}", source=src,
                    options=LiveOptions(speed=1.0, duration_s=seconds, max_events_per_tick=200, max_lag_ms=200))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3, help="live runs at x1 (the running accuracy varies between runs)")
    p.add_argument("--quick", action="store_true", help="fewer samples and speeds")
    a = p.parse_args()
    root = streams.data_root()
    if root is None or not (root / "nmnist" / "Train").is_dir():
        sys.exit("no data folder: set STDPNET_DATA")
    nm = str(root / "nmnist" / "Train")
    n = 40 if a.quick else a.samples
    tag = time.strftime("%H%M%S")
    live = []
    for rep in range(1 if a.quick else a.repeats):
        r = live_udp(nm, n, 1.0, f"/tmp/bench-live-x1-{tag}-{rep}")
        live.append(r["accuracy"])
        print(f"N-MNIST x1 over UDP, {n} samples (run {rep + 1}): sent {r['sent']:,}, received {r['received']:,}, "
              f"kernel drops {r['dropped_by_kernel']} datagrams, buffer {r['dropped_by_buffer']}, reduced "
              f"{r['reduced']} (by stage {r['reduced_by_stage']}), re-timed {r['retimed']}")
        print(f"  lag p50 {r['lag_ms_p50']:.1f} ms, p99 {r['lag_ms_p99']:.1f} ms; real-time factor "
              f"{r['realtime_factor']:.2f}; running accuracy {r['accuracy']:.3f} on {r['samples_decided']} samples",
              flush=True)
    offline = [offline_accuracy(nm, n, phase)[0] for phase in range(0, 1000, 125)]
    print(f"  running accuracy live {np.mean(live):.3f} +- {np.std(live, ddof=1) if len(live) > 1 else 0:.3f} "
          f"({len(live)} runs); offline, same samples and order, 8 sub-tick phases: {np.mean(offline):.3f} +- "
          f"{np.std(offline, ddof=1):.3f} (phase 0: {offline[0]:.3f}); difference {np.mean(live) - np.mean(offline):+.3f}")
    best = None
    for k in ([1, 4] if a.quick else [1, 2, 4, 8, 16]):
        rk = live_udp(nm, max(20, n // 2), float(k), f"/tmp/bench-live-speed{k}-{tag}")
        clean = rk["received"] == rk["sent"] and rk["dropped_by_buffer"] == 0 and rk["reduced"] == 0
        print(f"  x{k}: received {rk['received']:,}/{rk['sent']:,}, reduced {rk['reduced']:,}, lag p99 "
              f"{rk['lag_ms_p99']:.1f} ms -> {'zero loss' if clean else 'LOSS'}")
        if clean:
            best = k
        else:
            break
    print(f"largest speed with zero loss: x{best}")
    e = evt2(3.0 if a.quick else 10.0)
    total = e["received"]
    st = e["reduced_by_stage"]
    print(f"EVT2 sample x1 into 64x48x2-16C5-P2-64: received {total:,} events in {e['stream_s']:.1f} s of stream; "
          f"kept {e['processed_events'] / max(total, 1):.3f} (lag drop {st['lag'] / max(total, 1):.3f}, one-per-pixel "
          f"{st['one_per_pixel'] / max(total, 1):.3f}, rate cap {st['rate_cap'] / max(total, 1):.3f}); lag p99 "
          f"{e['lag_ms_p99']:.0f} ms; ticks learned {e['ticks_run']:,}")


if __name__ == "__main__":
    main()
