"""Live learning: a network learns, in all layers at once, from events arriving on the wall clock.

Sources: ``udp://HOST:PORT`` (aestream / SPIF datagrams; :class:`streams.live.UDPReceiver`), or
any recorded SOURCE (a recording, a folder, a labelled data set) replayed at ``speed`` x real time
in-process (:class:`streams.pacing.PacedSource`). Labels reach the readout when the source has
them: a paced labelled data set carries them, and a UDP stream may come with the label side
channel (``--label-port``, which ``stdpnet send`` feeds); from a bare camera the network learns
features unsupervised and no readout runs.

The loop: poll the source, close every tick the wall clock has completed
(:class:`streams.live.WallClockTicker`: silence costs O(1); when input outruns the simulator the
reduction policy applies: downsample to the network's input, one spike per pixel and tick, then a
seeded rate cap; ticks older than ``max_lag_ms`` are dropped, never queued without bound), run
them, and publish a :class:`stdpnet.viz.live.LiveFrame` to the observers (window, snapshots) at
``fps``. The run directory is a normal one: ``config.json``, ``checkpoint.npz`` (periodically,
and on Ctrl-C / SIGTERM / SIGHUP), ``metrics.json``; ``stdpnet eval RUN --data SOURCE`` evaluates it.

Accounting (``--json``): ``received`` (events accepted by the receiver), ``dropped_by_kernel``
(datagrams the kernel's queue dropped, Linux ``SO_RXQ_OVFL``), ``dropped_by_buffer``,
``rejected`` (malformed or outside the sensor), ``reduced`` (removed by the reduction policy or
the lag bound), ``processed_events`` (what the network received), lag percentiles (wall clock
after a chunk ran minus the end of its last tick, on the source's clock) and the real-time factor.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

import streams
from streams.live import UDPReceiver, WallClockTicker
from streams.pacing import PacedSource
from streams.sources import LiveSource

from ..checkpoint import save as save_checkpoint
from ..errors import ConfigError
from ..metrics import RunningAccuracy
from ..network import Network
from ..readouts import make_readout
from .config import RunConfig
from .loop import StopRequest
from .rundir import RunDir, StoredSplit

LAG_WINDOW = 100_000  # lag samples kept for the percentiles (the most recent)


@dataclass
class LiveOptions:
    speed: float = 1.0
    duration_s: Optional[float] = None
    sensor: Optional[tuple] = None  # (W, H, P) of a UDP camera; default: the network's input
    label_port: Optional[int] = None
    n_classes: int = 10
    max_events_per_tick: Optional[int] = None
    max_lag_ms: float = 200.0
    fps: float = 20.0
    checkpoint_every_s: float = 60.0
    buffer_events: int = 1 << 20  # ring capacity: at a rate R, input older than capacity / R is dropped
    max_drain: Optional[int] = None
    # with events that carry timestamp words (stdpnet send --timestamps), label marks are placed by
    # the sender's stream time (exact); otherwise by their arrival time (the kernel's stamp)
    align_marks: bool = True
    # how long a tick stays open for its events after it ends (wall clock): events arriving later
    # are "late" and move to the first open tick (counted). A sender delayed by load needs more;
    # every ms here is a ms of lag
    settle_ms: float = 1.0


class _Lag:
    def __init__(self):
        self.values = np.zeros(LAG_WINDOW)
        self.n = 0

    def add(self, ms: float) -> None:
        self.values[self.n % LAG_WINDOW] = ms
        self.n += 1

    def percentile(self, q: float) -> Optional[float]:
        if self.n == 0:
            return None
        return float(np.percentile(self.values[:min(self.n, LAG_WINDOW)], q))


def open_live_source(source, network: Network, options: LiveOptions, seed: int):
    """``(source object, labelled, n_classes, sensor_size, text)`` for a SOURCE text or object (a ready
    :class:`streams.pacing.PacedSource` or :class:`streams.live.UDPReceiver` is used as it is, unlabelled)."""
    if hasattr(source, "drain") and hasattr(source, "now_us"):
        return source, False, None, tuple(source.sensor_size), type(source).__name__
    resolved = streams.sources.resolve_source(source, seed=seed) if not isinstance(source, LiveSource) else source
    if isinstance(resolved, LiveSource):
        sensor = tuple(options.sensor or network.sensor_size)
        rx = UDPReceiver(resolved.host, resolved.port, sensor, buffer_events=options.buffer_events,
                         timestamp_align_us=network.dt_us)
        return rx, options.label_port is not None, options.n_classes, sensor, resolved.text
    ds = resolved.dataset
    sensor = tuple(resolved.sensor_size)
    if resolved.labelled:
        stream = streams.LabelledStream(ds, shuffle=True, seed=seed)
        src = PacedSource(stream, options.speed, sensor_size=sensor, buffer_events=options.buffer_events)
        return src, True, resolved.n_classes, sensor, resolved.text
    if len(ds) == 1:
        events, _ = ds[0]
        src = PacedSource(np.asarray(events), options.speed, sensor_size=sensor, buffer_events=options.buffer_events)
    else:
        src = PacedSource(streams.LabelledStream(ds), options.speed, sensor_size=sensor,
                          buffer_events=options.buffer_events)
    return src, False, None, sensor, resolved.text


def warm_up(config: RunConfig) -> None:
    """Load (or compile) the kernels on a throwaway copy of the network, so the first live tick
    does not wait for the JIT."""
    from streams.ticks import TickChunk

    net = Network.from_config(config.network_dict())
    W, H, _ = net.sensor_size
    ev = streams.make_events([W // 2], [H // 2], [0], [0])
    net.run(TickChunk(0, net.dt_us, ev, np.array([0, 1]), np.array([-1]), np.array([-1])), record=True)


def _warm_ticker(network: Network, sensor) -> None:
    """Compile the ticker's reduction kernels before the clock starts (a throwaway ticker, every stage)."""
    W, H, P = sensor
    t = WallClockTicker(network.dt_us, sensor, network.sensor_size, 1, 0, one_spike_per_pixel="always")
    n = 8
    ev = streams.make_events(np.arange(n) % W, np.arange(n) % H, np.zeros(n, np.int64), np.arange(n) % P)
    t.step(ev, now_us=10 * network.dt_us)


