"""``stdpnet train``, ``stdpnet eval``, ``stdpnet plot``: runs and their directories."""
from __future__ import annotations

import json
import time
from pathlib import Path

from streams.sources import SOURCE_HELP

#: ``train`` options that a resumed run takes from its saved configuration instead.
RESUME_FIXED = (("net", "--net"), ("data", "--data"), ("readout", "--readout"), ("epochs", "--epochs"),
                ("config", "--config"), ("seed", "--seed"), ("val_fraction", "--val-fraction"),
                ("max_train", "--max-train"), ("max_val", "--max-val"), ("test_data", "--test-data"),
                ("window_ms", "--window-ms"), ("gap_us", "--gap-us"), ("checkpoint_every", "--checkpoint-every"),
                ("checkpoint_every_s", "--checkpoint-every-s"), ("out", "--out"), ("seeds", "--seeds"),
                ("repeat", "--repeat"))


def add_parsers(sub) -> None:
    from . import add_threads_option

    p = sub.add_parser("train", help="learn online from an event stream, then evaluate on held-out samples")
    p.add_argument("--net", default=None,
                   help="preset (synthetic, nmnist, mnist_reference, mnist_best) or spec string; default: the "
                        "config file's, else synthetic")
    p.add_argument("--data", default=None, metavar="SOURCE", help=f"{SOURCE_HELP}; default: the preset's data")
    p.add_argument("--readout", choices=["classifier", "count", "rstdp"], default=None,
                   help="event-based classifier, spike-count labelling, or R-STDP top layer (default: the preset's)")
    p.add_argument("--epochs", type=int, default=None, help="passes over the training samples (default: the preset's)")
    p.add_argument("--out", default=None, help="run directory (default: runs/<net>-<time>)")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="TOML file, or a run's saved config.json, with any setting; options given here override it")
    p.add_argument("--seed", type=int, default=None, help="seed of weights, split, order and data (default: the "
                                                          "config file's, else 0)")
    p.add_argument("--val-fraction", type=float, default=None, help="share of samples held out for validation, in [0, 1) (default 0.2)")
    p.add_argument("--max-train", type=int, default=None, help="use at most this many training samples")
    p.add_argument("--max-val", type=int, default=None, help="use at most this many validation samples")
    p.add_argument("--test-data", default=None, metavar="SOURCE", help="also evaluate on all samples of this SOURCE")
    p.add_argument("--window-ms", type=float, default=None,
                   help="cut a single recording into samples of this many milliseconds")
    p.add_argument("--gap-us", type=int, default=None, help="silence between samples, microseconds (default 0)")
    p.add_argument("--on-bad", choices=["error", "skip"], default=None,
                   help="a bad recording stops the run after saving (error, default) or is skipped and listed (skip)")
    p.add_argument("--checkpoint-every", type=int, default=None, metavar="N",
                   help="save a checkpoint every N training samples (default 500; 0: off)")
    p.add_argument("--checkpoint-every-s", type=float, default=None, metavar="S",
                   help="save a checkpoint every S seconds (default 60; 0: off)")
    p.add_argument("--seeds", default=None, metavar="LIST",
                   help="run the same configuration once per seed (split, weights and order), e.g. 0,1,2 or 0-4, "
                        "into OUT/seed-<s>/; prints mean +- std and writes OUT/summary.json and OUT/results.csv")
    p.add_argument("--repeat", type=int, default=None, metavar="N",
                   help="like --seeds with N seeds from --seed (default 0) on")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes (default 1): seeds run in parallel; a single run evaluates its validation "
                        "samples in parallel. Results do not depend on it")
    p.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue a stopped run (or set of seeds) exactly where its last checkpoint stands (its saved "
                        "settings apply)")
    p.add_argument("--no-plots", action="store_true", help="do not write plots")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars or notes on stderr (run.log in the run directory still gets everything)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    add_threads_option(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate a trained run with learning off")
    p.add_argument("run_dir", help="a run directory written by stdpnet train")
    p.add_argument("--data", default=None, metavar="SOURCE",
                   help="evaluate on all samples of this SOURCE instead of the run's stored validation split "
                        "(the run's own training source: its validation split, never its training samples)")
    p.add_argument("--max-samples", type=int, default=None, help="evaluate at most this many samples")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes sharing the shards (default 1); the result is the same for any N")
    p.add_argument("--shard-samples", type=int, default=None, metavar="K",
                   help="samples per shard; every shard starts from the trained state (default 20, as the "
                        "validation at the end of train; 0: one continuous shard)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bar or notes on stderr")
    add_threads_option(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("plot", help="write the full figure set of a run: per-layer features, confusion, raster, "
                                    "learning curve, weight histograms over training")
    p.add_argument("run_dir", help="a run directory written by stdpnet train")
    p.add_argument("--format", choices=["png", "pdf", "svg"], default="png", help="file format (pdf/svg: vector)")
    p.add_argument("--dpi", type=int, default=150, help="resolution of raster output and embedded images")
    p.add_argument("--quiet", action="store_true", help="no notes on stderr")
    p.set_defaults(func=cmd_plot)


def cmd_train(a) -> int:
    from ..errors import ConfigError
    from ..experiment.config import build_config
    from ..experiment.protocol import resume, train
    from ..experiment.runlog import summary_lines
    from ..experiment.seeds import is_seeds_dir, resume_seeds, seed_list, seeds_lines, train_seeds

    progress = not a.quiet
    if a.resume:
        given = [flag for attr, flag in RESUME_FIXED if getattr(a, attr) is not None]
        if given:
            raise ConfigError(f"--resume continues a run with its saved settings; {', '.join(given)} would be ignored: "
                              "drop them (or start a new run with --config RUN_DIR/config.json and new options)")
        if is_seeds_dir(a.resume):
            if a.on_bad is not None:
                raise ConfigError("--on-bad cannot change the settings of a set of seeds; resume each seed-<s> "
                                  "directory on its own")
            summary = resume_seeds(a.resume, workers=a.workers, progress=progress, make_plots=not a.no_plots)
        else:
            summary = resume(a.resume, on_bad=a.on_bad, progress=progress, make_plots=not a.no_plots,
                             eval_workers=a.workers)
    else:
        if a.seeds is not None and a.seed is not None:
            raise ConfigError("--seed and --seeds both choose the seed; give --seeds only (or --repeat N with --seed "
                              "as the first seed)")
        window_us = None if a.window_ms is None else _window_us(a.window_ms)
        config = build_config(a.config, net=a.net, data=a.data, readout=a.readout, epochs=a.epochs, seed=a.seed,
                              val_fraction=a.val_fraction, max_train=a.max_train, max_val=a.max_val,
                              test_data=a.test_data, window_us=window_us, gap_us=a.gap_us, on_bad=a.on_bad,
                              checkpoint_every_samples=a.checkpoint_every, checkpoint_every_s=a.checkpoint_every_s)
        seeds = seed_list(a.seeds, a.repeat, first=config.seed)
        net = config.network.net
        out = a.out or f"runs/{Path(net).name if len(net) < 30 else 'custom'}-{time.strftime('%Y%m%d-%H%M%S')}"
        if seeds is not None:
            summary = train_seeds(config, out, seeds, workers=a.workers, progress=progress, make_plots=not a.no_plots)
        else:
            summary = train(config, out, progress=progress, make_plots=not a.no_plots, eval_workers=a.workers)
    if a.json:
        print(json.dumps(summary, default=str))
    else:
        lines = seeds_lines(summary) if "seeds" in summary else summary_lines(summary)
        print("\n".join(lines))
    return 130 if summary.get("interrupted") else 0


def _window_us(ms: float) -> int:
    from ..errors import ConfigError

    if not ms > 0:
        raise ConfigError(f"--window-ms must be > 0, got {ms}")
    return max(1, int(round(ms * 1000)))


def print_summary(s) -> None:
    """Print a training summary as ``stdpnet train`` does."""
    from ..experiment.runlog import summary_lines

    print("\n".join(summary_lines(s)))


def cmd_eval(a) -> int:
    from ..experiment.protocol import evaluate_run

    from ..experiment.protocol import EVAL_SHARD_SAMPLES

    shard = EVAL_SHARD_SAMPLES if a.shard_samples is None else a.shard_samples
    report = evaluate_run(a.run_dir, data=a.data, max_samples=a.max_samples, progress=not (a.quiet or a.json),
                          workers=a.workers, shard_samples=shard)
    if a.json:
        print(json.dumps(report, default=str))
        return 0
    for n in report.get("notes", []):
        print(f"note: {n}")
    if "accuracy" not in report:
        print(f"{report['note']}")
    else:
        print(f"accuracy {report['accuracy']:.4f} on {report['samples']} samples; silent {report['silent']} "
              f"({report['silent_rate']:.3f})")
        print("confusion (rows: true class; columns: predicted class, last = silent):")
        for i, row in enumerate(report["confusion"]):
            print(f"  {i:2d} " + " ".join(f"{v:4d}" for v in row))
    print("spikes per sample (learning / inference):")
    for name, s in report["spikes_per_sample"].items():
        print(f"  {name:6s} {s['learning']:8.1f} {s['inference']:10.1f}")
    print(f"{report['events_per_s']:,.0f} events/s, real-time factor {report['realtime_factor']:.1f}x; "
          f"{report['elapsed_s']:.1f} s on {report['workers']} process(es), shards of {report['shard_samples'] or 'all'} "
          "samples from the trained state")
    return 0


def cmd_plot(a) -> int:
    from ..experiment.loop import as_progress
    from ..experiment.protocol import write_run_figures
    from ..experiment.run import Run
    from ..experiment.warmup import warm_up_kernels

    warm_up_kernels(announce=as_progress(not a.quiet).note)
    run = Run.open(a.run_dir, lock=False)
    try:
        for p in write_run_figures(run, fmt=a.format, dpi=a.dpi):
            print(p)
    finally:
        run.close()
    return 0
