"""Simulator benchmark (issue: training >= 100k input events/s on the N-MNIST network, inference
>= 2x that). Recordings are laid end to end at ``dt``, read ahead of timing so the figures measure
the simulator; reading throughput is :mod:`benchmarks.bench_streams`' job."""
from __future__ import annotations

import time
from typing import Any, Dict, Optional

import numpy as np

import streams
from . import kernels as K
from .errors import ParameterError
from .metrics import PassStats, peak_rss_mb
from .network import Network
from .sources import check_fits, open_source


def _time_pass(net: Network, chunks, bar=None, profile: bool = False):
    """Run ``chunks`` through ``net``, timing each call (the bar is updated outside the timed call);
    with ``profile``, also the per-phase breakdown (:func:`phase_breakdown`). Returns
    ``(PassStats, breakdown or None)``."""
    stats = PassStats([l.name for l in net.learning_layers])
    if profile:
        net.enable_profiling()
        c0, w0 = K.read_cycle_counter(), time.perf_counter()
    for chunk in chunks:
        t0 = time.perf_counter()
        result = net.run(chunk)
        stats.add_chunk(len(chunk.events), chunk.n_ticks, time.perf_counter() - t0, result.counts)
        stats.samples += 1
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    if not profile:
        return stats, None
    cycles_per_s = (K.read_cycle_counter() - c0) / max(time.perf_counter() - w0, 1e-9)
    breakdown = phase_breakdown(net, stats.wall_s, cycles_per_s)
    net.enable_profiling(False)
    return stats, breakdown


def phase_breakdown(net: Network, wall_s: float, cycles_per_s: float) -> Dict[str, Any]:
    """Seconds per layer and phase from the network's cycle counters (``cycles_per_s``: the
    time-stamp counter's rate, measured against wall time over the same pass), plus ``driver`` (the
    compiled driver outside the layers' phases: reading the tick's events, the loop) and ``python``
    (``net.run`` outside the compiled driver). Shares are of ``wall_s``, the pass's timed wall time."""
    phases = {}
    in_layers = 0.0
    for name, row in zip([l.name for l in net.learning_layers], net.phase_cycles):
        phases[name] = {ph: float(c) / cycles_per_s for ph, c in zip(K.PHASES, row)}
        in_layers += sum(phases[name].values())
    totals = {ph: sum(phases[n][ph] for n in phases) for ph in K.PHASES}
    totals["driver"] = max(net.kernel_wall_s - in_layers, 0.0)
    totals["python"] = max(wall_s - net.kernel_wall_s, 0.0)
    wall = max(wall_s, 1e-12)
    return {"wall_s": wall_s, "cycles_per_s": cycles_per_s, "layers": phases, "totals": totals,
            "shares": {k: v / wall for k, v in totals.items()}}


def default_bench_data(net: str) -> str:
    """The data ``bench`` (and ``crosscheck``) use when none is given: the preset's own data if it
    is available, else the synthetic moving bars (drawn on the network's sensor)."""
    from .experiment.config import preset_data_source

    return preset_data_source(net) or "synthetic"