def run_live(config: Optional[RunConfig], out_dir, *, source=None, options: Optional[LiveOptions] = None,
             observers: Optional[List[Callable]] = None, say: Optional[Callable[[str], None]] = None,
             resume: bool = False, on_start: Optional[Callable[[], None]] = None) -> Dict[str, Any]:
    """Learn live from ``source`` (default ``config.data.source``) into the run directory ``out_dir``
    until the source ends, ``options.duration_s`` passes, or a stop signal; returns the report.

    ``resume``: continue the live run in ``out_dir`` (its configuration and checkpoint) on a new
    stream: the network keeps its state and clock; the new stream's ticks follow its last one."""
    from ..viz.live import frame_from_network

    options = options or LiveOptions()
    if resume:
        rundir = RunDir.open(out_dir)
        config = rundir.config()
    if not (options.speed > 0 and np.isfinite(options.speed)):
        raise ConfigError(f"--speed must be a positive finite factor, got {options.speed}")
    observers = list(observers or [])
    network = Network.from_config(config.network_dict())
    src, labelled, n_classes, sensor, text = open_live_source(source or config.data.source, network, options,
                                                               config.seed)
    if resume:  # the readout keeps the classes it was built with
        n_classes = rundir.load_split().fingerprint.get("n_classes") or n_classes
    readout = make_readout(config.readout.kind, network, n_classes, **config.readout.params) if labelled else None
    warm_up(config)
    accuracy = RunningAccuracy()
    offset = 0  # ticks: a resumed run's new stream starts after the network's last tick
    if resume:
        state = rundir.load_checkpoint()
        network.load_state_dict(state["network"])
        if readout is not None and state.get("readout"):
            readout.load_state_dict(state["readout"])
        if state.get("accuracy"):
            accuracy.load_state_dict(state["accuracy"])
        offset = network.now
    else:
        rundir = RunDir.create(out_dir, config)
        rundir.save_split(StoredSplit(np.zeros(0, np.int64), np.zeros(0, np.int64), {"kind": "live", "source": text,
                                                                                   "n_classes": n_classes}))
    ticker = WallClockTicker(network.dt_us, sensor, network.sensor_size, options.max_events_per_tick, config.seed,
                             max_lag_us=int(options.max_lag_ms * 1000),
                             settle_us=max(network.dt_us, int(options.settle_ms * 1000)))
    _warm_ticker(network, sensor)
    labels = None
    pending_marks: List[np.ndarray] = []
    lag = _Lag()
    stop = StopRequest()
    record = bool(observers)
    counts = {l.name: np.zeros(l.n_neurons, np.int64) for l in network.learning_layers}
    recent_events: List[np.ndarray] = []
    last_frame = time.monotonic()
    last_ckpt = time.monotonic()
    processed = 0
    ticks_run = 0
    sim_wall = 0.0
    t_start = time.monotonic()
    prediction = label = None

    def save():
        state = {"network": network.state_dict(), "readout": readout.state_dict() if readout else {},
                 "accuracy": accuracy.state_dict(), "phase": "done"}
        save_checkpoint(rundir.checkpoint_path, state)

    def publish(force=False):
        nonlocal last_frame, counts, recent_events
        ev = np.concatenate(recent_events) if recent_events else np.zeros(0, streams.EVENT_DTYPE)
        frame = frame_from_network(network, src.now_us() / 1e6, ev, counts, report(),
                                   prediction=prediction, label=label,
                                   accuracy=accuracy.value if readout is not None and accuracy.samples else None)
        for fn in observers:
            fn(frame, force=force) if force else fn(frame)
        counts = {l.name: np.zeros(l.n_neurons, np.int64) for l in network.learning_layers}
        recent_events = []
        last_frame = time.monotonic()

    def report() -> Dict[str, Any]:
        nonlocal sim_wall
        c = src.counters()
        t = ticker.counters()
        wall = max(time.monotonic() - t_start, 1e-9)
        return {
            "source": text, "received": int(c["received"] if "received" in c else c.get("delivered", 0)),
            "dropped_by_kernel": int(c.get("dropped_by_kernel", 0)),
            "dropped_by_buffer": int(c.get("dropped_by_buffer", 0)), "rejected": int(c.get("rejected", 0)),
            "reduced": int(t["dropped_by_lag"] + t["closed"] - t["after_rate_cap"]),
            "reduced_by_stage": {"lag": int(t["dropped_by_lag"]), "downsample": int(t["closed"] - t["after_downsample"]),
                                 "one_per_pixel": int(t["after_downsample"] - t["after_one_per_pixel"]),
                                 "rate_cap": int(t["after_one_per_pixel"] - t["after_rate_cap"])},
            # re-timed, not dropped: events that reached a tick already closed (moved to the first
            # open one) or stamped ahead of the clock (clamped to now)
            "retimed": {"late": int(t["late"]), "early": int(t["early"])},
            "processed_events": int(processed), "lag_ms_p50": lag.percentile(50), "lag_ms_p99": lag.percentile(99),
            # stream time covered per second spent simulating: > 1 means the network keeps up
            "realtime_factor": (src.now_us() / 1e6) / max(sim_wall, 1e-9), "stream_s": src.now_us() / 1e6,
            "sim_wall_s": sim_wall, "ticks_run": int(ticks_run), "wall_s": wall,
            "accuracy": accuracy.value if readout is not None and accuracy.samples else None,
            "samples_decided": int(accuracy.samples),
        }

    if say:
        say(f"live: {text} -> {network.spec.text} ({'labelled' if labelled else 'unlabelled: features only'}), "
            f"speed x{options.speed:g}; Ctrl-C stops and saves")
    try:
        with src, stop.on_signals():
            if isinstance(src, UDPReceiver) and options.label_port is not None:
                labels = src.open_labels(options.label_port)
                labels.__enter__()
            if on_start is not None:  # the source listens (a sender may start now)
                on_start()
            while not stop():
                if options.duration_s is not None and time.monotonic() - t_start >= options.duration_s:
                    break
                if labels is not None:
                    pending_marks.append(labels.poll())
                    shift = src.stream_to_local_us()
                    # hold marks until the first events tell whether they carry timestamps
                    if shift is not None or not options.align_marks or src.counters()["datagrams"] > 0:
                        marks = np.concatenate(pending_marks)
                        pending_marks.clear()
                        if shift is not None:  # events carry the sender's timestamps: align marks exactly
                            marks["t"] = marks["t_stream"] + shift
                        ticker.push_marks(marks)
                elif isinstance(src, PacedSource) and labelled:
                    ticker.push_marks(src.poll_marks())
                # at most max_drain events per step: the loop keeps turning (lag stays bounded); a
                # source faster than that overflows its bounded buffer, counted as dropped_by_buffer
                chunks = ticker.feed(src, options.max_drain)
                # spikes are recorded only in the last half frame before a frame is due (the panels'
                # activity), so the view costs little simulation time
                record = bool(observers) and time.monotonic() - last_frame >= 0.5 / options.fps
                for ch in chunks:
                    if offset:
                        ch = dataclasses.replace(ch, start_tick=ch.start_tick + offset)
                    t_run = time.perf_counter()
                    result = network.run(ch, record=record)
                    sim_wall += time.perf_counter() - t_run
                    processed += len(ch.events)
                    ticks_run += ch.n_ticks
                    lag.add((src.now_us() - (ch.start_tick + ch.n_ticks) * ch.dt_us) / 1000.0)
                    if readout is not None:
                        done = readout.process(result, ch, network, True)
                        accuracy.add(done)
                        if done:
                            prediction, label = done[-1].predicted, done[-1].label
                    if record and result.record is not None:
                        rec = result.record
                        for li, layer in enumerate(network.learning_layers):
                            sel = (rec[:, 1] == li) & (rec[:, 2] == 1)
                            counts[layer.name] += np.bincount(rec[sel, 3], minlength=layer.n_neurons)
                        recent_events.append(ch.events)
                now = time.monotonic()
                if observers and now - last_frame >= 1.0 / options.fps:
                    publish()
                if now - last_ckpt >= options.checkpoint_every_s:
                    save()
                    last_ckpt = now
                if isinstance(src, PacedSource) and src.finished and not chunks and ticker.counters()["pending"] == 0:
                    break
                if not chunks:
                    time.sleep(min(0.001, network.dt_us / 2e6))
    finally:
        if labels is not None:
            labels.__exit__(None, None, None)
        if readout is not None:
            accuracy.add(readout.flush(network))
        save()
        out = report()
        if observers:
            publish(force=True)
        out.update({"run_dir": str(Path(rundir.path)), "network": network.spec.text,
                    "interrupted": bool(stop()), "stopped_by": stop.signal_name})
        rundir.write_json("metrics.json", out)
        rundir.close()
    return out
