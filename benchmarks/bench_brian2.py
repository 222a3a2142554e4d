"""Speed of stdpnet against its Brian2 twin: same network, same events, learning on (issue 5).

    python benchmarks/bench_brian2.py [--net 34x34x2-16C5-P2-32C5-P2-100] [--samples 20]
                                      [--brian2-samples N] [--target cython] [--cold] [--json]

Both simulate the network on ``--samples`` N-MNIST recordings (../shared/data/nmnist/Train or
$STDPNET_DATA; else the synthetic bars on the network's sensor). stdpnet is timed after its JIT
warm-up; Brian2 (cython target by default) from its first to its last simulation step, with code
generation/compilation and network construction reported separately (``--cold``: compile into an
empty cache, i.e. a first-ever run). ``--brian2-samples N`` runs Brian2 on the first N recordings
only and extrapolates its wall time per input event. The twin's spikes and weights are checked
against stdpnet's on what it ran. Target: stdpnet >= 50x faster (reported, not asserted).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from stdpnet.validate.crosscheck import BENCH_NET, bench_brian2, format_bench  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--net", default=BENCH_NET)
    p.add_argument("--data", default=None)
    p.add_argument("--samples", type=int, default=20)
    p.add_argument("--brian2-samples", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", default="cython", choices=["cython", "numpy"])
    p.add_argument("--cold", action="store_true", help="compile Brian2's code into an empty cache")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    r = bench_brian2(net=a.net, data=a.data, samples=a.samples, seed=a.seed, brian2_samples=a.brian2_samples,
                     target=a.target, cold=a.cold)
    print(json.dumps(r) if a.json else format_bench(r))


if __name__ == "__main__":
    main()
