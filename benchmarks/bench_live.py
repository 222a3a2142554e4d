"""Live input over loopback UDP: ingest rate, N-MNIST replay speed, and a real DVS recording
reduced for a simulator on the wall clock.

Three measurements (the sender always runs in its own process, as aestream would):

1. **Ingest rate.** Synthetic events paced at R events/s (1 s each, sensor 128x128x2) into a
   :class:`streams.live.UDPReceiver` drained by a consumer that only polls. Reported per rate:
   events sent and received, losses by stage, sender lateness. "Zero loss" means received ==
   sent exactly. Also one unpaced burst (``speed=inf``).
2. **N-MNIST replay.** Recordings from ``nmnist/Train`` laid end to end, sent with their labels
   (:func:`streams.live.send_stream`) at K x real time for about 2 s of wall time each; the
   largest K with zero event and zero label loss.
3. **Prophesee EVT2 sample at x1** (640x480, ~11 M events/s; looped to last ``--evt2-seconds``)
   through a :class:`streams.live.WallClockTicker` to a 64x48x2 network input with a rate cap,
   feeding a real stdpnet network (``--net``; ``--no-net``: a consumer that only ticks): kept
   fraction per reduction stage, lag, and transport loss. Run twice: over UDP, and in-process
   with :class:`streams.pacing.PacedSource` (no transport).

Usage: ``python benchmarks/bench_live.py [--quick] [--json [PATH]]``.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import time
from typing import Dict, Iterator, List, Optional

import numpy as np

import streams
from streams.live import UDPReceiver, WallClockTicker, send_events, send_stream
from streams.pacing import PacedSource

LOOPBACK = "127.0.0.1"
SYNTH_SENSOR = (128, 128, 2)
EVT2_NET_INPUT = (64, 48, 2)


# ---- sender processes ------------------------------------------------------------------------
def synthetic_slabs(rate: float, seconds: float, sensor=SYNTH_SENSOR, slab: int = 1 << 16) -> Iterator[np.ndarray]:
    """``rate`` events/s for ``seconds``, generated slab by slab (flat memory)."""
    rng = np.random.default_rng(0)
    width, height, polarities = sensor
    pattern = streams.make_events(rng.integers(0, width, slab), rng.integers(0, height, slab),
                                  np.zeros(slab, np.int64), rng.integers(0, polarities, slab))
    total = int(rate * seconds)
    for first in range(0, total, slab):
        events = pattern[: min(slab, total - first)].copy()
        events["t"] = ((first + np.arange(len(events))) * (1e6 / rate)).astype(np.int64)
        yield events


def looped_recording(events: np.ndarray, seconds: float, slab: int = 1 << 18) -> Iterator[np.ndarray]:
    """The recording repeated end to end until ``seconds`` of stream time (shifted copies)."""
    t0, t1 = int(events["t"][0]), int(events["t"][-1]) + 1
    duration = t1 - t0
    for repeat in range(max(1, math.ceil(seconds * 1e6 / duration))):
        for first in range(0, len(events), slab):
            part = events[first:first + slab].copy()
            part["t"] += repeat * duration - t0
            yield part


class _InMemory:
    """A labelled data set held in memory (so the sender measures sending, not file reading)."""

    def __init__(self, dataset, n: int):
        self.samples = [dataset[i] for i in range(min(n, len(dataset)))]
        self.sensor_size = dataset.sensor_size

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


def _sender(job: Dict, address, label_address, ready, go, results) -> None:
    kind = job["kind"]
    if kind == "synthetic":
        slabs = synthetic_slabs(job["rate"], job["seconds"])
        first = next(slabs)
        ready.set(), go.wait()
        report = send_events(_chain(first, slabs), SYNTH_SENSOR, address, job["speed"])
    elif kind == "nmnist":
        data = _InMemory(streams.NMNISTFolder(job["root"]), job["n_samples"])
        stream = streams.LabelledStream(data, epochs=job["epochs"])
        ready.set(), go.wait()
        report = send_stream(stream, data.sensor_size, address, label_address, job["speed"])
    elif kind == "evt2":
        events, sensor = streams.read_events(job["path"])
        ready.set(), go.wait()
        report = send_events(looped_recording(events, job["seconds"]), sensor, address, 1.0)
    else:
        raise ValueError(kind)
    results.put(report)


def _chain(first, rest):
    yield first
    yield from rest


def run_sender(job: Dict, address, label_address=None):
    """Start the sender process; returns (process, go event, results queue) once it is ready."""
    ctx = mp.get_context("spawn")
    ready, go, results = ctx.Event(), ctx.Event(), ctx.Queue()
    process = ctx.Process(target=_sender, args=(job, address, label_address, ready, go, results), daemon=True)
    process.start()
    if not ready.wait(120):
        raise RuntimeError("sender process did not get ready")
    return process, go, results


def consume_until_done(rx, process, results, labels=None, on_poll=None, settle_s: float = 0.3):
    """Poll (or call ``on_poll``, which drains ``rx``) until the sender has finished and nothing more
    arrives; returns the sender's report."""
    report = None
    quiet_since = None
    marks = 0
    last_arrival = time.perf_counter()
    while True:
        if on_poll is None:
            got = len(rx.poll())
        else:
            before = rx.counters()["delivered"]
            on_poll()
            got = rx.counters()["delivered"] - before
        if got:
            last_arrival = time.perf_counter()
        if labels is not None:
            marks += len(labels.poll())
        if report is None and not results.empty():
            report = results.get()
        if report is not None:
            if got:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > settle_s:
                break
        time.sleep(0.0005)
    process.join(10)
    report["marks_received"] = marks
    report["last_arrival"] = last_arrival
    return report


