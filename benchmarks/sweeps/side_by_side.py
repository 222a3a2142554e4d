"""Tuning aid: one training stream per fold, many readouts and several pass counts at once.

Readouts read the network and never rewrite it, so one training run can drive several readouts
side by side; each makes exactly the decisions it would make in its own `stdpnet train` run. The
state after k passes is evaluated on the way: the stream of E passes starts with the stream of
k < E passes (each pass's order is seeded by (seed, pass)), except for the one tick that holds the
end of pass k and the start of pass k+1; that tick is played without the next pass's events, the
state evaluated, and the tick played again whole from the saved state. Evaluation follows
stdpnet.experiment.protocol: label pass for count readouts, then shards of 20 validation samples,
each from the trained state, learning off. Checked against `stdpnet sweep`: the same accuracy,
sample for sample (nmnist fold 0 after 3 passes: 0.91875 both; mnist_reference count, fold 0,
1 pass: 0.916 both; and the tables of benchmarks/sweeps/*.toml).

``{"kind": "probe"}`` is a diagnostic, not a readout of stdpnet: a logistic regression (needs
scikit-learn) on log(1 + top-layer spike counts) of the label pass, tested on the validation set.

usage: python benchmarks/sweeps/side_by_side.py SPEC.json OUT.jsonl   (specs: side_by_side/*.json)
SPEC: {"tag": ..., "base": "nmnist", "overrides": {...nested config...}, "seeds": [0, 1, 2],
       "epochs": [3, 4, 5], "readouts": {"name": {"kind": "classifier", "eta": 0.1, ...}, ...}}
Each evaluation point appends one JSON line per readout (seed, passes, validation accuracy).
"""
import copy
import json
import sys
import time

import numpy as np

from stdpnet.experiment.config import cli_layer, merge_config
from stdpnet.experiment.loop import OutcomeTally, learning_off, make_stream
from stdpnet.experiment.protocol import EVAL_SHARD_SAMPLES, shard_bounds
from stdpnet.experiment.run import build_network, open_run_source
from stdpnet.readouts import make_readout
from stdpnet.readouts.labelling import CountLabelling


class Probe(CountLabelling):
    """Diagnostic only: the count readout that also keeps each sample's top-layer count vector
    (label pass: training set; frozen: validation) for a logistic-regression probe."""

    def __init__(self, n_neurons, n_classes, C=1.0):
        super().__init__(n_neurons, n_classes)
        self.C = C
        self.tr, self.va = [], []

    def start_label_pass(self):
        super().start_label_pass()
        self.tr, self.va = [], []

    def _decide(self, window, learn):
        (self.tr if learn else self.va).append((window.counts.copy(), window.label))
        return super()._decide(window, learn)

    def probe_accuracy(self):
        from sklearn.linear_model import LogisticRegression
        X = np.array([c for c, _ in self.tr], float); y = np.array([l for _, l in self.tr])
        Xv = np.array([c for c, _ in self.va], float); yv = np.array([l for _, l in self.va])
        f = lambda a: np.log1p(a)
        clf = LogisticRegression(C=self.C, max_iter=2000).fit(f(X), y)
        return float((clf.predict(f(Xv)) == yv).mean())


def main(spec_path, out_path):
    spec = json.load(open(spec_path))
    for seed in spec["seeds"]:
        run_seed(spec, seed, out_path)


def run_seed(spec, seed, out_path):
    t0 = time.perf_counter()
    over = copy.deepcopy(spec.get("overrides", {}))
    epochs = sorted(spec["epochs"])
    over.setdefault("training", {})["epochs"] = epochs[-1]
    config = merge_config(("overrides", over), ("trial", cli_layer(net=spec["base"], seed=seed)))
    src = open_run_source(config)
    d = config.data
    train_idx, val_idx = src.split(d.val_fraction, seed=config.seed, max_train=d.max_train, max_val=d.max_val)
    net = build_network(config)
    readouts = {}
    for name, r in spec["readouts"].items():
        r = dict(r)
        kind = r.pop("kind")
        if kind == "classifier" and r.get("seed") is None:
            r["seed"] = config.seed
        readouts[name] = (Probe(net.top.n_neurons, src.n_classes, **r) if kind == "probe"
                          else make_readout(kind, net, src.n_classes, **r))
    running = {n: [] for n in readouts}
    dataset = src.dataset
    stream, _ = make_stream(dataset, train_idx, net, gap_us=d.gap_us, epochs=epochs[-1], shuffle=True,
                            seed=config.seed, start_us=0)
    laid = stream.with_dt_us(net.dt_us) if getattr(stream, "dt_us", None) is None else stream
    starts = {}

    def recorded():
        for seg in laid:
            starts[int(seg.index)] = int(seg.t_start)
            yield seg

    import streams as _streams
    chunks = _streams.tick_chunks(recorded(), dt_us=net.dt_us, start_tick=0)
    n_train = len(train_idx)
    last_id = -1
    bounds = {k * n_train: k for k in epochs[:-1]}
    seen = set()

    def feed(ch):
        result = net.run(ch)
        for n, r in readouts.items():
            running[n] += [o.correct for o in r.process(result, ch, net, True)]

    for chunk in chunks:
        cut = [i for i, sid in enumerate(chunk.sample) if int(sid) in bounds and int(sid) not in seen]
        cut = cut[:1]
        if cut:
            i = cut[0]
            sid = int(chunk.sample[i])
            k = bounds[sid]
            seen.add(sid)
            if i > 1:
                feed(split(chunk, 0, i - 1))
            if i > 0:
                # the straddling tick holds the end of the last sample of pass k and the start of
                # the next: the k-pass run sees only the former, so play that, evaluate, go back
                pre_net = copy.deepcopy(net.state_dict())
                pre_r = {n: copy.deepcopy(r.state_dict()) for n, r in readouts.items()}
                pre_run = {n: list(v) for n, v in running.items()}
                tick = split(chunk, i - 1, i)
                keep = tick.events["t"] < starts[sid]
                from streams.ticks import TickChunk
                tick = TickChunk(tick.start_tick, tick.dt_us, tick.events[keep],
                                 np.array([0, int(keep.sum())], dtype=tick.offsets.dtype), tick.sample, tick.label)
                feed(tick)
                evaluate_point(spec, seed, k, net, readouts, running, dataset, train_idx, val_idx, d.gap_us,
                               src.n_classes, out_path, t0)
                net.load_state_dict(pre_net)
                for n, r in readouts.items():
                    r.load_state_dict(pre_r[n])
                running.clear()
                running.update(pre_run)
                feed(split(chunk, i - 1, chunk.n_ticks))
            else:
                evaluate_point(spec, seed, k, net, readouts, running, dataset, train_idx, val_idx, d.gap_us,
                               src.n_classes, out_path, t0)
                feed(chunk)
        else:
            feed(chunk)
        ids = chunk.sample[chunk.sample >= 0]
        if len(ids):
            last_id = int(ids[-1])
    assert last_id == n_train * epochs[-1] - 1, (last_id, n_train)
    evaluate_point(spec, seed, epochs[-1], net, readouts, running, dataset, train_idx, val_idx, d.gap_us,
                   src.n_classes, out_path, t0)


