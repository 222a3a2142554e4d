"""Backprop baselines on real N-MNIST: accuracy, cost and wall time of each method.

    python benchmarks/bench_backprop.py [--methods spikegrad,surrogate,cnn] [--seed 0] [--json]

Protocol (the README's N-MNIST preset uses the same split): the 800 recordings of
../shared/data/nmnist/Train (or $STDPNET_DATA) are split 80/20, stratified, with
``streams.stratified_split(labels, 0.8, seed)``: 640 training recordings, 160 held-out test
recordings. The 640 are split again 80/20 (512 fit, 128 validation) for early stopping; nothing
is tuned on the 160. Net ``34x34x2-16C5-P2-128C5-P2-1024`` + a 10-class readout. Wall time covers
building the arrays and training (JIT compilation included). For SpikeGrad the 160 test
recordings also run through the event-driven IF network (``simulate_if``), to count disagreements
with the integer ANN and to show how far counts are without the residual spike.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import streams  # noqa: E402
from stdpnet import backprop as bp  # noqa: E402

SPEC = "34x34x2-16C5-P2-128C5-P2-1024"


def spikegrad_vs_if_network(model, dataset, indices, x):
    """Disagreements between the integer ANN and the IF network, and the residual spike's share."""
    ann = bp.spikegrad.integer_activations(model.params, x, model.topology, model.options)
    mismatched, compared, predictions_differ = 0, 0, 0
    without_residual = {layer.name: [] for layer in model.topology.hidden}
    for row, index in enumerate(indices):
        events = dataset[int(index)][0]
        exact = bp.simulate_if(model.params, events, model.topology, model.options)
        plain = bp.simulate_if(model.params, events, model.topology, model.options, residual=False)
        for name, counts in exact.counts.items():
            mismatched += int((counts != ann[name][row]).sum())
            compared += counts.size
            without_residual[name].append((plain.counts[name] - counts).ravel())
        predictions_differ += int(np.argmax(exact.readout_potential) != np.argmax(ann["out"][row]))
    distribution = {}
    for name, parts in without_residual.items():
        values, counts = np.unique(np.concatenate(parts), return_counts=True)
        distribution[name] = {int(v): int(c) for v, c in zip(values, counts)}
    return {"neurons_compared": compared, "neurons_mismatched": mismatched,
            "predictions_differ": predictions_differ, "without_residual_minus_exact": distribution}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", default=",".join(bp.METHODS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-epochs", type=int, default=20)
    p.add_argument("--patience", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--n-bins", type=int, default=10, help="time bins of the surrogate-gradient SNN")
    p.add_argument("--no-if-check", action="store_true", help="skip running SpikeGrad's IF network")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    root = streams.data_root()
    if root is None or not (root / "nmnist" / "Train").is_dir():
        sys.exit("N-MNIST recordings absent: set STDPNET_DATA or provide ../shared/data/nmnist/Train")
    dataset = streams.NMNISTFolder(root / "nmnist" / "Train")
    train, test = streams.stratified_split(dataset.labels, 0.8, a.seed)
    fit_part, val_part = streams.stratified_split(dataset.labels[train], 0.8, a.seed)
    fit, val = train[fit_part], train[val_part]
    results = []
    for method in a.methods.split(","):
        started = time.perf_counter()
        kw = {"kind": bp.input_kind(method)}
        if kw["kind"] == "bins":
            kw["n_bins"] = a.n_bins
        x, y = bp.dataset_arrays(dataset, fit, **kw)
        xv, yv = bp.dataset_arrays(dataset, val, **kw)
        model = bp.train_method(method, SPEC, x, y, xv, yv, seed=a.seed, max_epochs=a.max_epochs,
                                patience=a.patience, batch_size=a.batch_size, lr=a.lr, n_classes=10,
                                log=None if a.json else (lambda row, m=method: print(m, row, flush=True)))
        wall = time.perf_counter() - started
        xt, yt = bp.dataset_arrays(dataset, test, **kw)
        report = bp.evaluate(model, xt, yt)
        report.update({"train_samples": len(fit) + len(val), "fit": len(fit), "val": len(val),
                       "test": len(test), "epochs": model.epochs, "best_epoch": model.best_epoch,
                       "best_val_accuracy": model.best_val_accuracy, "wall_time_s": wall,
                       "seed": a.seed, "options": repr(model.options)})
        if method == "spikegrad" and not a.no_if_check:
            check_started = time.perf_counter()
            report["if_network"] = spikegrad_vs_if_network(model, dataset, test, xt)
            report["if_network"]["wall_time_s"] = time.perf_counter() - check_started
        results.append(report)
        if not a.json:
            print(json.dumps(report, indent=1, default=str), flush=True)
    if a.json:
        print(json.dumps(results, default=str))
    else:
        print(f"\n{'method':<10} {'test acc':>8} {'epochs':>7} {'wall s':>7} {'ops/sample':>12} {'spikes':>9} {'uJ':>7}")
        for r in results:
            spikes = "-" if r["spikes_per_sample"] is None else f"{r['spikes_per_sample']:.0f}"
            print(f"{r['method']:<10} {r['accuracy']:>8.3f} {r['epochs']:>3}/{r['best_epoch']:<3} "
                  f"{r['wall_time_s']:>7.0f} {r['infer_ops_per_sample']:>10.3g} {r['op_kind']:<3}"
                  f"{spikes:>7} {r['energy_uj_per_sample']:>7.2f}")


if __name__ == "__main__":
    main()