# ---- 1. ingest rate --------------------------------------------------------------------------
def ingest(rate: float, seconds: float = 1.0, speed: float = 1.0) -> Dict:
    with UDPReceiver(LOOPBACK, 0, SYNTH_SENSOR) as rx:
        process, go, results = run_sender(dict(kind="synthetic", rate=rate, seconds=seconds, speed=speed),
                                          (LOOPBACK, rx.port))
        start = time.perf_counter()
        go.set()
        report = consume_until_done(rx, process, results)
        counts = rx.counters()
    return dict(
        rate=rate, speed=speed, achieved_rate=report["sent"] / max(report["wall_s"], 1e-9),
        sent=report["sent"], received=counts["received"],
        lost=report["sent"] - counts["received"], dropped_by_kernel_datagrams=counts["dropped_by_kernel"],
        dropped_by_buffer=counts["dropped_by_buffer"], rejected=counts["rejected"],
        late_batches=report["late_batches"], sender_wall_s=report["wall_s"],
        received_per_s=counts["received"] / max(report["last_arrival"] - start, 1e-9), rcvbuf_bytes=rx.rcvbuf_bytes,
    )


# ---- 2. N-MNIST replay -----------------------------------------------------------------------
def nmnist_replay(root, speed: float, wall_s: float = 2.0, n_samples: int = 200) -> Dict:
    sample_s = 0.31  # an N-MNIST recording lasts about 300 ms
    total = max(1, math.ceil(wall_s * speed / sample_s))
    epochs = max(1, math.ceil(total / n_samples))
    with UDPReceiver(LOOPBACK, 0, (34, 34, 2)) as rx, rx.open_labels(port=0) as labels:
        job = dict(kind="nmnist", root=str(root), n_samples=min(n_samples, total), epochs=epochs, speed=speed)
        process, go, results = run_sender(job, (LOOPBACK, rx.port), (LOOPBACK, labels.port))
        go.set()
        report = consume_until_done(rx, process, results, labels)
        counts = rx.counters()
        label_counts = labels.counters()
    return dict(
        speed=speed, samples=min(n_samples, total) * epochs, sent=report["sent"], received=counts["received"],
        lost=report["sent"] - counts["received"], dropped_by_kernel_datagrams=counts["dropped_by_kernel"],
        dropped_by_buffer=counts["dropped_by_buffer"], marks_sent=report["marks"],
        marks_received=label_counts["received"], late_batches=report["late_batches"],
        max_lag_ms=1e3 * report["max_lag_s"], sender_wall_s=report["wall_s"],
        achieved_speed=report["stream_s"] / max(report["wall_s"], 1e-9),
        events_per_s=report["sent"] / max(report["wall_s"], 1e-9),
    )


# ---- 3. EVT2 through the ticker --------------------------------------------------------------
def make_network(spec: Optional[str]):
    """The network fed by the EVT2 runs, compiled and warmed up (the JIT must not count as lag)."""
    if not spec:
        return None
    from stdpnet import Network  # the benchmark may use the model; the streams package never does

    net = Network.from_spec(spec, seed=0)
    warm = streams.make_events([1, 2], [1, 2], [0, 1], [0, 1])
    net.run(streams.TickChunk(0, net.dt_us, warm, np.array([0, 2]), np.array([-1]), np.array([-1])))
    return Network.from_spec(spec, seed=0)


def run_ticks_into(net, ticker, source, simulated: List[int]):
    for chunk in ticker.feed(source):
        if net is not None:
            net.run(chunk)
        simulated[0] += len(chunk.events)


