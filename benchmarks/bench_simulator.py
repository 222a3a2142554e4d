"""Simulator throughput on the N-MNIST network (learning on, then off), compile time, memory.

    python benchmarks/bench_simulator.py [--net nmnist] [--data nmnist:DIR] [--samples N] [--json]

Same figures as ``stdpnet bench``. Targets (issue 3): training >= 100,000 input events/s on one
core, inference >= 2x training. Uses ../shared/data/nmnist/Train (or $STDPNET_DATA) when present,
else the built-in synthetic stream (then the N-MNIST figures do not apply).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from stdpnet.bench import bench_simulator, format_bench  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--net", default="nmnist")
    p.add_argument("--data", default=None)
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    net = a.net
    if a.data is None and net == "nmnist":
        import streams

        root = streams.data_root()
        if root is None or not (root / "nmnist" / "Train").is_dir():
            print("N-MNIST data folder absent (set STDPNET_DATA); benchmarking the synthetic preset instead")
            net, a.data = "synthetic", "synthetic"
    r = bench_simulator(net=net, data=a.data, samples=a.samples)
    print(json.dumps(r) if a.json else format_bench(r))


if __name__ == "__main__":
    main()
