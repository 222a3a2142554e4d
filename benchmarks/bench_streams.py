"""Throughput of the streams package.

Measures, on the shared data (``$STDPNET_DATA`` or ``../shared/data``):

* read throughput (events/s) of every sample file with ``streams.read_events`` (best of N reads,
  after one warm-up read so imports are not counted);
* stream + tick_chunks throughput (events/s) over the N-MNIST recordings (files read from disk,
  laid end to end, cut into 1 ms ticks);
* the same for the embedded SyntheticBars and for MNIST images through the PeriodicEncoder.

Usage: ``python benchmarks/bench_streams.py [--repeats 5] [--json [PATH]]`` (``--json`` alone
prints JSON to stdout instead of the table).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Tuple

import streams


def best_time(function: Callable[[], int], repeats: int) -> Tuple[float, int]:
    """Best wall time (s) of ``repeats`` calls and the event count the call returns."""
    function()  # warm-up: imports, file cache
    best, count = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        count = function()
        best = min(best, time.perf_counter() - start)
    return best, count


def stream_events(stream, dt_us: int = 1000) -> int:
    return sum(len(chunk.events) for chunk in streams.tick_chunks(stream, dt_us=dt_us))


def run(repeats: int) -> Dict[str, Dict[str, float]]:
    root = streams.data_root()
    if root is None:
        sys.exit("no data folder: set STDPNET_DATA or provide ../shared/data")
    results: Dict[str, Dict[str, float]] = {}
    for path in sorted((root / "samples").iterdir()):
        seconds, n = best_time(lambda p=path: len(streams.read_events(p)[0]), repeats)
        results[f"read {path.name}"] = {"events": n, "seconds": seconds, "events_per_s": n / seconds}

    nmnist = streams.NMNISTFolder(root / "nmnist" / "Train")
    seconds, n = best_time(lambda: stream_events(streams.LabelledStream(nmnist, shuffle=True)), max(1, repeats // 2))
    results[f"stream+tick_chunks N-MNIST ({len(nmnist)} recordings)"] = {
        "events": n, "seconds": seconds, "events_per_s": n / seconds,
    }

    bars = streams.SyntheticBars(n_samples=2000)
    seconds, n = best_time(lambda: stream_events(streams.LabelledStream(bars)), max(1, repeats // 2))
    results["stream+tick_chunks SyntheticBars (2000 samples)"] = {
        "events": n, "seconds": seconds, "events_per_s": n / seconds,
    }

    mnist = streams.MNISTImages(
        root / "mnist" / "train-5k-images-idx3-ubyte.gz", root / "mnist" / "train-5k-labels-idx1-ubyte.gz"
    )
    encoded = streams.EncodedImages(mnist.images[:500], mnist.labels[:500], streams.PeriodicEncoder())
    seconds, n = best_time(lambda: stream_events(streams.LabelledStream(encoded)), max(1, repeats // 2))
    results["stream+tick_chunks MNIST PeriodicEncoder (500 images)"] = {
        "events": n, "seconds": seconds, "events_per_s": n / seconds,
    }
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per measure (best kept)")
    parser.add_argument("--json", nargs="?", const="-", metavar="PATH", help="write JSON (to stdout if no PATH)")
    args = parser.parse_args(argv)
    results = run(args.repeats)
    if args.json == "-":
        print(json.dumps(results, indent=2))
        return
    width = max(len(name) for name in results)
    print(f"{'measure':<{width}}  {'events':>10}  {'seconds':>9}  {'events/s':>12}")
    for name, r in results.items():
        print(f"{name:<{width}}  {r['events']:>10,}  {r['seconds']:>9.4f}  {r['events_per_s']:>12,.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