def evt2_summary(ticker, transport: Dict, wall_s: float, simulated: int) -> Dict:
    c = ticker.counters()
    pushed = max(c["pushed"], 1)
    return dict(
        transport, events_in=c["pushed"], dropped_by_lag=c["dropped_by_lag"],
        kept_after_lag=c["closed"] / pushed,
        kept_downsample=c["after_downsample"] / max(c["closed"], 1),
        kept_one_per_pixel=c["after_one_per_pixel"] / max(c["after_downsample"], 1),
        kept_rate_cap=c["after_rate_cap"] / max(c["after_one_per_pixel"], 1),
        kept_overall=c["after_rate_cap"] / pushed, events_simulated=simulated,
        ticks_over_cap=c["ticks_over_cap"], ticks_closed=c["ticks_closed"], late=c["late"], early=c["early"],
        lag_ms_last=c["lag_us"] / 1e3, lag_ms_max=c["max_lag_us"] / 1e3, wall_s=wall_s,
    )


def evt2_udp(path, seconds: float, cap: int, net_spec: Optional[str], max_lag_us: int) -> Dict:
    net = make_network(net_spec)
    sensor = streams.read_events(path)[1]
    with UDPReceiver(LOOPBACK, 0, sensor) as rx:
        ticker = WallClockTicker(1000, sensor, EVT2_NET_INPUT, cap, seed=0, clock=rx.now_us, max_lag_us=max_lag_us)
        process, go, results = run_sender(dict(kind="evt2", path=str(path), seconds=seconds), (LOOPBACK, rx.port))
        simulated = [0]
        start = time.perf_counter()
        go.set()
        report = consume_until_done(rx, process, results, on_poll=lambda: run_ticks_into(net, ticker, rx, simulated))
        run_ticks_into(net, ticker, rx, simulated)
        counts = rx.counters()
    transport = dict(path="udp", sent=report["sent"], received=counts["received"],
                     lost_in_transport=report["sent"] - counts["received"],
                     dropped_by_kernel_datagrams=counts["dropped_by_kernel"],
                     dropped_by_buffer=counts["dropped_by_buffer"], sender_late_batches=report["late_batches"])
    return evt2_summary(ticker, transport, time.perf_counter() - start, simulated[0])


def evt2_in_process(path, seconds: float, cap: int, net_spec: Optional[str], max_lag_us: int) -> Dict:
    net = make_network(net_spec)
    events, sensor = streams.read_events(path)
    looped = np.concatenate(list(looped_recording(events, seconds)))
    simulated = [0]
    with PacedSource(looped, 1.0, sensor_size=sensor) as source:
        ticker = WallClockTicker(1000, sensor, EVT2_NET_INPUT, cap, seed=0, clock=source.now_us, max_lag_us=max_lag_us)
        start = time.perf_counter()
        while not source.finished:
            run_ticks_into(net, ticker, source, simulated)
            time.sleep(0.0005)
        for chunk in ticker.close(source.now_us() + 3000):  # the last open ticks
            if net is not None:
                net.run(chunk)
            simulated[0] += len(chunk.events)
        counts = source.counters()
    transport = dict(path="in-process", sent=len(looped), received=counts["received"],
                     lost_in_transport=len(looped) - counts["received"], dropped_by_buffer=counts["dropped_by_buffer"])
    return evt2_summary(ticker, transport, time.perf_counter() - start, simulated[0])


# ---- driver ----------------------------------------------------------------------------------
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rates and speeds")
    parser.add_argument("--rates", type=float, nargs="*", default=None, help="ingest rates, M events/s")
    parser.add_argument("--speeds", type=float, nargs="*", default=None, help="N-MNIST replay speeds")
    parser.add_argument("--evt2-seconds", type=float, default=1.0)
    parser.add_argument("--cap", type=int, default=30,
                        help="max_events_per_tick for the EVT2 run (1 ms ticks; the default network takes ~1 ms "
                             "per tick of 100 events on the 2-core reference machine)")
    parser.add_argument("--max-lag-ms", type=float, default=200.0)
    parser.add_argument("--net", default="64x48x2-16C5-P2-64", help="stdpnet spec fed by the EVT2 run")
    parser.add_argument("--no-net", action="store_true")
    parser.add_argument("--parts", type=int, nargs="*", default=[1, 2, 3], help="which measurements (1 2 3)")
    parser.add_argument("--json", nargs="?", const="-", default=None)
    args = parser.parse_args(argv)
    rates = args.rates or ([1, 2, 4] if args.quick else [1, 2, 4, 6, 8])
    speeds = args.speeds or ([10, 100] if args.quick else [10, 30, 100, 200, 400])
    root = streams.data_root()
    results: Dict[str, object] = {"load_average_at_start": os.getloadavg()[0], "cpus": os.cpu_count()}
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    if 1 in args.parts:
        ingest_part(rates, results)
    if 2 in args.parts:
        nmnist_part(root, speeds, results)
    if 3 in args.parts:
        evt2_part(root, args, results)
    if args.json:
        text = json.dumps(results, indent=2, default=float)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w") as f:
                f.write(text)
    return 0


