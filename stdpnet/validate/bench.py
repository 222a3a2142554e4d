"""Speed of stdpnet against its Brian2 twin: same network, same events, learning on.

:func:`bench_brian2` times both simulators on the same recordings (stdpnet after its JIT warm-up;
Brian2 from its first to its last simulation step, with code generation/compilation and network
construction reported apart) and checks that the twin's spikes and weights still agree on what it
ran. ``benchmarks/bench_brian2.py`` is :func:`main`; ``stdpnet crosscheck --bench`` is the short
version (:func:`stdpnet.validate.crosscheck.run_crosscheck`).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from ..network import Network
from .brian2 import Brian2Twin
from .brian2.codegen import Progress
from .crosscheck import compare, crosscheck_layers, load_chunks, run_stdpnet, warm_stdpnet

BENCH_NET = "34x34x2-16C5-P2-32C5-P2-100"


def _cython_cache_files() -> int:
    """Compiled modules under Brian2's Cython cache (-1 if it cannot be read)."""
    try:
        from brian2.codegen.runtime.cython_rt.extension_manager import get_cython_cache_dir

        d = get_cython_cache_dir()
        return len(list(Path(d).expanduser().rglob("*.so"))) if d and Path(d).expanduser().is_dir() else 0
    except Exception:  # noqa: BLE001 - only a diagnostic
        return -1


def bench_brian2(net: str = BENCH_NET, data: Optional[str] = None, samples: int = 20, seed: int = 0,
                 layers: Optional[Dict] = None, brian2_samples: Optional[int] = None,
                 target: str = "cython", cold: bool = False, progress: Progress = None) -> Dict[str, Any]:
    """Wall time of stdpnet and of its Brian2 twin on the same network and events, learning on.

    stdpnet runs all ``samples`` recordings (after a JIT warm-up; with and without spike
    recording). The twin (``target``, default cython) runs the first ``brian2_samples`` of them
    (default: all); when fewer, its wall time is extrapolated to all of them per input event, and
    the report says so. Brian2's wall time is its simulation loop; its code generation and
    compilation (``brian2_compile_s``) and network construction (``brian2_build_s``) are reported
    apart. ``cold``: compile into an empty Cython cache (first-ever-run compile time), removed
    afterwards. The twin's spikes and weights are compared with stdpnet's on the recordings it
    ran (``identical``). ``progress``: as for :class:`Brian2Twin`. Ctrl-C raises
    ``KeyboardInterrupt``, after restoring Brian2's cache preference and removing a cold cache.
    """
    import brian2 as b2

    layer_params = crosscheck_layers(net, layers)
    network = Network.from_spec(net, layers=layer_params, seed=seed)
    chunks, desc, notes = load_chunks(network, data, samples, seed)
    n_sub = samples if brian2_samples is None else min(int(brian2_samples), int(samples))
    sub = [c for c in chunks if np.max(np.asarray(c.sample), initial=-1) < n_sub]
    rest = chunks[len(sub):]
    events_all = int(sum(len(c.events) for c in chunks))
    events_sub = int(sum(len(c.events) for c in sub))
    old_cache = b2.prefs.codegen.runtime.cython.cache_dir
    tmp = None
    if cold and target == "cython":
        tmp = tempfile.TemporaryDirectory(prefix="brian2_cold_cache_")
        b2.prefs.codegen.runtime.cython.cache_dir = tmp.name
    try:
        files_before = _cython_cache_files()
        weights_before = [l.w.copy() for l in network.learning_layers]
        t = time.perf_counter()
        twin = Brian2Twin(network, sub, target=target, progress=progress)
        build_s = time.perf_counter() - t
        warm_stdpnet(net, layer_params, seed, chunks)
        rec_sub, wall_sub = run_stdpnet(network, sub, record=True)
        tres = twin.run()
        files_after = _cython_cache_files()
    finally:
        b2.prefs.codegen.runtime.cython.cache_dir = old_cache
        if tmp is not None:
            tmp.cleanup()
    cmp = compare(network, rec_sub, twin, tres, weights_before)
    _, wall_rest = run_stdpnet(network, rest, record=True)
    stdp_wall = wall_sub + wall_rest
    fresh = Network.from_spec(net, layers=layer_params, seed=seed)
    _, stdp_wall_norec = run_stdpnet(fresh, chunks, record=False)
    b2_wall = tres.wall_s if n_sub >= samples else tres.wall_s * events_all / max(events_sub, 1)
    if n_sub < samples:
        notes.append(f"Brian2 ran {n_sub} of {samples} recordings ({events_sub:,} of {events_all:,} events); "
                     "brian2_wall_s is extrapolated per input event")
    return {
        "net": network.spec.text,
        "data": desc,
        "samples": int(samples),
        "brian2_samples": int(n_sub),
        "events": events_all,
        "ticks": int(sum(c.n_ticks for c in chunks)),
        "target": target,
        "layers": layer_params,
        "brian2_synapses": twin.n_synapses,
        "stdpnet_wall_s": stdp_wall,
        "stdpnet_wall_norecord_s": stdp_wall_norec,
        "brian2_wall_s": b2_wall,
        "brian2_wall_measured_s": tres.wall_s,
        "brian2_compile_s": tres.setup_s,
        "brian2_build_s": build_s,
        "brian2_compiled_modules": (files_after - files_before) if files_before >= 0 else None,
        "speedup": b2_wall / max(stdp_wall, 1e-12),
        "speedup_norecord": b2_wall / max(stdp_wall_norec, 1e-12),
        "speedup_measured_subset": tres.wall_s / max(wall_sub, 1e-12),
        "stdpnet_events_per_s": events_all / max(stdp_wall, 1e-12),
        "brian2_events_per_s": events_sub / max(tres.wall_s, 1e-12),
        "identical": cmp["identical"],
        "max_weight_diff": cmp["max_weight_diff"],
        "per_layer": cmp["per_layer"],
        "notes": notes,
    }