def bench_simulator(net: str = "nmnist", data: Optional[str] = None, samples: Optional[int] = None,
                    seed: int = 0, progress=False, profile: bool = False,
                    precision: Optional[str] = None, threads: Optional[int] = None) -> Dict[str, Any]:
    """Train one pass (learning on in all layers), then one inference pass (learning off) over the
    same recordings; returns the figures of SPEC section 10 plus the kernels' warm-up time
    (``compile_s``: compiling, or loading numba's disk cache; never in the timed passes).
    ``data``: a SOURCE (default :func:`default_bench_data`). ``progress``: True (bars and the
    compile announcement on stderr), False, or a :class:`stdpnet.experiment.loop.Progress`.

    ``profile``: also time every phase of every layer (``"profile"``: ``{"train": ..., "infer": ...}``
    as :func:`phase_breakdown` returns them). The profiling variant of the kernels is compiled
    separately (outside the timed passes) and its counters cost a few percent, so the throughput
    figures of a profiled run are slightly lower than those of a plain one. ``threads``: 1 or 2
    (:attr:`Network.threads`; default ``STDPNET_THREADS``'s, 1 with ``profile``)."""
    from .experiment.loop import as_progress
    from .experiment.warmup import warm_up_kernels

    progress = as_progress(progress)
    if profile and threads is not None and threads > 1:
        raise ParameterError("bench --profile times the phases of one thread; run it without --threads")
    network = Network.from_spec(net, seed=seed, precision=precision)
    if threads is not None or profile:  # else STDPNET_THREADS's, as for every network; profiling is serial
        network.threads = 1 if profile else threads
    warm = warm_up_kernels(announce=progress.note, precision=network.precision)
    source = open_source(data or default_bench_data(net), command="bench", seed=seed,
                         synthetic_sensor=network.sensor_size if network.sensor_size[2] == 2 else None)
    check_fits(source, network)
    indices = np.arange(len(source.dataset))
    if samples is not None:
        indices = indices[: int(samples)]
    stream = streams.LabelledStream(source.dataset, indices=indices, shuffle=True, seed=seed)
    chunks = list(streams.tick_chunks(stream, dt_us=network.dt_us))
    if profile:  # compile the profiling variant outside the timed passes, on a throw-away network
        scratch_net = Network.from_spec(net, seed=seed, precision=precision)
        scratch_net.enable_profiling()
        scratch_net.run(chunks[0])
    train, train_prof = _time_pass(network, chunks, progress.bar(len(chunks), "bench: training"), profile)
    network.set_learning(False)
    shift = network.now
    infer_chunks = [type(c)(c.start_tick + shift, c.dt_us, c.events, c.offsets, c.sample, c.label) for c in chunks]
    infer, infer_prof = _time_pass(network, infer_chunks, progress.bar(len(chunks), "bench: inference"), profile)
    tr, inf = train.summary(network.dt_us), infer.summary(network.dt_us)
    return {
        "net": network.spec.text,
        "data": source.text,
        "samples": int(len(indices)),
        "events": train.events,
        "dt_us": network.dt_us,
        "precision": network.precision,
        "threads": network.threads,
        "train_events_per_s": tr["events_per_s"],
        "infer_events_per_s": inf["events_per_s"],
        "infer_over_train": inf["events_per_s"] / max(tr["events_per_s"], 1e-9),
        "realtime_factor": tr["realtime_factor"],
        "infer_realtime_factor": inf["realtime_factor"],
        "synops_per_s": tr["synops_per_s"],
        "train_wall_s": tr["wall_s"],
        "infer_wall_s": inf["wall_s"],
        "spikes_per_sample_train": tr["spikes_per_sample"],
        "spikes_per_sample_infer": inf["spikes_per_sample"],
        "compile_s": warm.compile_s,
        "compile_from_cache": bool(warm.from_cache),
        "peak_rss_mb": peak_rss_mb(),
        **({"profile": {"train": train_prof, "infer": infer_prof}} if profile else {}),
    }


def format_bench(r: Dict[str, Any]) -> str:
    lines = [
        f"network {r['net']} ({r['precision']}, {r['threads']} thread{'s' if r['threads'] > 1 else ''})  "
        f"data {r['data']}  ({r['samples']} samples, {r['events']:,} events, dt {r['dt_us']} us)",
        f"first call (JIT{' from disk cache' if r['compile_from_cache'] else ' compile'}): {r['compile_s']:.2f} s",
        f"training : {r['train_events_per_s']:>12,.0f} events/s   real-time factor {r['realtime_factor']:.1f}x   "
        f"{r['synops_per_s'] / 1e6:,.0f} M synops/s   ({r['train_wall_s']:.1f} s)",
        f"inference: {r['infer_events_per_s']:>12,.0f} events/s   real-time factor {r['infer_realtime_factor']:.1f}x   "
        f"({r['infer_over_train']:.2f}x training)",
        "spikes per sample (training: learning / inference / synops):",
    ]
    for name, s in r["spikes_per_sample_train"].items():
        lines.append(f"  {name:6s} {s['learning']:10.1f} {s['inference']:10.1f} {s['synops']:14,.0f}")
    lines.append(f"peak memory: {r['peak_rss_mb']:.0f} MiB")
    if "profile" in r:
        lines.append(format_profile(r["profile"]))
    return "\n".join(lines)


def format_profile(profile: Dict[str, Any]) -> str:
    """The per-phase table: seconds and share of the pass's wall time, per layer and in total."""
    lines = []
    for pass_name, b in profile.items():
        names = list(b["layers"])
        lines.append(f"profile, {pass_name} pass ({b['wall_s']:.2f} s wall; seconds per phase, share of wall):")
        lines.append(f"  {'phase':14s}" + "".join(f"{n:>9s}" for n in names) + f"{'total':>9s}{'share':>8s}")
        for ph in list(K.PHASES) + ["driver", "python"]:
            cells = "".join(f"{b['layers'][n][ph]:9.2f}" if ph in b["layers"][n] else f"{'':9s}" for n in names)
            lines.append(f"  {ph:14s}{cells}{b['totals'][ph]:9.2f}{100 * b['shares'][ph]:7.1f}%")
    return "\n".join(lines)

