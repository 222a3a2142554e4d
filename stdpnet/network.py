"""The network: layers bottom-up, stepped tick by tick over an unbounded stream (SPEC sections 1, 5).

``Network.run(chunk)`` consumes a :class:`streams.ticks.TickChunk` in one compiled call
(:func:`stdpnet.kernels.run_ticks`) and returns the chunk's top-layer spikes; nothing in it grows
with the length of the stream. Time only moves forward: ticks between two chunks are silent, and in
the non-leaky model a silent tick changes nothing.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np
from numba import typed

from . import kernels as K
from .errors import CheckpointError, ParameterError, SourceError, SpecError
from .layers import ConvWTA, DenseWTA, LayerParams, LearningLayer, Pool, rule_name
from .rules import STDPParams
from .spec import NetSpec, parse_spec, resolve_config
from .kernels.precision import DEFAULT_PRECISION, PRECISIONS, dtype_of


@dataclass
class RunResult:
    """What one chunk produced. ``top_ticks``/``top_neurons``: the top layer's inference spikes in
    time order (public neuron index ``f*H*W + y*W + x``). ``record`` (when asked): every spike of every
    layer as rows ``(tick, layer, kind, neuron)`` with kind 0 = learning, 1 = inference (public index).
    ``counts``: per learning layer ``(learning spikes, inference spikes, synaptic operations)``."""

    start_tick: int
    n_ticks: int
    top_ticks: np.ndarray
    top_neurons: np.ndarray
    counts: np.ndarray
    record: Optional[np.ndarray] = None


def _threads_from_environment() -> int:
    """A new network's :attr:`Network.threads`: ``STDPNET_THREADS`` (1 or 2; default 1), so that any
    command runs its stream on two cores (``stdpnet train/live/eval --threads 2`` set it)."""
    import os

    text = os.environ.get("STDPNET_THREADS", "1").strip() or "1"
    if text not in ("1", "2"):
        raise ParameterError(f"STDPNET_THREADS must be 1 or 2, got {text!r}")
    return int(text)


#: Ticks the first stage runs ahead of the second when a network runs on two threads: blocks start
#: at PIPELINE_FIRST_TICKS in every run() call and double up to PIPELINE_TICKS.
PIPELINE_TICKS = 128
PIPELINE_FIRST_TICKS = 16
#: Rows of the first stage's output buffer beyond two ticks' worth (it stops a block early when full).
PIPELINE_SPARE_ROWS = 16384


class Network:
    """A stack of convolutional / dense WTA layers with spike-forwarding pooling.

    Build it with :meth:`from_spec` (spec string or preset name) or :meth:`from_config`.
    """

    def __init__(self, spec: NetSpec, layer_params: Dict[str, LayerParams], dt_us: int = 1000,
                 seed: int = 0, config: Optional[Dict[str, Any]] = None, precision: str = DEFAULT_PRECISION):
        if not (isinstance(dt_us, (int, np.integer)) and dt_us > 0):
            raise ParameterError(f"dt_us must be a positive integer number of microseconds, got {dt_us!r}")
        if precision not in PRECISIONS:
            raise ParameterError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
        #: floating-point type of potentials and weights (stdpnet.kernels.precision)
        self.precision = precision
        dtype = dtype_of(precision)
        self.spec = spec
        self.dt_us = int(dt_us)
        self.seed = int(seed)
        self.config = config or {}
        weight_rng = np.random.default_rng(self.seed)
        self.layers: List[Union[LearningLayer, Pool]] = []
        self.learning_layers: List[LearningLayer] = []
        self.input_pool = 1
        shape = spec.input_shape
        unknown = set(layer_params) - {l.name for l in spec.learning_layers}
        if unknown:
            raise SpecError(
                f"parameters given for unknown layer(s) {sorted(unknown)}; this network's learning layers "
                f"are {[l.name for l in spec.learning_layers]}"
            )
        for ls in spec.layers:
            if ls.kind == "pool":
                pool = Pool(shape, ls.size)
                if self.learning_layers:
                    self.learning_layers[-1].pool_after *= ls.size
                else:
                    self.input_pool *= ls.size
                self.layers.append(pool)
                shape = pool.out_shape
                continue
            params = layer_params.get(ls.name, LayerParams())
            if ls.kind == "conv":
                layer = ConvWTA(shape, ls.size, ls.kernel, params, weight_rng, name=ls.name, dtype=dtype)
            else:
                layer = DenseWTA(shape, ls.size, params, weight_rng, name=ls.name, dtype=dtype)
            self.layers.append(layer)
            self.learning_layers.append(layer)
            shape = layer.out_shape
        self.out_shape = shape
        self.now = 0  # next tick to process
        self.counters = np.zeros((len(self.learning_layers), 3), np.int64)
        # tie-breaking RNG (xorshift64*), one stream per layer (a layer's draws never depend on the
        # layers above it, so the layers may run on two threads), seeded from the network seed;
        # never zero
        self.rng_state = np.array([(((self.seed + 1) * 0x9E3779B97F4A7C15 + l * 0xBF58476D1CE4E5B9)
                                    & 0xFFFFFFFFFFFFFFFF) | 1 for l in range(len(self.learning_layers))],
                                  np.uint64)
        self._pool = None
        self.threads = _threads_from_environment()
        self._monitors: List[Callable[[RunResult], None]] = []
        # per-phase cycle counters (profiling.PHASES columns) and the kernels' wall time, or None:
        # set by enable_profiling(); the normal path compiles no timers at all
        self.phase_cycles: Optional[np.ndarray] = None
        self.kernel_wall_s = 0.0
        self._build_plan()

    # ---- construction -----------------------------------------------------------------------
    @classmethod
    def from_spec(cls, net: str, layers: Optional[Dict[str, Dict[str, Any]]] = None, seed: int = 0,
                  dt_us: Optional[int] = None, precision: Optional[str] = None) -> "Network":
        """Build from a spec string or preset name; ``layers`` maps layer names (``conv1``, ``fc1``, ...)
        to parameter overrides, e.g. ``{"conv1": {"theta_learn": 10, "stdp": {"alpha_minus": -0.002}}}``;
        ``precision``: ``"float64"`` or ``"float32"`` (default: the preset's, else float64)."""
        over: Dict[str, Any] = {"seed": seed}
        if layers:
            over["layers"] = layers
        if dt_us is not None:
            over["dt_us"] = dt_us
        if precision is not None:
            over["precision"] = precision
        return cls.from_config(resolve_config(net, over))

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Network":
        """Build from a configuration dict (see :func:`stdpnet.spec.resolve_config`)."""
        cfg = resolve_config(config)
        spec = parse_spec(cfg["net"])
        params = {name: LayerParams.from_dict(copy.deepcopy(p)) for name, p in cfg.get("layers", {}).items()}
        return cls(spec, params, dt_us=cfg.get("dt_us", 1000), seed=cfg.get("seed", 0), config=cfg,
                   precision=cfg.get("precision", DEFAULT_PRECISION))

    def _build_plan(self) -> None:
        """Typed lists of every layer's named state and scratch for the compiled driver; the constants
        list is rebuilt whenever a layer's parameters change (see :meth:`_consts`)."""
        L = self.learning_layers
        self._states = typed.List()
        self._scratches = typed.List()
        for layer in L:
            self._states.append(layer.state)
            self._scratches.append(layer.scratch)
        self._const_key = None
        self._const_list = None
        self._max_neurons = max(l.n_neurons for l in L)
        self._n_all = sum(l.n_neurons for l in L)
        self._top_cap = 4 * L[-1].n_neurons + 1024
        self._top_buf = np.zeros((self._top_cap, 2), np.int64)
        self._in_rows = self._max_neurons
        self._bufs = (np.zeros((self._in_rows, 3), np.int64), np.zeros((self._in_rows, 3), np.int64))

    def _consts(self):
        consts = [l.const(self.dt_us) for l in self.learning_layers]
        key = tuple(consts)  # by value: a freed const's id may be reused by its successor
        if key != self._const_key:
            out = typed.List()
            for c in consts:
                out.append(c)
            self._const_list, self._const_key = out, key
        return self._const_list

    # ---- properties -------------------------------------------------------------------------
    @property
    def sensor_size(self):
        return self.spec.sensor_size

    @property
    def top(self) -> LearningLayer:
        return self.learning_layers[-1]

    def layer(self, name: str) -> LearningLayer:
        for l in self.learning_layers:
            if l.name == name:
                return l
        raise KeyError(f"no learning layer named {name!r}; layers: {[l.name for l in self.learning_layers]}")

    def set_learning(self, on: bool, layers: Optional[Sequence[str]] = None) -> None:
        """Switch learning on or off at run time, for all layers or the named ones."""
        if not isinstance(on, (bool, np.bool_)):
            raise ParameterError(f"set_learning takes True or False, got {on!r}")
        names = [l.name for l in self.learning_layers]
        unknown = sorted(set(layers or ()) - set(names))
        if unknown:
            raise ParameterError(f"set_learning: no layer(s) {unknown}; layers: {names}")
        for l in self.learning_layers:
            if (layers is None or l.name in layers) and l.rule is not None:
                l.set_learning(on)

    def reset_state(self) -> None:
        """Reset every layer's potentials (``V_learn = 0``, ``V_infer = bias``): the optional
        per-sample reset (SPEC 2; off in the plain model, which never resets)."""
        for l in self.learning_layers:
            l.reset_potentials()

    def add_monitor(self, fn: Callable[[RunResult], None]) -> None:
        """Call ``fn(result)`` after every chunk; with a monitor, every spike of every layer is recorded."""
        self._monitors.append(fn)

    def enable_profiling(self, on: bool = True) -> None:
        """Count CPU cycles per layer and phase (:data:`stdpnet.kernels.profiling.PHASES`) into
        ``phase_cycles`` and the compiled driver's wall time into ``kernel_wall_s``. The profiling
        variant of the kernels is a separate compilation; results are bit-identical either way."""
        from .kernels.profiling import N_PHASES

        self.phase_cycles = np.zeros((len(self.learning_layers), N_PHASES), np.int64) if on else None
        self.kernel_wall_s = 0.0

    def counter_dict(self) -> Dict[str, Dict[str, int]]:
        return {l.name: {"learning_spikes": int(c[0]), "inference_spikes": int(c[1]), "synops": int(c[2])}
                for l, c in zip(self.learning_layers, self.counters)}

    # ---- simulation -------------------------------------------------------------------------
    def run(self, chunk, *, record: bool = False, labels: Optional[np.ndarray] = None) -> RunResult:
        """Advance the network through the ticks of ``chunk`` (a :class:`streams.ticks.TickChunk`).

        ``labels`` (one per tick, -1 = none; default ``chunk.label``) is what the network sees of the
        labels: the reward signal of R-STDP layers and nothing else (pass all -1 to withhold it).
        STDP and static layers never see labels. Raises if the chunk starts before the network's
        current tick.
        """
        start = int(chunk.start_tick)
        if start < self.now:
            raise ParameterError(
                f"chunk starts at tick {start} but the network is already at tick {self.now}: time "
                "cannot go backwards (start a new stream at or after network.now, or reset the network)"
            )
        if chunk.dt_us != self.dt_us:
            raise ParameterError(f"chunk has dt_us={chunk.dt_us} but the network was built for dt_us={self.dt_us}")
        record = record or bool(self._monitors)
        events = chunk.events
        offsets = np.asarray(chunk.offsets, np.int64)
        n_ticks = len(offsets) - 1
        ev_x = events["x"].astype(np.int64)
        ev_y = events["y"].astype(np.int64)
        ev_p = events["p"].astype(np.int64)
        self._check_events(ev_x, ev_y, ev_p)
        labels = np.asarray(chunk.label if labels is None else labels, np.int64)
        if len(labels) != n_ticks:
            raise ParameterError(f"chunk has {n_ticks} ticks but {len(labels)} labels")
        max_per_tick = int(np.max(np.diff(offsets))) if n_ticks else 0
        if max_per_tick > self._in_rows:
            self._in_rows = max_per_tick
            self._bufs = (np.zeros((self._in_rows, 3), np.int64), np.zeros((self._in_rows, 3), np.int64))
        rec = np.zeros((4 * self._n_all + 4096 if record else 0, 4), np.int64)
        consts = self._consts()
        counts_before = self.counters.copy()
        top_parts, rec_parts = [], []
        done = 0
        prof = self.phase_cycles
        if self._threads > 1 and len(self.learning_layers) > 1 and prof is None and n_ticks:
            t_kernel = time.perf_counter()
            top_parts, rec_parts = self._run_pipelined(start, ev_x, ev_y, ev_p, offsets, labels, consts, record)
            self.kernel_wall_s += time.perf_counter() - t_kernel
            done = n_ticks
        while done < n_ticks:
            t_kernel = time.perf_counter()
            args = (start + done, ev_x, ev_y, ev_p, offsets[done:], labels[done:], self.input_pool,
                    consts, self._states, self._scratches, self.rng_state, self.counters,
                    self._bufs[0], self._bufs[1], self._top_buf, 0, rec, 0, record)
            ticks_done, n_top, n_rec = K.run_ticks_plain(*args) if prof is None else K.run_ticks(*args, prof)
            self.kernel_wall_s += time.perf_counter() - t_kernel
            # the buffers always hold at least one tick's spikes, so every call makes progress
            done += ticks_done
            top_parts.append(self._top_buf[:n_top].copy())
            if record:
                rec_parts.append(rec[:n_rec].copy())
        self.now = start + n_ticks
        top = np.concatenate(top_parts) if top_parts else np.zeros((0, 2), np.int64)
        result = RunResult(start, n_ticks, top[:, 0].copy(), self.top.to_public_index(top[:, 1]),
                           self.counters - counts_before)
        if record:
            r = np.concatenate(rec_parts) if rec_parts else np.zeros((0, 4), np.int64)
            for li, layer in enumerate(self.learning_layers):
                sel = r[:, K.REC_LAYER] == li
                r[sel, K.REC_NEURON] = layer.to_public_index(r[sel, K.REC_NEURON])
            result.record = r
        for fn in self._monitors:
            fn(result)
        return result

    # ---- two threads ---------------------------------------------------------------------------
    @property
    def threads(self) -> int:
        """Cores one stream uses: 1 (the default, or ``STDPNET_THREADS``), or 2: the first layer runs
        on a second thread, a block of ticks ahead of the layers above it (a two-stage pipeline
        inside every :meth:`run`; ``nmnist``: x1.2-1.3, see README). Results are the same bit for
        bit: a layer reads nothing of the layers above it and draws its tie shuffles from its own
        stream. Without profiling only."""
        return self._threads

    @threads.setter
    def threads(self, n: int) -> None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) not in (1, 2):
            raise ParameterError(f"threads must be 1 or 2, got {n!r}")
        self._threads = int(n)

    def _run_pipelined(self, start, ev_x, ev_y, ev_p, offsets, labels, consts, record):
        """:meth:`run`'s kernel calls as two stages: layer 0 on a worker thread, layers 1.. on this
        one, a block of ticks apart; the first stage's output spikes (pooled, in the next layer's
        input coordinates) pass through two alternating buffers. Returns the top layer's spike
        parts and the record parts (merged in tick order, as one thread writes them)."""
        from concurrent.futures import ThreadPoolExecutor

        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="stdpnet-stage")
        n_layers = len(self.learning_layers)
        split = 1
        n_ticks = len(offsets) - 1
        mids, bufs_a, rec_a, rec_b = self._pipeline_buffers(split, record)
        no_mid, no_off = np.zeros((0, 3), np.int64), np.zeros(1, np.int64)
        no_top = np.zeros((0, 2), np.int64)
        states, scratches, rng, counters = self._states, self._scratches, self.rng_state, self.counters

        def first_stage(t0, t1, mid):
            rows, off = mid
            ticks, _, n_rec, _ = K.run_stage_plain(
                0, split, start + t0, ev_x, ev_y, ev_p, offsets[t0:t1 + 1], labels[t0:t1], self.input_pool,
                no_off, no_mid, consts, states, scratches, rng, counters, bufs_a[0], bufs_a[1], no_top, 0,
                rec_a, 0, record, off, rows, 0)
            return ticks, rec_a[:n_rec].copy()

        top_parts, parts_a, parts_b = [], [], []
        t = 0
        k = 0
        # blocks start small (the second stage waits only for a short first block of each chunk) and
        # double up to PIPELINE_TICKS (fewer hand-overs between the threads)
        size = max(1, min(PIPELINE_FIRST_TICKS, PIPELINE_TICKS))
        pending = self._pool.submit(first_stage, 0, min(size, n_ticks), mids[0])
        try:
            while pending is not None:
                n_block, rec_part = pending.result()
                parts_a.append(rec_part)
                rows, off = mids[k % 2]
                t_next = t + n_block
                size = min(2 * size, PIPELINE_TICKS)
                pending = (self._pool.submit(first_stage, t_next, min(t_next + size, n_ticks), mids[(k + 1) % 2])
                           if t_next < n_ticks else None)
                done = 0
                while done < n_block:  # the second stage over the first stage's block
                    ticks, n_top, n_rec, _ = K.run_stage_plain(
                        split, n_layers, start + t + done, ev_x, ev_y, ev_p, offsets[t + done:t + n_block + 1],
                        labels[t + done:t + n_block], self.input_pool, off[done:n_block + 1], rows, consts, states,
                        scratches, rng, counters, self._bufs[0], self._bufs[1], self._top_buf, 0, rec_b, 0, record,
                        no_off, no_mid, 0)
                    top_parts.append(self._top_buf[:n_top].copy())
                    if record:
                        parts_b.append(rec_b[:n_rec].copy())
                    done += ticks
                t = t_next
                k += 1
        except BaseException:
            # an error or Ctrl-C in this thread: let the first stage finish its block before the
            # network is used again (it writes layer 0's state)
            if pending is not None:
                pending.exception()
            raise
        rec_parts = []
        if record:
            r = np.concatenate(parts_a + parts_b)
            rec_parts = [r[np.argsort(r[:, K.REC_TICK], kind="stable")]]  # per tick: layer 0 first, as serially
        return top_parts, rec_parts

    def _pipeline_buffers(self, split: int, record: bool):
        """The two-stage run's buffers, made once and reused by every :meth:`run` (each call copies
        out what it returns): the first stage's two alternating output buffers ``(rows, tick
        offsets)``, its own input buffers, and each stage's record buffer (empty without
        ``record``). Remade when the input buffers grow (a tick with more events than before)."""
        key = (split, self._in_rows, bool(record), PIPELINE_TICKS, PIPELINE_FIRST_TICKS, PIPELINE_SPARE_ROWS)
        if getattr(self, "_pipe_key", None) != key:
            mid_cap = 2 * self.learning_layers[split - 1].n_neurons + PIPELINE_SPARE_ROWS
            n_off = max(PIPELINE_TICKS, PIPELINE_FIRST_TICKS) + 1
            rec_rows = 4 * self._n_all + 4096 if record else 0
            self._pipe = ([(np.zeros((mid_cap, 3), np.int64), np.zeros(n_off, np.int64)) for _ in range(2)],
                          (np.zeros((self._in_rows, 3), np.int64), np.zeros((self._in_rows, 3), np.int64)),
                          np.zeros((rec_rows, 4), np.int64), np.zeros((rec_rows, 4), np.int64))
            self._pipe_key = key
        return self._pipe

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_pool"] = None  # a thread does not copy; a copy starts its own when it needs one
        return state

    def step(self, events: np.ndarray, label: int = -1, record: bool = False) -> RunResult:
        """Advance by exactly one tick (``self.now``), delivering ``events`` in it."""
        from streams.ticks import TickChunk

        chunk = TickChunk(self.now, self.dt_us, events, np.array([0, len(events)], np.int64),
                          np.array([-1], np.int64), np.array([label], np.int64))
        return self.run(chunk, record=record)

    def _check_events(self, x, y, p) -> None:
        W, H, C = self.sensor_size
        if len(x) == 0:
            return
        bad = (x < 0) | (x >= W) | (y < 0) | (y >= H) | (p < 0) | (p >= C)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SourceError(
                f"input event {i} (x={x[i]}, y={y[i]}, p={p[i]}) lies outside this network's input "
                f"{W}x{H}x{C} (spec {self.spec.text!r}); downsample the stream (e.g. "
                "tonic.transforms.Downsample) or build the network for the sensor's size"
            )

    # ---- state ------------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """Everything needed to resume mid-stream bit-identically."""
        return {
            "spec": self.spec.text,
            "dt_us": self.dt_us,
            "precision": self.precision,
            "seed": self.seed,
            "now": self.now,
            "rng_state": self.rng_state.copy(),
            "counters": self.counters.copy(),
            "layer_params": {l.name: l.params.to_dict() for l in self.learning_layers},
            "rules": {l.name: rule_name(l.rule) for l in self.learning_layers},
            "layers": {l.name: l.state_dict() for l in self.learning_layers},
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if state.get("spec") != self.spec.text:
            raise CheckpointError(
                f"checkpoint is of network {state.get('spec')!r}, but this network is {self.spec.text!r}"
            )
        if int(state.get("dt_us", -1)) != self.dt_us:
            raise CheckpointError(f"checkpoint has dt_us={state.get('dt_us')}, this network {self.dt_us}")
        theirs = str(state.get("precision", "float64"))  # checkpoints from before the option: float64
        if theirs != self.precision:
            raise CheckpointError(
                f"checkpoint holds {theirs} potentials and weights, this network {self.precision}; build the "
                f"network with precision={theirs!r} (a top-level key of a run's config) to resume it")
        for key in ("layers", "rng_state", "counters", "now"):
            if key not in state:
                raise CheckpointError(f"checkpoint lacks '{key}'")
        params = {}
        for l in self.learning_layers:
            if l.name not in state["layers"]:
                raise CheckpointError(f"checkpoint lacks layer {l.name}")
            if "layer_params" in state:
                try:
                    params[l.name] = LayerParams.from_dict(copy.deepcopy(state["layer_params"][l.name]))
                except (ParameterError, KeyError, TypeError) as e:
                    raise CheckpointError(f"checkpoint's parameters of {l.name} are invalid: {e}") from None
                if rule_name(params[l.name].rule) != rule_name(l.rule):
                    raise CheckpointError(
                        f"checkpoint's {l.name} learns with {rule_name(params[l.name].rule)!r} but this "
                        f"network's with {rule_name(l.rule)!r}; build the network with the checkpoint's rule")
        rng = np.asarray(state["rng_state"])
        counters = np.asarray(state["counters"])
        if rng.shape == (1,) and self.rng_state.shape != (1,):
            raise CheckpointError(
                "checkpoint holds one tie-break stream for the whole network (written before 2026-11-30); "
                "this version draws one per layer, so it cannot resume that run exactly: start a new run, "
                "or resume it with the stdpnet version that wrote it")
        if rng.shape != self.rng_state.shape or counters.shape != self.counters.shape:
            raise CheckpointError("checkpoint's rng_state or counters do not fit this network")
        for l in self.learning_layers:  # every check passed: now copy
            l.load_state_dict(state["layers"][l.name])
            if l.name in params:
                l.params = params[l.name]
        np.copyto(self.rng_state, rng.astype(np.uint64))
        np.copyto(self.counters, counters.astype(np.int64))
        self.now = int(state["now"])

    def describe(self) -> str:
        lines = [f"Network {self.spec.text} (dt = {self.dt_us} us, {self.precision}, seed {self.seed})"]
        for l in self.layers:
            if isinstance(l, Pool):
                lines.append(f"  {l!r}")
            else:
                p = l.params
                rate = f" alpha-={p.rule.alpha_minus}" if isinstance(p.rule, STDPParams) else ""
                lines.append(f"  {l.describe()}  theta={p.theta_learn}/{p.theta_inference} "
                             f"r_learn={p.r_learn} r_infer={p.r_infer}{rate} "
                             f"rule={rule_name(p.rule)} learning={p.learning}")
        return "\n".join(lines)
