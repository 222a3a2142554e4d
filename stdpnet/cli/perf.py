"""``stdpnet bench`` and ``stdpnet crosscheck``: speed, and agreement with the Brian2 twin."""
from __future__ import annotations

import json

from streams.sources import SOURCE_HELP


def add_parsers(sub) -> None:
    p = sub.add_parser("bench", help="simulator throughput, learning on and off")
    p.add_argument("--net", default="nmnist", help="preset or spec string (default nmnist)")
    p.add_argument("--data", default=None, metavar="SOURCE",
                   help=f"{SOURCE_HELP}; default: the preset's data if available, else synthetic")
    p.add_argument("--samples", type=int, default=None, help="use the first N samples (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, order and synthetic data")
    p.add_argument("--precision", default=None, choices=["float64", "float32"],
                   help="potentials and weights (default: the preset's, float32 for the presets; else float64)")
    p.add_argument("--threads", type=int, default=None, choices=[1, 2],
                   help="cores for the one stream: 2 runs the first layer on a second thread, a block of "
                        "ticks ahead (same results; not with --profile; default 1, or STDPNET_THREADS)")
    p.add_argument("--profile", action="store_true",
                   help="also time each phase of each layer (delivery, scan, sort, STDP, inhibition, ...)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bars or notes on stderr")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("crosscheck", help="compare the simulator against its Brian2 twin")
    p.add_argument("--net", default="34x34x2-4C5-P2-8C5-P2-32", help="preset or spec string")
    p.add_argument("--data", default=None, metavar="SOURCE",
                   help="synthetic, nmnist:DIR, a folder in N-MNIST layout or a recording; default: the "
                        "preset's data if available, else N-MNIST if available, else synthetic")
    p.add_argument("--samples", type=int, default=3, help="number of recordings (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and synthetic data")
    p.add_argument("--target", default="numpy", choices=["numpy", "cython"], help="Brian2 code generation target")
    p.add_argument("--precision", default=None, choices=["float64", "float32"],
                   help="potentials and weights (default: the preset's, float32 for the presets; else float64)")
    p.add_argument("--bench", action="store_true", help="also time both simulators (Brian2 with the cython target)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress indicator or notes on stderr")
    p.set_defaults(func=cmd_crosscheck)


def cmd_bench(a) -> int:
    from ..bench import bench_simulator, format_bench

    report = bench_simulator(net=a.net, data=a.data, samples=a.samples, seed=a.seed, progress=not a.quiet,
                             profile=a.profile, precision=a.precision, threads=a.threads)
    print(json.dumps(report) if a.json else format_bench(report))
    return 0


def crosscheck_data(net: str, data):
    """The crosscheck's data as text its loader reads, checked by the SOURCE resolver: ``data``, or
    the preset's data when available, else ``None`` (the loader's own default: N-MNIST if present,
    else synthetic). The synthetic preset gets synthetic bars on its own sensor."""
    from streams.sources import parse_source

    from ..errors import SourceError
    from ..experiment.config import PRESET_EXPERIMENTS, preset_data_source

    if data is None:
        if net not in PRESET_EXPERIMENTS:
            return None
        data = preset_data_source(net) or "synthetic"
    try:
        spec = parse_source(data)
    except Exception as e:  # streams.SourceError
        raise SourceError(str(e)) from None
    if spec.kind == "synthetic":
        return "synthetic"
    if spec.kind in ("nmnist", "folder", "recording"):
        return spec.text
    raise SourceError(f"crosscheck reads synthetic, nmnist:DIR, a folder in N-MNIST layout or one recording; "
                      f"{data!r} is a {spec.kind} source")


def cmd_crosscheck(a) -> int:
    from ..experiment.loop import as_progress
    from ..experiment.warmup import warm_up_kernels
    from ..validate.crosscheck import format_report, run_crosscheck

    progress = as_progress(not a.quiet)
    warm_up_kernels(announce=progress.note)
    # the twin reports its own phases (code generation with a first-run estimate, then simulation
    # progress every 10 s) as lines on stderr
    report = run_crosscheck(net=a.net, data=crosscheck_data(a.net, a.data), samples=a.samples, seed=a.seed,
                            bench=a.bench, target=a.target, progress=None if a.quiet else progress.note,
                            precision=a.precision)
    print(json.dumps(report) if a.json else format_report(report))
    return 0 if report["identical"] else 1
