"""``stdpnet live`` (learn from a live event stream) and ``stdpnet send`` (replay as aestream UDP)."""
from __future__ import annotations

import json
import sys
import time


def _sensor(text):
    from ..errors import ConfigError

    try:
        w, h, p = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--sensor takes WxHxP, e.g. 640x480x2, got {text!r}") from None
    return (w, h, p)


def add_parsers(sub) -> None:
    from . import add_threads_option

    p = sub.add_parser("live", help="learn online, in all layers, from a live event stream (UDP camera or a "
                                    "paced recording/dataset), with exact loss accounting and a live view")
    p.add_argument("--source", required=True,
                   help="udp://HOST:PORT (aestream/SPIF datagrams) or any recorded SOURCE replayed at --speed")
    p.add_argument("--net", default=None, help="preset or spec string (default: one matching the source's sensor)")
    p.add_argument("--speed", type=float, default=1.0, help="replay speed of a recorded source (x real time)")
    p.add_argument("--sensor", default=None, help="WxHxP of a UDP camera (default: the network's input size)")
    p.add_argument("--label-port", type=int, default=None,
                   help="UDP port of the label side channel (stdpnet send --label-port); labels feed the readout")
    p.add_argument("--classes", type=int, default=10, help="number of classes of a labelled UDP stream")
    p.add_argument("--max-events-per-tick", type=int, default=None,
                   help="rate cap: input beyond it per tick is subsampled (counted as reduced)")
    p.add_argument("--max-lag-ms", type=float, default=200.0, help="ticks older than this are dropped, not queued")
    p.add_argument("--settle-ms", type=float, default=1.0,
                   help="how long a tick waits for late events after it ends (more: exacter timing, more lag)")
    p.add_argument("--duration", type=float, default=None, help="stop after S seconds of wall time")
    p.add_argument("--view", action="store_true", help="open a window with the live panels (needs a display)")
    p.add_argument("--snapshots", default=None, help="write the live panels as PNG files into this folder")
    p.add_argument("--every", type=float, default=1.0, help="seconds between snapshots")
    p.add_argument("--seed", type=int, default=None, help="seed (weights, readout, rate cap)")
    p.add_argument("--config", default=None, help="TOML/JSON configuration (network and readout)")
    p.add_argument("--out", default=None, help="run directory (default runs/live-<time>)")
    p.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue a live run (its network, readout and clock) on a new stream")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    add_threads_option(p)
    p.set_defaults(func=cmd_live)

    p = sub.add_parser("send", help="replay a recording or dataset as aestream-compatible UDP datagrams")
    p.add_argument("source", help="SOURCE to send (a recording, folder, nmnist:DIR, synthetic...)")
    p.add_argument("address", help="udp://HOST:PORT")
    p.add_argument("--speed", type=float, default=1.0, help="x real time (inf: as fast as possible)")
    p.add_argument("--label-port", type=int, default=None, help="also send each sample's label to this port")
    p.add_argument("--timestamps", action="store_true", help="send a timestamp word after every event word")
    p.add_argument("--max-samples", type=int, default=None, help="send at most this many samples of a dataset")
    p.add_argument("--shuffle", type=int, default=None, metavar="SEED",
                   help="send the samples in this seed's random order (default: stored order, which for a "
                        "dataset folder is class by class); with --max-samples, the first samples of that order")
    p.add_argument("--json", action="store_true", help="print {sent, datagrams, ...} as one JSON object")
    p.set_defaults(func=cmd_send)


def _default_net(source_text):
    from streams.sources import LiveSource, resolve_source

    from ..spec import PRESETS, parse_spec

    src = resolve_source(source_text)
    if isinstance(src, LiveSource):
        return "nmnist"
    for name, preset in PRESETS.items():
        if tuple(parse_spec(preset["net"]).sensor_size) == tuple(src.sensor_size):
            return name
    w, h, p = src.sensor_size
    return f"{w}x{h}x{p}-16C5-P2-64"