def split(ch, a, b):
    from streams.ticks import TickChunk
    o = ch.offsets
    return TickChunk(ch.start_tick + a, ch.dt_us, ch.events[o[a]:o[b]], o[a:b + 1] - o[a], ch.sample[a:b], ch.label[a:b])


def evaluate_point(spec, seed, k, net, readouts, running, dataset, train_idx, val_idx, gap_us, n_classes,
                   out_path, t0):
    snap_net = copy.deepcopy(net.state_dict())
    snap_r = {n: copy.deepcopy(r.state_dict()) for n, r in readouts.items()}
    run_acc = {}
    for n, r in readouts.items():
        last = [o.correct for o in r.flush(net)]
        seq = running[n] + last
        run_acc[n] = float(np.mean(seq[-500:])) if seq else None
    groups = [[n for n, r in readouts.items() if not getattr(r, "needs_label_pass", False)],
              [n for n, r in readouts.items() if getattr(r, "needs_label_pass", False)]]
    results = {}
    for gi, names in enumerate(groups):
        if not names:
            continue
        if gi == 1:  # label pass, learning off, training samples in order, continuing the clock
            with learning_off(net):
                for n in names:
                    readouts[n].start_label_pass()
                _, chunks = make_stream(dataset, train_idx, net, gap_us=gap_us)
                for chunk in chunks:
                    result = net.run(chunk)
                    for n in names:
                        readouts[n].process(result, chunk, net, True)
                for n in names:
                    readouts[n].flush(net)
        trained_net = copy.deepcopy(net.state_dict())
        trained_r = {n: copy.deepcopy(readouts[n].state_dict()) for n in names}
        tallies = {n: OutcomeTally(n_classes) for n in names}
        for a, b in shard_bounds(len(val_idx), EVAL_SHARD_SAMPLES):
            net.load_state_dict(trained_net)
            for n in names:
                readouts[n].load_state_dict(trained_r[n])
            with learning_off(net):
                _, chunks = make_stream(dataset, val_idx[a:b], net, gap_us=gap_us)
                for chunk in chunks:
                    result = net.run(chunk)
                    for n in names:
                        tallies[n].add(readouts[n].process(result, chunk, net, False))
                for n in names:
                    tallies[n].add(readouts[n].flush(net))
        for n in names:
            rep = tallies[n].report()
            results[n] = {"acc": rep["accuracy"], "silent": rep["silent_rate"], "n": rep["samples"]}
            if isinstance(readouts[n], Probe):
                results[n]["acc"] = readouts[n].probe_accuracy()
                readouts[n].va = []
    # back to the state before the flush, to continue the training stream
    net.load_state_dict(snap_net)
    for n, r in readouts.items():
        r.load_state_dict(snap_r[n])
    with open(out_path, "a") as f:
        for n in readouts:
            f.write(json.dumps({"tag": spec.get("tag", ""), "seed": seed, "epochs": k, "readout": n,
                                "cfg": spec["readouts"][n], "val": results[n]["acc"],
                                "silent": results[n]["silent"], "n_val": results[n]["n"],
                                "running_last500": run_acc[n], "elapsed_s": round(time.perf_counter() - t0, 1)})
                    + "\n")
    print(f"seed {seed} epochs {k} ({time.perf_counter() - t0:.0f} s): "
          + ", ".join(f"{n}={results[n]['acc']:.4f}" for n in readouts), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