def ingest_part(rates, results) -> None:
    print("1. loopback ingest, paced at x1 (1 s each), sensor 128x128x2")
    results["ingest"] = []
    for rate in rates:
        r = ingest(rate * 1e6)
        results["ingest"].append(r)
        print(f"   {rate:4.1f} M ev/s asked, {r['achieved_rate'] / 1e6:4.2f} achieved by the sender: sent "
              f"{r['sent']:>9,} received {r['received']:>9,} lost {r['lost']:>8,} (kernel "
              f"{r['dropped_by_kernel_datagrams']} datagrams, buffer {r['dropped_by_buffer']}) late batches {r['late_batches']}")
    burst = ingest(4e6, seconds=1.0, speed=math.inf)
    results["ingest_burst"] = burst
    print(f"   burst (speed=inf, 4 M events): received {burst['received']:,} of {burst['sent']:,} "
          f"at {burst['received_per_s'] / 1e6:.2f} M ev/s; kernel drops {burst['dropped_by_kernel_datagrams']} datagrams")
    zero = [r["achieved_rate"] for r in results["ingest"] if r["lost"] == 0]
    print(f"   highest zero-loss rate achieved: {max(zero) / 1e6 if zero else 0:.2f} M ev/s "
          f"(rcvbuf {burst['rcvbuf_bytes']:,} B)")


def nmnist_part(root, speeds, results) -> None:
    if root is not None and (root / "nmnist" / "Train").is_dir():
        print("2. N-MNIST replay with labels, about 2 s of wall time per speed")
        results["nmnist"] = []
        for speed in speeds:
            r = nmnist_replay(root / "nmnist" / "Train", speed)
            results["nmnist"].append(r)
            print(f"   x{speed:<5g} asked, x{r['achieved_speed']:.0f} achieved, {r['samples']:>5} samples: sent "
                  f"{r['sent']:>9,} lost {r['lost']:>7,} marks {r['marks_received']}/{r['marks_sent']} late batches "
                  f"{r['late_batches']} ({r['events_per_s'] / 1e6:.2f} M ev/s, max lag {r['max_lag_ms']:.1f} ms)")
        ok = [r["achieved_speed"] for r in results["nmnist"] if r["lost"] == 0 and r["marks_received"] == r["marks_sent"]]
        print(f"   largest speed achieved with zero loss: x{max(ok) if ok else 0:.0f}")
    else:
        print("2. N-MNIST replay: skipped (no nmnist/Train in the data folder)")


def evt2_part(root, args, results) -> None:
    evt2 = sorted((root / "samples").glob("*evt2*.raw")) if root is not None else []
    if evt2:
        net_spec = None if args.no_net else args.net
        print(f"3. {evt2[0].name} at x1 ({args.evt2_seconds:g} s, looped) -> ticker 64x48x2, cap "
              f"{args.cap}/tick, max lag {args.max_lag_ms:g} ms, network {net_spec or 'none'}")
        results["evt2"] = []
        for run in (evt2_udp, evt2_in_process):
            r = run(evt2[0], args.evt2_seconds, args.cap, net_spec, int(args.max_lag_ms * 1000))
            results["evt2"].append(r)
            print(f"   {r['path']:>10}: sent {r['sent']:,}, lost in transport {r['lost_in_transport']:,} (kernel "
                  f"{r.get('dropped_by_kernel_datagrams', 0)} datagrams, buffer {r['dropped_by_buffer']:,}); kept after "
                  f"lag {r['kept_after_lag']:.3f}, downsample {r['kept_downsample']:.3f}, one/pixel "
                  f"{r['kept_one_per_pixel']:.3f}, rate cap {r['kept_rate_cap']:.3f}: overall {r['kept_overall']:.4f} "
                  f"({r['events_simulated']:,} simulated); lag last {r['lag_ms_last']:.1f} ms, max "
                  f"{r['lag_ms_max']:.1f} ms; ticks over cap {r['ticks_over_cap']}/{r['ticks_closed']}")
    else:
        print("3. EVT2 replay: skipped (no samples/*evt2*.raw in the data folder)")


if __name__ == "__main__":
    sys.exit(main())
