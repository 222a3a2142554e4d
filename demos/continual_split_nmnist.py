"""Split N-MNIST 5x2, end to end: five tasks of two digits in one unbroken stream, the STDP network
against backprop fine-tuning, accuracy matrices, forgetting curves and ACC/BWT bars.

    python demos/continual_split_nmnist.py [--data DIR] [--methods stdp,spikegrad,cnn] [--seeds 1] [--out runs/demo-continual]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import streams  # noqa: E402
from stdpnet.experiment.continual import continual_experiment  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="N-MNIST folder (default: $STDPNET_DATA/nmnist/Train)")
    p.add_argument("--methods", default="stdp,spikegrad,cnn")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--out", default="runs/demo-continual")
    a = p.parse_args()
    root = a.data or (streams.data_root() and str(streams.data_root() / "nmnist" / "Train"))
    if not root or not os.path.isdir(root):
        sys.exit("no N-MNIST folder: pass --data DIR or set STDPNET_DATA")
    data = streams.NMNISTFolder(root)
    out = continual_experiment(data, "split:5x2", "nmnist", methods=a.methods.split(","), seeds=range(a.seeds),
                               probe_every=128, out_dir=a.out, progress=print)
    for name, m in out["methods"].items():
        print(f"{name:20s} ACC {m['acc']:.3f}  BWT {m['bwt']:+.3f}  joint {m['joint_acc']:.3f}")
    print(f"figures in {a.out}: accuracy_matrices.png, acc_bwt.png, forgetting_stdp_classifier.png")


if __name__ == "__main__":
    main()
