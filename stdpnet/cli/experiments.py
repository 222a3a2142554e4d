"""``stdpnet continual``, ``stdpnet sweep`` (and ``stdpnet compare``): experiments over many runs."""
from __future__ import annotations

import json
import sys
import time


def _seeds(text: str):
    from ..errors import ConfigError

    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",") if s.strip()]
        else:
            seeds = list(range(int(text)))
    except ValueError:
        raise ConfigError(f"--seeds takes a count (3) or a list (0,1,2), got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise ConfigError(f"--seeds needs at least one seed >= 0, got {text!r}")
    return seeds


def _methods(text: str, allowed):
    from ..errors import ConfigError

    methods = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in methods if m not in allowed]
    if bad or not methods:
        raise ConfigError(f"--methods: unknown {bad or text!r}; choose from {', '.join(allowed)}")
    return methods


def _say(quiet: bool):
    def say(msg: str) -> None:
        if not quiet:
            print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
    return say


def add_parsers(sub) -> None:
    p = sub.add_parser("continual", help="continual learning: tasks in sequence on one unbroken stream; accuracy "
                                         "matrix, ACC/BWT/FWT/forgetting per method")
    p.add_argument("--net", default="synthetic", help="preset or spec string (readout settings: the preset's)")
    p.add_argument("--data", default=None, help="labelled SOURCE (default: the preset's data)")
    p.add_argument("--protocol", required=True,
                   help="split:5x2 | split:2x5 | classes:0,1/2,3 | domain:timescale=0.25,1,4 | domain:polarity | "
                        "domain:mirror | domain:noise=HZ,... | split:5x2+timescale=0.5 | timescale:0.25,0.5,1,2,4")
    p.add_argument("--methods", default="stdp", help="comma list of stdp, spikegrad, bptt, cnn (default stdp)")
    p.add_argument("--seeds", default="1", help="a count (3 = seeds 0,1,2) or a list (0,4,7)")
    p.add_argument("--probe-every", type=int, default=0,
                   help="every K training samples, evaluate a small probe set per task (forgetting curve)")
    p.add_argument("--epochs-per-task", type=int, default=1, help="passes over each task's training samples")
    p.add_argument("--out", default=None, help="output folder (default: runs/continual-<time>)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_continual)

    p = sub.add_parser("compare", help="online STDP against backprop baselines (SpikeGrad, BPTT, CNN): same data, "
                                       "same stratified subsets, same topology; one table and its figures")
    p.add_argument("--net", default="synthetic", help="preset or spec string of the STDP network (and the baselines)")
    p.add_argument("--data", default=None, help="labelled SOURCE (default: the preset's data)")
    p.add_argument("--test-data", default=None, help="test SOURCE (default: a stratified 20%% of --data per seed)")
    p.add_argument("--train-sizes", default="50,100,200,400", help="comma list of training-set sizes")
    p.add_argument("--seeds", default="1", help="a count (3 = seeds 0,1,2) or a list")
    p.add_argument("--methods", default="stdp,spikegrad,bptt,cnn", help="comma list of stdp, spikegrad, bptt, cnn")
    p.add_argument("--max-epochs", type=int, default=40, help="backprop: most epochs (early stopping on validation)")
    p.add_argument("--simulate-samples", type=int, default=100,
                   help="test samples the SpikeGrad network is also run for in stdpnet's simulator (0: none)")
    p.add_argument("--out", default=None, help="output folder (default runs/compare-<time>)")
    p.add_argument("--merge", nargs="+", default=None, metavar="RESULT_DIR",
                   help="instead of running: join earlier compare outputs of the same design (methods run "
                        "apart) into one table and figures in --out")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("sweep", help="grid or random search over config keys x seeds, locally or on a Ray cluster")
    p.add_argument("sweep_file", help="a sweep TOML (see README: Sweeps)")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local worker processes (default) or Ray tasks")
    p.add_argument("--address", default=None, help="Ray cluster address (ray.init(address=...)); default: a local Ray")
    p.add_argument("--workers", type=int, default=None, help="parallel trials (default: the number of cores)")
    p.add_argument("--out", default=None, help="sweep folder (default: runs/sweep-<name>); rerun to resume")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_sweep)


