"""``stdpnet`` command line: parse, build, run, report. No logic a Python user could not call."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import List, Optional

from .sources import SOURCE_HELP


def _add_train(sub):
    p = sub.add_parser("train", help="learn online from an event stream, then evaluate on held-out samples")
    p.add_argument("--net", default="synthetic", help="preset (synthetic, nmnist, mnist_reference, mnist_best) or spec string")
    p.add_argument("--data", default=None, help=f"SOURCE: {SOURCE_HELP}; default: the preset's, else synthetic")
    p.add_argument("--readout", choices=["classifier", "count", "rstdp"], default=None,
                   help="event-based classifier, spike-count labelling, or R-STDP top layer (default: the preset's)")
    p.add_argument("--epochs", type=int, default=None, help="passes over the training samples (default: the preset's)")
    p.add_argument("--out", default=None, help="run directory (default: runs/<net>-<time>)")
    p.add_argument("--config", default=None, help="TOML file with network and [training] settings")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=None, help="share of samples held out for validation (default 0.2)")
    p.add_argument("--max-train", type=int, default=None, help="use at most this many training samples")
    p.add_argument("--max-val", type=int, default=None, help="use at most this many validation samples")
    p.add_argument("--resume", metavar="RUN_DIR", default=None, help="continue an interrupted run exactly where it stopped")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def cmd_train(a) -> int:
    from .spec import load_config_file
    from .training import build_config, train

    if a.resume:
        summary = train({}, a.resume, resume=True, progress=not a.quiet, make_plots=not a.no_plots)
    else:
        file_cfg = load_config_file(a.config) if a.config else None
        config = build_config(net=a.net, data=a.data, readout=a.readout, epochs=a.epochs, seed=a.seed,
                              config_file=file_cfg, max_train=a.max_train, max_val=a.max_val,
                              val_fraction=a.val_fraction)
        out = a.out or f"runs/{Path(a.net).name if len(a.net) < 30 else 'custom'}-{time.strftime('%Y%m%d-%H%M%S')}"
        summary = train(config, out, progress=not a.quiet, make_plots=not a.no_plots)
    if a.json:
        print(json.dumps(summary, default=str))
    else:
        _print_summary(summary)
    return 0


def _print_summary(s) -> None:
    print(f"run {s['run_dir']}: {s['network']} on {s['data']}, readout {s['readout']}, "
          f"{s['train_samples']} training samples x {s['epochs']} epoch(s)")
    if "train" in s:
        t = s["train"]
        print(f"  training: {t['events_per_s']:,.0f} events/s, real-time factor {t['realtime_factor']:.1f}x, "
              f"running accuracy (last 1000) {s['running_accuracy']:.3f}")
    if s.get("interrupted"):
        print("  interrupted: checkpoint saved; continue with  stdpnet train --resume", s["run_dir"])
        return
    v = s["validation"]
    print(f"  validation: accuracy {v['accuracy']:.4f} on {v['samples']} samples "
          f"({v['silent']} silent), {v['events_per_s']:,.0f} events/s")
    for p in s.get("plots", []):
        print(f"  plot: {p}")


def cmd_eval(a) -> int:
    from .evaluation import evaluate
    from .sources import open_source
    from .training import Run

    run = Run.open(a.run_dir)
    if a.data is None or a.data == run.config["training"]["data"]:
        source, indices = None, run.val_idx
        if len(indices) == 0:
            print("this run held out no validation samples; pass --data SOURCE", file=sys.stderr)
            return 2
    else:
        source = open_source(a.data, seed=run.config["seed"])
        if tuple(source.sensor_size) != tuple(run.network.sensor_size):
            print(f"error: data sensor {source.sensor_size} does not match the network input "
                  f"{run.network.sensor_size}", file=sys.stderr)
            return 2
        import numpy as np

        indices = np.arange(len(source.dataset))
        if a.max_samples:
            indices = indices[: a.max_samples]
    report = evaluate(run, indices, source=source, progress=not (a.quiet or a.json))
    if a.json:
        print(json.dumps(report))
        return 0
    print(f"accuracy {report['accuracy']:.4f} on {report['samples']} samples; silent {report['silent']} "
          f"({report['silent_rate']:.3f})")
    print("confusion (rows: true class; columns: predicted class, last = silent):")
    for i, row in enumerate(report["confusion"]):
        print(f"  {i:2d} " + " ".join(f"{v:4d}" for v in row))
    print("spikes per sample (learning / inference):")
    for name, s in report["spikes_per_sample"].items():
        print(f"  {name:6s} {s['learning']:8.1f} {s['inference']:10.1f}")
    print(f"{report['events_per_s']:,.0f} events/s, real-time factor {report['realtime_factor']:.1f}x")
    return 0


def cmd_plot(a) -> int:
    from .viz.figures import write_run_plots
    from .training import Run

    run = Run.open(a.run_dir)
    for p in write_run_plots(run, None):
        print(p)
    return 0


def cmd_info(a) -> int:
    import streams

    info = streams.describe(a.path)
    if a.json:
        print(json.dumps(info, default=str))
        return 0
    for k, v in info.items():
        print(f"{k:>18}: {v}")
    return 0


def cmd_bench(a) -> int:
    from .bench import bench_simulator, format_bench

    report = bench_simulator(net=a.net, data=a.data, samples=a.samples, seed=a.seed, profile=a.profile)
    print(json.dumps(report) if a.json else format_bench(report))
    return 0


def cmd_crosscheck(a) -> int:
    from .validate.crosscheck import format_report, run_crosscheck

    report = run_crosscheck(net=a.net, data=a.data, samples=a.samples, seed=a.seed, bench=a.bench,
                            target=a.target)
    print(json.dumps(report) if a.json else format_report(report))
    return 0 if report["identical"] else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stdpnet", description="Online STDP learning in spiking WTA networks from event streams")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    p = sub.add_parser("eval", help="evaluate a trained run with learning off")
    p.add_argument("run_dir")
    p.add_argument("--data", default=None, help="SOURCE (default: the run's held-out validation samples)")
    p.add_argument("--max-samples", type=int, default=None)
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p = sub.add_parser("plot", help="write the plots of a run (features, weights, accuracy, raster)")
    p.add_argument("run_dir")
    p = sub.add_parser("info", help="describe a recording or a dataset folder")
    p.add_argument("path")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("bench", help="simulator throughput, learning on and off")
    p.add_argument("--net", default="nmnist")
    p.add_argument("--data", default=None, help="SOURCE (default: N-MNIST from the data folder, else synthetic)")
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", action="store_true",
                   help="also time each phase of each layer (delivery, scan, sort, STDP, inhibition, ...)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("crosscheck", help="compare the simulator against its Brian2 twin")
    p.add_argument("--net", default="34x34x2-4C5-P2-8C5-P2-32")
    p.add_argument("--data", default=None)
    p.add_argument("--samples", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", default="numpy", choices=["numpy", "cython"])
    p.add_argument("--bench", action="store_true", help="also time both simulators (Brian2 with the cython target)")
    p.add_argument("--json", action="store_true")
    return parser


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "plot": cmd_plot, "info": cmd_info, "bench": cmd_bench,
            "crosscheck": cmd_crosscheck}


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from .errors import CheckpointError, ParameterError, SpecError
    from streams.events import EventStreamError
    from .sources import SourceError

    try:
        return COMMANDS[args.command](args)
    except (SpecError, ParameterError, CheckpointError, EventStreamError, SourceError, FileExistsError,
            FileNotFoundError) as e:
        print(f"stdpnet {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