def format_bench(r: Dict[str, Any]) -> str:
    """Human-readable printout of :func:`bench_brian2`'s report."""
    compiled = r.get("brian2_compiled_modules")
    compiled = f", {compiled} modules compiled" if compiled else ", from Brian2's cache" if compiled == 0 else ""
    lines = [
        f"Brian2 ({r['target']}) vs stdpnet on {r['net']}, learning on",
        f"  input: {r['data']}",
        f"  {r['events']:,} events, {r['ticks']:,} ticks; Brian2 twin: {r['brian2_synapses']:,} synapses",
        f"  stdpnet : {r['stdpnet_wall_s']:8.3f} s  ({r['stdpnet_events_per_s']:,.0f} events/s; "
        f"{r['stdpnet_wall_norecord_s']:.3f} s without spike recording)",
        f"  Brian2  : {r['brian2_wall_s']:8.3f} s  ({r['brian2_events_per_s']:,.0f} events/s; "
        f"+ {r['brian2_compile_s']:.1f} s code generation/compilation{compiled}, "
        f"{r['brian2_build_s']:.1f} s construction)",
        f"  speedup (Brian2 wall / stdpnet wall): {r['speedup']:.1f}x "
        f"({r['speedup_norecord']:.1f}x against stdpnet without recording)",
        f"  spike trains and weights {'identical' if r['identical'] else 'DIFFER'} "
        f"(max weight difference {r['max_weight_diff']:.1e})",
    ]
    for n in r.get("notes", []):
        lines.append(f"  note: {n}")
    return "\n".join(lines)


USAGE = """Speed of stdpnet against its Brian2 twin: same network, same events, learning on.

Both simulate the network on --samples N-MNIST recordings ($STDPNET_DATA or ../shared/data:
nmnist/Train; else the synthetic bars on the network's sensor). stdpnet is timed after its JIT
warm-up; Brian2 (cython target by default) from its first to its last simulation step, with code
generation/compilation and network construction reported separately (--cold: compile into an
empty cache, i.e. a first-ever run). --brian2-samples N runs Brian2 on the first N recordings
only and extrapolates its wall time per input event. The twin's spikes and weights are checked
against stdpnet's on what it ran. Target: stdpnet >= 50x faster (reported, not asserted).
Progress lines go to stderr (--quiet: none).
"""


def main(argv: Optional[List[str]] = None) -> int:
    """``benchmarks/bench_brian2.py``: parse the arguments, run :func:`bench_brian2`, print."""
    p = argparse.ArgumentParser(prog="bench_brian2.py", description=USAGE,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--net", default=BENCH_NET)
    p.add_argument("--data", default=None)
    p.add_argument("--samples", type=int, default=20)
    p.add_argument("--brian2-samples", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", default="cython", choices=["cython", "numpy"])
    p.add_argument("--cold", action="store_true", help="compile Brian2's code into an empty cache")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    a = p.parse_args(argv)
    r = bench_brian2(net=a.net, data=a.data, samples=a.samples, seed=a.seed, brian2_samples=a.brian2_samples,
                     target=a.target, cold=a.cold, progress=not a.quiet)
    print(json.dumps(r) if a.json else format_bench(r))
    return 0
