"""``stdpnet crosscheck``: run stdpnet and its Brian2 twin on the same events and compare.

:func:`run_crosscheck` builds a network, reads a few recordings (N-MNIST from the data folder by
default, else the synthetic moving bars), builds the Brian2 twin from the network's initial state
(:class:`stdpnet.validate.brian2.Brian2Twin`), runs both, and reports per layer: inference and
learning spike counts, the first mismatch of each spike train as ``(tick, neuron)``, and the
largest absolute weight difference after learning. ``identical`` is true only if every spike train
is identical and every weight agrees within :data:`WEIGHT_ATOL`. With ``bench``, the twin runs on
Brian2's cython target and both simulators are timed (compilation excluded and reported
separately); ``speedup`` is Brian2's wall time over stdpnet's.

The events of each tick are put in a canonical order (:func:`~stdpnet.validate.brian2.canonical_chunk`)
before both simulators see them, so the first layer sums its input in the same order in both.
The longer speed comparison lives in :mod:`stdpnet.validate.bench`.
"""
from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

import streams
from .. import kernels as K
from ..network import Network
from ..spec import PRESETS, parse_spec
from .brian2 import Brian2Twin, canonical_chunk, sort_records, stdpnet_current_state
from .brian2.codegen import Progress

DEFAULT_NET = "34x34x2-4C5-P2-8C5-P2-32"
WEIGHT_ATOL = 1e-9

# Parameters of the crosscheck's default network: SPEC's first-layer threshold, lower thresholds
# than SPEC's for the small 8-map and dense layers (their inputs have only 4 and 8 channels), and
# learning rates high enough for weights to move visibly within a few recordings. On three N-MNIST
# recordings every layer emits hundreds to thousands of learning and inference spikes.
DEFAULT_LAYERS: Dict[str, Dict[str, Any]] = {
    "conv1": {"theta_learn": 8.0, "r_learn": 2, "r_infer": 0, "stdp": {"alpha_minus": -0.004}},
    "conv2": {"theta_learn": 20.0, "r_learn": 2, "r_infer": 0, "stdp": {"alpha_minus": -0.004}},
    "fc1": {"theta_learn": 20.0, "r_learn": "global", "r_infer": None, "stdp": {"alpha_minus": -0.002}},
}
# Any other network: SPEC defaults (stdpnet.spec.default_layer_params) with this learning rate.
GENERIC_ALPHA_MINUS = -0.004


