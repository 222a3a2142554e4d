"""Interleaved A/B throughput of two source trees of stdpnet on the same data, for a shared machine.

    python benchmarks/ab_bench.py --a /path/to/baseline --b . --net nmnist --samples 300 --rounds 5

Each round runs one training pass then one inference pass (learning off) in a fresh process per tree,
alternating A, B, B, A, ... so that drifts in the machine's load hit both alike; prints per-round
figures and medians. Besides wall-clock events/s (what ``stdpnet bench`` reports) it reports events
per second of the process's own CPU time, which other engineers' jobs on the same cores disturb far
less: use it to judge a change, wall time to report. The recordings are read before timing, as in
``stdpnet bench``; peak RSS and the first call's (compile or cache load) time come with each run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

DRIVER = r'''
import json, resource, sys, time
import numpy as np
import streams
from stdpnet.network import Network
from stdpnet.sources import open_source

net_name, data, samples, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), 0
layers = json.loads(sys.argv[4]) or None
src = open_source(data, seed=seed)
idx = np.arange(min(samples, len(src.dataset)))
t0 = time.perf_counter()
warm = next(iter(streams.tick_chunks(streams.LabelledStream(src.dataset, indices=idx[:1]), dt_us=1000)))
Network.from_spec(net_name, seed=seed, layers=layers).run(warm)
compile_s = time.perf_counter() - t0
net = Network.from_spec(net_name, seed=seed, layers=layers)
chunks = list(streams.tick_chunks(streams.LabelledStream(src.dataset, indices=idx, shuffle=True, seed=seed),
                                  dt_us=net.dt_us))
events = sum(len(c.events) for c in chunks)

def timed(chunks):
    w0, c0 = time.perf_counter(), time.thread_time()
    synops = 0
    for c in chunks:
        synops += int(net.run(c).counts[:, 2].sum())
    return time.perf_counter() - w0, time.thread_time() - c0, synops

tw, tc, ts = timed(chunks)
net.set_learning(False)
shift = net.now
chunks = [type(c)(c.start_tick + shift, c.dt_us, c.events, c.offsets, c.sample, c.label) for c in chunks]
iw, ic, isy = timed(chunks)
print(json.dumps({"events": events, "train_wall_s": tw, "train_cpu_s": tc, "train_synops": ts,
                  "infer_wall_s": iw, "infer_cpu_s": ic, "compile_s": compile_s,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def run_tree(tree: str, net: str, data: str, samples: int, layers: str = "{}") -> dict:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    out = subprocess.run([sys.executable, "-c", DRIVER, net, data, str(samples), layers], cwd=tree, env=env,
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    ev = r["events"]
    return {
        "train_ev_s": ev / r["train_wall_s"], "train_ev_cpu_s": ev / r["train_cpu_s"],
        "infer_ev_s": ev / r["infer_wall_s"], "infer_ev_cpu_s": ev / r["infer_cpu_s"],
        "synops_s": r["train_synops"] / r["train_wall_s"], "synops_cpu_s": r["train_synops"] / r["train_cpu_s"],
        "peak_rss_mb": r["peak_rss_mb"], "compile_s": r["compile_s"],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help="baseline source tree")
    ap.add_argument("--b", required=True, help="candidate source tree")
    ap.add_argument("--net", default="nmnist")
    ap.add_argument("--data", default=None, help="SOURCE (default: N-MNIST from STDPNET_DATA)")
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--layers", default="{}",
                    help="JSON layer overrides given to both trees, so that both run the same network when "
                         "a preset changed between them, e.g. '{\"fc1\": {\"theta_infer\": 10}}'")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    data = a.data or f"nmnist:{os.environ.get('STDPNET_DATA', '../shared/data')}/nmnist/Train"
    runs = {"A": [], "B": []}
    trees = {"A": a.a, "B": a.b}
    for r in range(a.rounds):
        for name in ("AB" if r % 2 == 0 else "BA"):
            res = run_tree(trees[name], a.net, data, a.samples, a.layers)
            runs[name].append(res)
            print(f"round {r} {name}: " + "  ".join(f"{k} {v:,.0f}" for k, v in res.items()), file=sys.stderr, flush=True)
    med = {n: {k: statistics.median(x[k] for x in rs) for k in rs[0]} for n, rs in runs.items()}
    ratio = {k: med["B"][k] / med["A"][k] for k in med["A"]}
    if a.json:
        print(json.dumps({"net": a.net, "samples": a.samples, "rounds": a.rounds, "median": med, "b_over_a": ratio, "runs": runs}))
    else:
        print(f"{a.net}, {a.samples} samples, {a.rounds} interleaved rounds; medians (B/A):")
        for k in med["A"]:
            print(f"  {k:16s} A {med['A'][k]:>14,.1f}   B {med['B'][k]:>14,.1f}   x{ratio[k]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
