"""Online STDP against backprop on N-MNIST: same recordings, same stratified subsets, same topology.

    python demos/compare_nmnist.py [--sizes 100,640] [--seeds 1] [--methods stdp,spikegrad,cnn] [--out runs/demo-compare]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import streams  # noqa: E402
from stdpnet.experiment.compare import compare, markdown_table  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="100,640")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--methods", default="stdp,spikegrad,cnn")
    p.add_argument("--out", default="runs/demo-compare")
    a = p.parse_args()
    root = streams.data_root()
    if root is None or not (root / "nmnist" / "Train").is_dir():
        sys.exit("no N-MNIST folder: set STDPNET_DATA")
    result = compare("nmnist", f"nmnist:{root / 'nmnist' / 'Train'}", train_sizes=[int(v) for v in a.sizes.split(",")],
                     seeds=range(a.seeds), methods=a.methods.split(","), out_dir=a.out, progress=print)
    print(markdown_table(result))


if __name__ == "__main__":
    main()
