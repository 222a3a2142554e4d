"""Train the N-MNIST network online on real recordings, evaluate on held-out ones, save the plots.

    python demos/nmnist_online.py [--data DIR] [--epochs N] [--out runs/demo-nmnist]

Uses the ``nmnist`` preset (34x34x2-16C5-P2-128C5-P2-1024 with SPEC's thresholds and the tuned
learning rates) and the event-based supervised classifier, trained while the STDP layers learn.
DIR defaults to ``$STDPNET_DATA/nmnist/Train`` or ``../shared/data/nmnist/Train``.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import streams  # noqa: E402
from stdpnet.experiment import build_config  # noqa: E402
from stdpnet.experiment.protocol import train  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="N-MNIST folder in the official layout")
    p.add_argument("--epochs", type=int, default=None, help="passes over the training part (default: preset's)")
    p.add_argument("--readout", default="classifier", choices=["classifier", "count", "rstdp"])
    p.add_argument("--out", default="runs/demo-nmnist")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    data = a.data
    if data is None:
        root = streams.data_root()
        if root is None or not (root / "nmnist" / "Train").is_dir():
            sys.exit("no N-MNIST folder found: pass --data DIR or set STDPNET_DATA")
        data = str(root / "nmnist" / "Train")
    config = build_config(net="nmnist", data=f"nmnist:{data}", readout=a.readout, epochs=a.epochs, seed=a.seed)
    summary = train(config, a.out, progress=True)
    v = summary["validation"]
    print(f"validation accuracy {v['accuracy']:.4f} on {v['samples']} held-out recordings "
          f"({v['silent']} silent); running accuracy at the end of training {summary['running_accuracy']:.3f}")
    print("plots:", *summary.get("plots", []), sep="\n  ")
    print(json.dumps({k: summary[k] for k in ("train_samples", "val_samples", "epochs")}))


if __name__ == "__main__":
    main()
