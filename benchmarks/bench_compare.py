"""The full N-MNIST comparison curve: all 800 recordings (a stratified 20 % test set per seed),
training sizes 50 to 640, 3 seeds, every method; prints the table (compare.md in --out).

    python benchmarks/bench_compare.py [--methods stdp,spikegrad,bptt,cnn] [--seeds 3] [--out runs/bench-compare]

With ``bptt`` (BPTT through 10 time bins, one convolution per layer over all bins) a fit at 640
samples takes about 10 minutes on one core of the reference machine, so the full curve takes about
an hour per seed; without it, well under an hour in all.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import streams  # noqa: E402
from stdpnet.experiment.compare import compare, markdown_table  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", default="stdp,spikegrad,bptt,cnn")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--sizes", default="50,100,200,400,640")
    p.add_argument("--out", default="runs/bench-compare")
    a = p.parse_args()
    root = streams.data_root()
    if root is None or not (root / "nmnist" / "Train").is_dir():
        sys.exit("no N-MNIST folder: set STDPNET_DATA")
    result = compare("nmnist", f"nmnist:{root / 'nmnist' / 'Train'}", train_sizes=[int(v) for v in a.sizes.split(",")],
                     seeds=range(a.seeds), methods=a.methods.split(","), out_dir=a.out,
                     progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(markdown_table(result))
    if "spikegrad_equivalence" in result:
        eq = result["spikegrad_equivalence"][-1]
        print(f"SpikeGrad in stdpnet's simulator vs its integer ANN: {eq['exact_fraction']:.3f} of neuron counts "
              f"equal, mean |difference| {eq['mean_abs_difference']:.3f}, histogram {eq['difference_histogram']}")


if __name__ == "__main__":
    main()