def _merge(base: Dict[str, Any], over: Dict[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def crosscheck_layers(net: str, layers: Optional[Dict[str, Dict[str, Any]]] = None) -> Dict[str, Dict[str, Any]]:
    """Per-layer parameters of a crosscheck: :data:`DEFAULT_LAYERS` for :data:`DEFAULT_NET`, a
    preset's own for a preset name, SPEC's defaults with a non-trivial learning rate otherwise;
    ``layers`` overrides any of them."""
    if net in PRESETS:  # a preset brings its own tuned parameters
        return _merge(copy.deepcopy(PRESETS[net].get("layers", {})), layers or {})
    spec = parse_spec(net)
    names = [l.name for l in spec.learning_layers]
    if spec.text == DEFAULT_NET:
        base = copy.deepcopy(DEFAULT_LAYERS)
    else:
        base = {n: {"stdp": {"alpha_minus": GENERIC_ALPHA_MINUS}} for n in names}
    return _merge(base, layers or {})


class _OneRecording:
    """A data set of one recording read from a file (label 0)."""

    def __init__(self, path: str, sensor_size):
        self.events, _ = streams.read_events(path, sensor_size=sensor_size)
        self.sensor_size = tuple(sensor_size)
        self.labels = np.zeros(1, np.int64)

    def __len__(self):
        return 1

    def __getitem__(self, i):
        if i != 0:
            raise IndexError(i)
        return self.events, 0


def load_chunks(network: Network, data: Optional[str] = None, samples: int = 3,
                seed: int = 0) -> Tuple[List, str, List[str]]:
    """Ticks of ``samples`` recordings for ``network``, in canonical within-tick order.

    ``data``: ``nmnist:DIR`` (official layout; recordings evenly spread over the folder, so several
    digits), ``synthetic`` (:class:`streams.SyntheticBars` on the network's sensor), a directory in
    N-MNIST layout, or one recording file. Default: ``data_root()/nmnist/Train`` if present, else
    synthetic. Returns ``(chunks, description, notes)``.
    """
    notes: List[str] = []
    sensor = tuple(network.sensor_size)
    if data is None:
        root = streams.data_root()
        folder = root / "nmnist" / "Train" if root else None
        if folder is not None and folder.is_dir():
            data = f"nmnist:{folder}"
        else:
            data = "synthetic"
            notes.append("no N-MNIST folder under data_root(): using the synthetic moving bars")
    kind, _, rest = data.partition(":")
    if kind == "synthetic":
        if sensor[2] != 2:
            raise ValueError(f"the synthetic bars have 2 polarities; network input is {sensor}")
        dataset = streams.SyntheticBars(n_samples=max(int(samples), 1), sensor_size=sensor, seed=seed)
        indices = np.arange(len(dataset))
        desc = f"synthetic bars on a {sensor[0]}x{sensor[1]}x2 sensor, {len(indices)} samples"
    elif kind == "nmnist" or (Path(data).is_dir()):
        folder = rest if kind == "nmnist" else data
        dataset = streams.NMNISTFolder(folder)
        if tuple(dataset.sensor_size) != sensor:
            raise ValueError(f"N-MNIST sensor {dataset.sensor_size} does not match network input {sensor}")
        n = min(int(samples), len(dataset))
        indices = np.unique(np.linspace(0, len(dataset) - 1, n).round().astype(np.int64))
        desc = f"nmnist:{folder} recordings {indices.tolist()} (labels {dataset.labels[indices].tolist()})"
    elif Path(data).is_file():
        dataset = _OneRecording(data, sensor)
        indices = np.arange(1)
        desc = f"recording {data}"
        if samples != 1:
            notes.append("a single recording file: samples ignored")
    else:
        raise ValueError(f"unknown data {data!r}: expected nmnist:DIR, synthetic, a folder or a recording file")
    stream = streams.LabelledStream(dataset, indices=indices)
    chunks = [canonical_chunk(c, sensor) for c in streams.tick_chunks(stream, dt_us=network.dt_us,
                                                                      start_tick=network.now)]
    return chunks, desc, notes


def _first_mismatch(a: np.ndarray, b: np.ndarray):
    """First differing ``(tick, neuron)`` of two sorted spike trains, or None."""
    n = min(len(a), len(b))
    neq = np.flatnonzero((a[:n] != b[:n]).any(axis=1)) if n else np.zeros(0, np.int64)
    if len(neq):
        k = neq[0]
        return [int(v) for v in min(tuple(a[k]), tuple(b[k]))]
    if len(a) != len(b):
        longer = a if len(a) > len(b) else b
        return [int(v) for v in longer[n]]
    return None


def compare(network: Network, stdp_record: np.ndarray, twin: Brian2Twin, twin_result,
            weights_before: List[np.ndarray]) -> Dict[str, Any]:
    """Per-layer comparison of spike trains, weights and final state."""
    a_all = sort_records(stdp_record)
    b_all = twin_result.record
    per_layer = []
    identical = True
    max_wd = 0.0
    max_vd = 0.0
    for li, layer in enumerate(network.learning_layers):
        entry: Dict[str, Any] = {"name": layer.name}
        for kind, key in ((K.KIND_INFER, "inference"), (K.KIND_LEARN, "learning")):
            sa = a_all[(a_all[:, 1] == li) & (a_all[:, 2] == kind)][:, [0, 3]]
            sb = b_all[(b_all[:, 1] == li) & (b_all[:, 2] == kind)][:, [0, 3]]
            mm = _first_mismatch(sa, sb)
            entry[f"{key}_spikes"] = [int(len(sa)), int(len(sb))]
            entry[f"first_{key}_mismatch"] = mm
            identical &= mm is None
        wd = float(np.max(np.abs(twin.weights_flat(li) - layer.w))) if layer.w.size else 0.0
        entry["max_weight_diff"] = wd
        entry["weight_change"] = float(np.max(np.abs(layer.w - weights_before[li]))) if layer.w.size else 0.0
        s_b = twin.state(li)
        s_a = stdpnet_current_state(layer, network.now, network.dt_us)
        vd = max(float(np.max(np.abs(s_a["v_learn"] - s_b["v_learn"]))) if layer.params.learning else 0.0,
                 float(np.max(np.abs(s_a["v_infer"] - s_b["v_infer"]))))
        entry["max_potential_diff"] = vd
        entry["t_ref_identical"] = bool(np.array_equal(s_a["t_ref"], s_b["t_ref"]))
        entry["t_pre_identical"] = bool(np.array_equal(s_a["t_pre"], s_b["t_pre"]))
        entry["synapses"] = int(twin.layers[li].n_synapses)
        max_wd = max(max_wd, wd)
        max_vd = max(max_vd, vd)
        per_layer.append(entry)
    identical &= max_wd <= WEIGHT_ATOL
    active = all(e["inference_spikes"][0] > 0 and (e["learning_spikes"][0] > 0 or not l.params.learning)
                 and (e["weight_change"] > 0 or not l.params.learning)
                 for e, l in zip(per_layer, network.learning_layers))
    decisions_agree = bool(np.array_equal(sort_records(twin_result.decisions), b_all))
    return {"identical": bool(identical), "max_weight_diff": max_wd, "max_potential_diff": max_vd,
            "active": bool(active), "per_layer": per_layer, "decisions_agree": decisions_agree,
            "touched_missing": int(twin_result.touched_missing)}


def run_stdpnet(network: Network, chunks, record: bool = True) -> Tuple[np.ndarray, float]:
    """Run ``network`` on ``chunks``; returns its spike record and the wall time (seconds)."""
    rows = []
    t0 = time.perf_counter()
    for ch in chunks:
        r = network.run(ch, record=record)
        if record:
            rows.append(r.record)
    wall = time.perf_counter() - t0
    rec = np.concatenate(rows) if rows else np.zeros((0, 4), np.int64)
    return rec, wall


def warm_stdpnet(net: str, layers, seed: int, chunks, precision: Optional[str] = None) -> None:
    """Load/compile stdpnet's kernels on a throwaway copy, so timing excludes the JIT."""
    warm = Network.from_spec(net, layers=layers, seed=seed, precision=precision)
    ch = chunks[0]
    n = min(ch.n_ticks, 5)
    from streams.ticks import TickChunk

    sub = TickChunk(ch.start_tick, ch.dt_us, ch.events[: ch.offsets[n]], ch.offsets[: n + 1].copy(),
                    ch.sample[:n], ch.label[:n])
    warm.run(sub, record=True)


def run_crosscheck(net: str = DEFAULT_NET, data: Optional[str] = None, samples: int = 3, seed: int = 0,
                   bench: bool = False, target: str = "numpy", layers: Optional[Dict] = None,
                   progress: Progress = None, precision: Optional[str] = None) -> Dict[str, Any]:
    """Run stdpnet and its Brian2 twin on the same input and compare (see the module docstring).

    ``target``: Brian2 code generation target of the comparison (``numpy`` needs no compiler);
    with ``bench`` the twin runs on ``cython`` whatever ``target`` says, and the report gains
    ``speedup``, ``stdpnet_wall_s``, ``brian2_wall_s``, ``brian2_compile_s``.
    ``progress``: ``True`` (lines on stderr) or a callable, passed to :class:`Brian2Twin`: a line
    before Brian2's code generation (with a first-run time estimate) and while it simulates.
    Returns a JSON-able dict; ``identical`` and ``max_weight_diff`` are the verdict. Ctrl-C
    raises ``KeyboardInterrupt`` and nothing is reported.
    """
    layer_params = crosscheck_layers(net, layers)
    network = Network.from_spec(net, layers=layer_params, seed=seed, precision=precision)
    chunks, desc, notes = load_chunks(network, data, samples, seed)
    twin_target = "cython" if bench else target
    if bench and target != "cython":
        notes.append("--bench: Brian2 ran on the cython target")
    weights_before = [l.w.copy() for l in network.learning_layers]
    t = time.perf_counter()
    try:
        twin = Brian2Twin(network, chunks, target=twin_target, progress=progress)
    except Exception as e:  # noqa: BLE001 - e.g. no C compiler for the cython target (Ctrl-C passes)
        if twin_target != "cython":
            raise
        notes.append(f"the cython target failed ({type(e).__name__}: {str(e)[:200]}); ran on numpy")
        twin_target = "numpy"
        t = time.perf_counter()
        twin = Brian2Twin(network, chunks, target=twin_target, progress=progress)
    twin_build = time.perf_counter() - t
    warm_stdpnet(net, layer_params, seed, chunks, precision)
    stdp_record, stdp_wall = run_stdpnet(network, chunks, record=True)
    tres = twin.run()
    report: Dict[str, Any] = {
        "net": network.spec.text,
        "data": desc,
        "samples": int(samples),
        "seed": int(seed),
        "dt_us": network.dt_us,
        "precision": network.precision,
        "target": twin_target,
        "ticks": int(sum(c.n_ticks for c in chunks)),
        "events": int(sum(len(c.events) for c in chunks)),
        "layers": layer_params,
        "brian2_synapses": twin.n_synapses,
    }
    report.update(compare(network, stdp_record, twin, tres, weights_before))
    report.update({
        "brian2_build_s": twin_build,
        "brian2_compile_s": tres.setup_s,
        "brian2_wall_s": tres.wall_s,
        "stdpnet_wall_s": stdp_wall,
    })
    if bench:
        report["speedup"] = tres.wall_s / max(stdp_wall, 1e-12)
        report["stdpnet_events_per_s"] = report["events"] / max(stdp_wall, 1e-12)
        report["brian2_events_per_s"] = report["events"] / max(tres.wall_s, 1e-12)
        notes.append("wall times: simulation only (stdpnet after JIT warm-up, with spike recording; Brian2 from "
                     "its first to its last step, code generation and compilation in brian2_compile_s, network "
                     "construction in brian2_build_s)")
    if not report["active"]:
        notes.append("WARNING: some layer had no inference or learning spikes, or its weights did not move: "
                     "the comparison proves little for it")
    if not report["decisions_agree"]:
        notes.append("Brian2's threshold events differ from the twin's greedy decisions (twin inconsistency)")
    if report["touched_missing"]:
        notes.append("Brian2 touched positions that stdpnet's input list does not reach (wiring error)")
    report["notes"] = notes
    return report


def format_report(report: Dict[str, Any]) -> str:
    """Human-readable printout of :func:`run_crosscheck`'s report."""
    ok = "IDENTICAL" if report["identical"] else "MISMATCH"
    lines = [
        f"crosscheck {report['net']} vs Brian2 ({report['target']} target): {ok}",
        f"  input: {report['data']}",
        f"  {report['events']:,} events, {report['ticks']:,} ticks of {report['dt_us']} us; "
        f"Brian2 twin: {report['brian2_synapses']:,} synapses",
        f"  {'layer':6s} {'inference spikes':>23s} {'learning spikes':>21s} {'max |dw|':>10s} "
        f"{'w moved':>8s} {'max |dV|':>9s}  first mismatch (tick, neuron)",
    ]
    for e in report["per_layer"]:
        inf, lrn = e["inference_spikes"], e["learning_spikes"]
        mm = []
        if e["first_inference_mismatch"] is not None:
            mm.append(f"inference {tuple(e['first_inference_mismatch'])}")
        if e["first_learning_mismatch"] is not None:
            mm.append(f"learning {tuple(e['first_learning_mismatch'])}")
        lines.append(
            f"  {e['name']:6s} {inf[0]:>10,d} / {inf[1]:<10,d} {lrn[0]:>9,d} / {lrn[1]:<9,d} "
            f"{e['max_weight_diff']:10.1e} {e['weight_change']:8.3f} {e['max_potential_diff']:9.1e}  "
            f"{'; '.join(mm) if mm else '-'}"
        )
    lines.append(f"  max weight difference {report['max_weight_diff']:.3e} (tolerance {WEIGHT_ATOL:g}); "
                 f"spike trains {'identical' if report['identical'] else 'differ'}")
    lines.append(f"  wall time: stdpnet {report['stdpnet_wall_s']:.3f} s, Brian2 {report['brian2_wall_s']:.2f} s "
                 f"(+ {report['brian2_compile_s']:.1f} s code generation/compilation, "
                 f"{report['brian2_build_s']:.1f} s construction)")
    if "speedup" in report:
        lines.append(f"  speedup (Brian2 wall / stdpnet wall): {report['speedup']:.0f}x")
    for n in report.get("notes", []):
        lines.append(f"  note: {n}")
    return "\n".join(lines)