def cmd_continual(a) -> int:
    from ..errors import ConfigError
    from ..experiment.config import preset_data_source
    from ..experiment.continual import continual_experiment
    from ..sources import open_source

    if a.probe_every < 0 or a.epochs_per_task < 1:
        raise ConfigError("--probe-every must be >= 0 and --epochs-per-task >= 1")
    data = a.data or preset_data_source(a.net) or "synthetic"
    source = open_source(data, command="continual")
    if not source.labelled:
        raise ConfigError(f"continual learning needs labelled data; {data!r} has no labels")
    out = a.out or f"runs/continual-{time.strftime('%Y%m%d-%H%M%S')}"
    say = _say(a.quiet or a.json)
    say(f"continual {a.protocol} on {source.text} ({len(source.dataset)} samples), net {a.net}")
    result = continual_experiment(source.dataset, a.protocol, a.net,
                                  methods=_methods(a.methods, ("stdp", "spikegrad", "bptt", "cnn")),
                                  seeds=_seeds(a.seeds), probe_every=a.probe_every,
                                  epochs_per_task=a.epochs_per_task, data_text=source.text, out_dir=out,
                                  progress=say)
    if a.json:
        print(json.dumps(result, default=float))
        return 0
    n_tasks = sum(1 for t in result["tasks"] if not t.get("test_only"))
    print(f"{a.protocol}: {n_tasks} training task(s), seeds {result['seeds']}, {result['wall_s']:.0f} s; "
          f"results in {out}")
    print(f"  {'method':20s} {'ACC':>14s} {'BWT':>15s} {'FWT':>15s} {'joint':>14s}")
    for name, m in result["methods"].items():
        def f(k):
            return "-" if m[k] is None else f"{m[k]:+.3f}+-{m[k + '_std']:.3f}"
        print(f"  {name:20s} {f('acc'):>14s} {f('bwt'):>15s} {f('fwt'):>15s} {f('joint_acc'):>14s}")
    conds = {name: m["test_only"] for name, m in result["methods"].items() if m.get("test_only")}
    if conds:
        names = list(next(iter(conds.values())))
        print("  tested under (trained as recorded): " + ", ".join(names))
        for name, c in conds.items():
            print(f"  {name:20s} " + " ".join(f"{c[n][0]:.3f}+-{c[n][1]:.3f}" for n in names))
    return 0


def cmd_compare(a) -> int:
    from ..errors import ConfigError
    from ..experiment.compare import compare, markdown_table
    from ..experiment.config import preset_data_source

    if a.merge:
        return _merge_compare(a)
    try:
        sizes = [int(v) for v in a.train_sizes.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--train-sizes takes a comma list of integers, got {a.train_sizes!r}") from None
    if not sizes or min(sizes) < 2:
        raise ConfigError("--train-sizes needs sizes of at least 2")
    data = a.data or preset_data_source(a.net) or "synthetic"
    out = a.out or f"runs/compare-{time.strftime('%Y%m%d-%H%M%S')}"
    say = _say(a.quiet or a.json)
    result = compare(a.net, data, test_source=a.test_data, train_sizes=sizes, seeds=_seeds(a.seeds),
                     methods=_methods(a.methods, ("stdp", "spikegrad", "bptt", "cnn")), out_dir=out,
                     backprop={"max_epochs": a.max_epochs, "simulate": a.simulate_samples > 0,
                               "simulate_samples": a.simulate_samples}, progress=say)
    if a.json:
        print(json.dumps(result, default=float))
        return 0
    print(markdown_table(result))
    print(f"{result['energy_note']}\nresults: {out}/compare.md, compare.json, accuracy_vs_size.png, "
          "accuracy_vs_ops.png, training_cost.png")
    return 0


def _merge_compare(a) -> int:
    from pathlib import Path

    from ..errors import ConfigError
    from ..experiment.compare import markdown_table, merge_results, write_outputs

    results = []
    for d in a.merge:
        path = Path(d) / "compare.json" if Path(d).is_dir() else Path(d)
        try:
            results.append(json.loads(path.read_text()))
        except (OSError, ValueError) as e:
            raise ConfigError(f"--merge {d}: cannot read a comparison result ({e}); give folders written by "
                              "stdpnet compare --out") from None
    merged = merge_results(results, a.merge)
    out = Path(a.out or f"runs/compare-{time.strftime('%Y%m%d-%H%M%S')}")
    write_outputs(merged, out)
    if a.json:
        print(json.dumps(merged, default=float))
    else:
        print(markdown_table(merged))
        print(f"merged {len(results)} results into {out}/compare.md, compare.json and the figures")
    return 0


def cmd_sweep(a) -> int:
    from pathlib import Path

    from ..experiment.sweep import SweepSpec, run_sweep

    spec = SweepSpec.from_file(a.sweep_file)
    out = a.out or f"runs/sweep-{Path(a.sweep_file).stem}"
    say = _say(a.quiet or a.json)
    n = len(spec.trials())
    say(f"sweep {a.sweep_file}: {len(spec.configurations())} configurations x {len(spec.seeds)} seeds = {n} trials, "
        f"executor {a.executor}")
    result = run_sweep(spec, out, executor=a.executor, workers=a.workers, address=a.address,
                       progress=lambda d, total: say(f"trial {d}/{total} done"))
    if a.json:
        print(json.dumps(result, default=float))
        return 0
    b = result["best"]
    print(f"{result['trials']} trials in {out}; best by mean {result['metric']}: {b['mean']:.4f} +- {b['std']:.4f} "
          f"({', '.join(f'{k}={v}' for k, v in b.items() if k not in ('config_index', 'mean', 'std', 'n'))})")
    print(f"  tables: {out}/results.csv, {out}/summary.csv; best configuration: {out}/best.toml")
    return 0