def cmd_live(a) -> int:
    from ..experiment.config import build_config
    from ..experiment.live import LiveOptions, run_live

    from ..errors import ConfigError

    if a.resume and (a.net or a.config or a.seed is not None or a.out):
        raise ConfigError("--resume continues a live run with its saved network and seed; drop --net/--config/--seed/--out")
    net = a.net or _default_net(a.source)
    config = None if a.resume else build_config(
        config_file=a.config, net=net, data=a.source if not a.source.startswith("udp://") else None, seed=a.seed)
    options = LiveOptions(speed=a.speed, duration_s=a.duration, sensor=_sensor(a.sensor) if a.sensor else None,
                          label_port=a.label_port, n_classes=a.classes, max_events_per_tick=a.max_events_per_tick,
                          max_lag_ms=a.max_lag_ms, settle_ms=a.settle_ms)
    observers = []
    sinks = []
    if a.snapshots:
        from ..viz.live import SnapshotProcess

        sinks.append(SnapshotProcess(a.snapshots, every_s=a.every, title=f"stdpnet live: {a.source} -> {net}"))
        observers.append(sinks[-1])
    view = None
    if a.view:
        from ..viz.live import WindowView

        view = WindowView(title=f"stdpnet live: {a.source}")
        observers.append(view)
        sinks.append(view)
    out = a.resume or a.out or f"runs/live-{time.strftime('%Y%m%d-%H%M%S')}"

    def say(msg):
        if not (a.quiet or a.json):
            print(msg, file=sys.stderr, flush=True)

    try:
        report = run_live(config, out, source=a.source, options=options, observers=observers, say=say,
                          resume=bool(a.resume))
    finally:
        for sink in sinks:
            sink.close()
    if a.json:
        print(json.dumps(report, default=float))
    else:
        acc = "-" if report["accuracy"] is None else f"{report['accuracy']:.3f}"
        lag = "-" if report["lag_ms_p99"] is None else f"{report['lag_ms_p50']:.1f} / {report['lag_ms_p99']:.1f}"
        print(f"run {report['run_dir']}: {report['processed_events']:,} events processed of {report['received']:,} "
              f"received; dropped kernel {report['dropped_by_kernel']:,} (datagrams), buffer "
              f"{report['dropped_by_buffer']:,}; rejected {report['rejected']:,}; reduced {report['reduced']:,}")
        print(f"  lag p50/p99 {lag} ms, real-time factor {report['realtime_factor']:.2f}, running accuracy {acc}")
        if report["interrupted"]:
            print(f"  stopped by {report['stopped_by']}: checkpoint saved in {report['run_dir']}")
    return 130 if report["interrupted"] else 0


def send_order(n_samples: int, max_samples=None, shuffle_seed=None):
    """The sample indices ``stdpnet send`` plays, in order: all or the first ``max_samples``, of the
    stored order or of ``numpy.random.default_rng(shuffle_seed).permutation(n_samples)``."""
    import numpy as np

    order = np.arange(n_samples) if shuffle_seed is None else np.random.default_rng(shuffle_seed).permutation(n_samples)
    return order if max_samples is None else order[:max(0, int(max_samples))]


def cmd_send(a) -> int:
    import math

    import numpy as np

    import streams
    from streams.live import send_events, send_stream
    from streams.live.sender import parse_address

    from ..errors import ConfigError
    from ..sources import open_source

    try:
        host, port = parse_address(a.address)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    src = open_source(a.source, command="send")
    speed = math.inf if a.speed == float("inf") else a.speed
    indices = send_order(len(src.dataset), a.max_samples, a.shuffle)
    if src.labelled or len(indices) > 1:
        stream = streams.LabelledStream(src.dataset, indices=indices)
        label_address = (host, a.label_port) if a.label_port else None
        report = send_stream(stream, src.sensor_size, (host, port), label_address, speed, with_timestamps=a.timestamps)
    else:
        events, _ = src.dataset[0]
        report = send_events(events, src.sensor_size, (host, port), speed, with_timestamps=a.timestamps)
    if a.json:
        print(json.dumps(report, default=float))
    else:
        print(f"sent {report['sent']:,} events in {report['datagrams']:,} datagrams to {host}:{port} "
              f"({report['stream_s']:.2f} s of stream in {report['wall_s']:.2f} s)")
    return 0
