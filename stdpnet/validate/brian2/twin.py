"""The Brian2 twin of a stdpnet :class:`~stdpnet.network.Network` (cross-validation).

:class:`Brian2Twin` takes a network *as it is now* (spec, per-layer parameters, current weights,
accumulators, ``t_ref``, last presynaptic spike times and the tie-breaking RNG state) and a list of
:class:`streams.ticks.TickChunk`, and builds the equivalent Brian2 model from its parts:
:mod:`.inputs` (events into a ``SpikeGeneratorGroup``), :mod:`.equations` (neurons, thresholds,
resets, delivery and STDP code), :mod:`.wiring` (convolution and pooling as explicit synapses) and
:mod:`.greedy` (the same-tick winner rule). Running it gives every learning and inference spike of
every layer and the final weights, to compare with what stdpnet does on the same chunks
(:mod:`stdpnet.validate.crosscheck`).

Per learning layer: a ``NeuronGroup`` (neuron ``i`` = stdpnet's public index ``f*H*W + y*W + x``;
inference spike = the group's ``spike`` event, learning spike = custom event ``learn``), a
``NeuronGroup`` holding the shared kernel (every synapse reads its weight through a *linked
variable* indexed by its kernel entry, so weight sharing needs no copying), an input group whose
``tlast`` is stdpnet's ``t_pre``, forwarding / delivery ``Synapses`` (pooling of the layer below
folded in), STDP ``Synapses`` on the ``learn`` event, and the greedy ``network_operation``.

Brian2's one-tick latency per layer, and how it is removed
----------------------------------------------------------
With Brian2's default schedule (``start, groups, thresholds, synapses, resets, end``) a spike
emitted in step ``n`` is delivered by a delay-0 ``Synapses`` in the same step's ``synapses`` slot,
but the receiving group's threshold is tested only in step ``n + 1``'s ``thresholds`` slot: each
layer adds one ``dt``, and resets (``resets`` slot) would come after the next step's input.
stdpnet decides every layer within one tick, bottom-up (SPEC §5). A pipelined twin (layer ``l``'s
step ``n`` = tick ``n - l``) cannot reproduce that exactly: the leak would decay each layer's
accumulators once more before its threshold test. (Each layer draws its exact-tie shuffles from its
own seeded stream, ``net.rng_state[l]``, so the order in which layers run never mattered for them.)
The twin therefore schedules each layer's chain explicitly inside the ``synapses`` slot of one step,
with ``order`` values ``100 * (l + 1) + k`` (``k`` below), so Brian2 step ``n`` is stdpnet tick
``t0 + n`` **for every layer** (:meth:`Brian2Twin.tick_of_step`)::

    groups           leak (state updaters)
    thresholds       SpikeGeneratorGroup emits tick n's input events
    synapses  +0     forwarding synapses -> input group (tlast = now)      [stdpnet t_pre]
              +1     conv/pool synapses: V_learn += w, V_infer += w, touched = 1
              +2     network_operation: greedy winners, inhibition
              +3     thresholders: 'spike' (inference), 'learn'
              +4     STDP synapses (on_post, 'learn' event) -> shared kernel
              +5     resets: V_infer (spike), V_learn and t_ref (learn)
              +6     touched = 0
              ...    next layer: +0 of 100 * (l + 2) reads this layer's spikes of this step
    end              monitors

Float summation order: Brian2 adds a step's input spikes in order of presynaptic index, stdpnet in
the order of its input list. For the first layer both agree when the chunk's events are put in
canonical order within each tick (:func:`~.inputs.canonical_chunk`; the order of events within a
tick is no part of the model); higher layers receive spikes in greedy order in stdpnet and in
index order in Brian2, so their potentials may differ in the last bits. The STDP code is compiled
without loop-invariant hoisting, with the C library's ``exp`` on every target (:mod:`.codegen`),
so weights are bitwise equal to stdpnet's.

Cost: the explicit expansion gives every input (after pooling: every neuron of the layer below)
one synapse per neuron of its receptive field, and the STDP synapses one per input/neuron pair
(about 9.5 million synapses for ``34x34x2-16C5-P2-32C5-P2-100``). On the numpy target the STDP code
runs as a Python loop over the winner's synapses (Brian2 cannot vectorise a write through a
possibly repeated kernel index).

Ctrl-C during :meth:`Brian2Twin.run` raises ``KeyboardInterrupt`` (Brian2's own handler would stop
quietly and return part of the run); the twin is then spent: its partial state cannot be read.

Not supported: R-STDP and static layers raise :class:`TwinError`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ... import kernels as K
from ...errors import ParameterError, StdpnetError
from ...layers import LearningLayer, rule_name
from ...network import Network
from ...rules import STDPParams
from . import equations as eq
from .codegen import Progress, brian2_prefs, check_target, first_run_estimate_s, progress_sink, quiet_brian2
from .greedy import GreedyWinners, warm_up
from .inputs import TwinInput, prepare_input, spike_generator
from .wiring import conv_rows, expand_sources, layer_targets

# Brian2 holds tick times as float64 steps relative to the first tick; "never" is far in the past
# (exactly representable, and far enough that ``now - NEVER_STEP >= refractory`` always holds).
NEVER_STEP = -1.0e18

# Scheduling: order offsets within the 'synapses' slot, per layer (see the module docstring).
ORDER_FORWARD, ORDER_DELIVER, ORDER_DECIDE, ORDER_THRESHOLD, ORDER_STDP, ORDER_RESET, ORDER_CLEAR = range(7)
#: Seconds between progress lines while Brian2 simulates.
PROGRESS_PERIOD_S = 10.0


def layer_order(l: int) -> int:
    """Base ``order`` of layer ``l``'s objects in the ``synapses`` slot."""
    return 100 * (l + 1)


class TwinError(StdpnetError, RuntimeError):
    """The network (or input) uses something the Brian2 twin cannot represent, or the twin cannot
    do what is asked (run twice, read a state its interrupted run left partial)."""


@dataclass
class TwinResult:
    """What a twin run produced.

    ``record``: every Brian2 spike as rows ``(tick, layer, kind, neuron)`` (kind 0 = learning,
    1 = inference, public neuron index), sorted; same format as stdpnet's ``RunResult.record``.
    ``decisions``: the same rows as decided by the network operations, in acceptance order
    (diagnostic: they equal ``record`` unless Brian2's thresholds disagree with the greedy rule).
    ``wall_s``: wall time of the simulation loop (first to last step); ``setup_s``: Brian2's code
    generation/compilation and other preparation inside ``run`` before the first step.
    """

    start_tick: int
    n_ticks: int
    record: np.ndarray
    decisions: np.ndarray
    wall_s: float
    setup_s: float
    build_s: float
    target: str
    touched_missing: int = 0
    #: per layer: learning candidates, learning winners, inference candidates, inference spikes
    #: (candidates beyond winners are same-tick conflicts resolved by the greedy rule)
    conflicts: Dict[str, Dict[str, int]] = field(default_factory=dict)
    traces: Dict[str, Dict[str, np.ndarray]] = field(default_factory=dict)


@dataclass
class TwinLayer:
    """The Brian2 objects of one learning layer that a run is read from."""

    name: str
    layer: LearningLayer
    group: Any  # NeuronGroup: the neurons
    kernel: Any  # NeuronGroup: the shared weights
    inputs: Any  # NeuronGroup: the (pooled) inputs, tlast = t_pre
    greedy: GreedyWinners
    n_synapses: int
    mon_infer: Any = None
    mon_learn: Any = None
    trace: Any = None


def _estimated_synapses(net: Network) -> int:
    """Synapses the twin will create, before creating them: per layer, the STDP pairs (every neuron
    times its receptive field) and the delivery synapses (the same times the pooling below; an
    upper bound for the first layer, whose silent pixels get none)."""
    total = 0
    pool = net.input_pool
    for layer in net.learning_layers:
        C, k_h, k_w = layer.in_shape[0], *layer.kernel
        pairs = layer.n_neurons * C * k_h * k_w
        total += pairs * (int(bool(layer.params.learning)) + pool * pool)
        pool = layer.pool_after
    return total


class Brian2Twin:
    """The Brian2 model equivalent to ``net`` on the ticks of ``chunks`` (see the module docstring).

    The network's current state is copied, not shared: run stdpnet on the same chunks afterwards
    (or before, from a saved state) and compare. ``target``: Brian2's code generation target,
    ``numpy`` (no compiler) or ``cython``. ``overrides`` maps layer names to parameters of the
    *twin only* (``theta_learn``, ``theta_infer``): a deliberately perturbed twin, to check that a
    comparison can fail. ``trace`` maps layer names to neuron indices whose ``V_learn`` and
    ``V_infer`` are recorded at the end of every step (``StateMonitor``). ``progress``: ``True``
    prints a line to stderr before code generation (with a first-run time estimate) and while the
    run goes on; a callable receives the same lines; ``None`` is silent.
    """

    def __init__(self, net: Network, chunks: Sequence, target: str = "numpy",
                 overrides: Optional[Dict[str, Dict[str, float]]] = None,
                 trace: Optional[Dict[str, Sequence[int]]] = None, progress: Progress = None):
        import brian2 as b2

        t_build = time.perf_counter()
        self._say = progress_sink(progress)
        self._progress_on = progress is not None and progress is not False
        if not chunks:
            raise ParameterError("Brian2 twin: no input; pass at least one TickChunk "
                                 "(e.g. from streams.tick_chunks(stream, dt_us=net.dt_us))")
        check_target(target)
        for layer in net.learning_layers:
            if not isinstance(layer.rule, STDPParams):
                raise TwinError(f"{layer.name}: the Brian2 twin supports the STDP rule only, not "
                                f"{rule_name(layer.rule)!r}; crosscheck a network whose learning layers "
                                "all use rule = 'stdp'")
        est = first_run_estimate_s(target, len(net.learning_layers), _estimated_synapses(net))
        self._say(f"building Brian2 twin on the {target} target (code generation, first run ~{est:.0f} s)...")
        quiet_brian2()
        warm_up()
        with brian2_prefs(b2, target):  # synapse creation is generated code too
            self._build(b2, net, chunks, target, overrides, trace)
        self.build_s = time.perf_counter() - t_build

    def _build(self, b2, net, chunks, target, overrides, trace):
        self._ran = False
        self._interrupted = False
        self.net = net
        self.target = target
        self.dt_us = net.dt_us
        self.t0 = int(chunks[0].start_tick)
        overrides = overrides or {}
        trace = trace or {}
        unknown = (set(overrides) | set(trace)) - {l.name for l in net.learning_layers}
        if unknown:
            raise ParameterError(f"Brian2 twin: unknown layer(s) {sorted(unknown)} in overrides/trace; the "
                                 f"network's learning layers are {[l.name for l in net.learning_layers]}")

        inp: TwinInput = prepare_input(net, chunks)
        self.n_ticks = inp.n_ticks
        self.n_events = inp.n_events
        clock = b2.Clock(dt=self.dt_us * b2.us, name="stdpnet_twin_clock*")
        self._clock = clock
        objects: List = []
        gen = spike_generator(b2, inp, clock, self.dt_us)
        objects.append(gen)

        # the tie-breaking state: the twin's own copy of every layer's stream, each advanced by its
        # layer's greedy operation
        self.rng = net.rng_state.copy()
        self.layers: List[TwinLayer] = []
        source, src_inp, below = gen, inp.generator_target, inp.first_layer
        for li, layer in enumerate(net.learning_layers):
            tl = self._build_layer(b2, clock, li, layer, source, src_inp, below,
                                   overrides.get(layer.name, {}), trace.get(layer.name), objects)
            self.layers.append(tl)
            if li + 1 < len(net.learning_layers):  # sources of the next layer: these neurons, pooled
                _, Hn, Wn = net.learning_layers[li + 1].in_shape
                Ho, Wo = layer.out_hw
                src_inp = layer_targets(layer.n_maps, Ho, Wo, layer.pool_after, Hn, Wn)
                source, below = tl.group, tl.greedy

        # probe at the start of every step: counts steps, times the first (code generation is over)
        def _first_step():
            self._steps_started += 1
            if self._t_first is None:
                self._t_first = time.perf_counter()
                self._say(f"Brian2 twin: code ready after {self._t_first - self._t_run:.1f} s; "
                          f"simulating {self.n_ticks:,} ticks...")
        self._t_first = None
        self._t_run = None
        self._steps_started = 0
        objects.append(b2.NetworkOperation(_first_step, clock=clock, when="start", order=-1000,
                                           name="twin_timer*"))
        self.b2net = b2.Network(*objects)

    # --------------------------------------------------------------------------------------------
    def _build_layer(self, b2, clock, li, layer: LearningLayer, source, src_inp, below, over, trace_idx,
                     objects) -> TwinLayer:
        p = layer.params
        C, H_in, W_in = layer.in_shape
        F = layer.n_maps
        k_h, k_w = layer.kernel
        H_out, W_out = layer.out_hw
        N = layer.n_neurons
        base = layer_order(li)
        const = layer.const(self.dt_us)
        bad = set(over) - {"theta_learn", "theta_infer"}
        if bad:
            raise ParameterError(f"Brian2 twin: {layer.name}: overrides may change theta_learn/theta_infer "
                                 f"only, not {sorted(bad)}")
        # thresholds as the network's precision holds them (stdpnet.kernels.precision)
        float32 = layer.w.dtype == np.float32
        as_state = layer.w.dtype.type
        theta_l = float(as_state(over.get("theta_learn", const.theta_learn)))
        theta_i = float(as_state(over.get("theta_infer", const.theta_infer)))
        dtypes = eq.state_dtypes(float32)
        learning = bool(p.learning)
        refractory = int(const.refractory)
        tau_ticks = float(const.leak_tau)
        subtract = p.reset == "subtract"
        name = layer.name
        ns = eq.namespace(b2, layer.rule, theta_l, theta_i, refractory, tau_ticks, self.dt_us)

        # kernel (shared weights), stdpnet's flat layout
        kern = b2.NeuronGroup(len(layer.w), eq.KERNEL, clock=clock, name=f"{name}_kernel*",
                              dtype={k: v for k, v in dtypes.items() if k == "w"})
        kern.w = layer.w
        kern.state_updater.active = False  # parameters only
        # neurons: public index f*H*W + pos; stdpnet's arrays are (pos*F + f)
        events = {"learn": eq.learning_threshold(bool(refractory))} if learning else None
        group = b2.NeuronGroup(N, eq.neuron_equations(tau_ticks > 0),
                               threshold=eq.inference_threshold(bool(refractory)),
                               reset=eq.inference_reset(subtract), events=events,
                               method="exact" if tau_ticks > 0 else None, namespace=ns,
                               clock=clock, name=f"{name}*",
                               dtype={k: v for k, v in dtypes.items() if k != "w"})
        self._load_state(group, layer, tau_ticks)
        if tau_ticks <= 0:  # no equations to integrate: skip the empty per-step state update
            group.state_updater.active = False
        group.thresholder["spike"].when = "synapses"
        group.thresholder["spike"].order = base + ORDER_THRESHOLD
        group.resetter["spike"].when = "synapses"
        group.resetter["spike"].order = base + ORDER_RESET
        if learning:
            group.thresholder["learn"].when = "synapses"
            group.thresholder["learn"].order = base + ORDER_THRESHOLD
            group.run_on_event("learn", eq.learning_reset(subtract), when="synapses", order=base + ORDER_RESET)
        group.run_regularly(eq.CLEAR_TOUCHED, when="synapses", order=base + ORDER_CLEAR, name=f"{name}_clear*")
        objects += [kern, group]

        # input group: the layer's (pooled) inputs with the time of their last spike (= t_pre)
        n_inputs = C * H_in * W_in
        inputs = b2.NeuronGroup(n_inputs, eq.INPUT_TIMES, clock=clock, name=f"{name}_input*")
        inputs.tlast = self._steps(layer.t_pre)
        inputs.state_updater.active = False
        objects.append(inputs)
        fwd_pre = np.flatnonzero(src_inp >= 0)
        inp, post, kid = conv_rows(C, H_in, W_in, F, k_h, k_w, H_out, W_out)
        n_syn = 0
        if len(fwd_pre):  # (Brian2 cannot connect empty index arrays: no input, no synapses)
            fwd = b2.Synapses(source, inputs, on_pre=eq.FORWARD_ON_PRE, delay=0 * b2.ms,
                              clock=clock, name=f"{name}_forward*")
            fwd.connect(i=fwd_pre, j=src_inp[fwd_pre])
            fwd.pre.order = base + ORDER_FORWARD
            # convolution (with the pooling of the layer below folded in): delivery synapses
            d_pre, d_post, d_kid = expand_sources(src_inp, inp, post, kid, n_inputs)
            syn = b2.Synapses(source, group, eq.SHARED_WEIGHT_SYNAPSE,
                              on_pre=eq.delivery_code(learning, bool(refractory)),
                              delay=0 * b2.ms, namespace=ns, clock=clock, name=f"{name}_conv*")
            syn.connect(i=d_pre, j=d_post)
            syn.kidx = d_kid
            syn.w = b2.linked_var(kern, "w", index="kidx")
            syn.pre.order = base + ORDER_DELIVER
            objects += [fwd, syn]
            n_syn = len(d_pre)

        # STDP: input group -> layer, on the 'learn' event, into the shared kernel
        if learning:
            stdp = b2.Synapses(inputs, group, eq.SHARED_WEIGHT_SYNAPSE, on_post=eq.stdp_on_post(float32),
                               on_event={"post": "learn"}, delay={"post": 0 * b2.ms}, namespace=ns,
                               clock=clock, name=f"{name}_stdp*")
            stdp.connect(i=inp, j=post)
            stdp.kidx = kid
            stdp.w = b2.linked_var(kern, "w", index="kidx")
            stdp.post.order = base + ORDER_STDP
            objects.append(stdp)
            n_syn += len(inp)

        # the greedy same-tick rule
        next_hw = None
        if li + 1 < len(self.net.learning_layers):
            _, Hn, Wn = self.net.learning_layers[li + 1].in_shape
            next_hw = (Hn, Wn)
        greedy = GreedyWinners(li, (F, H_out, W_out), (k_h, k_w), group, below, self.rng[li:li + 1], self.t0,
                               theta_l, theta_i, int(const.r_learn), int(const.r_infer), learning, refractory,
                               layer.pool_after, next_hw)
        objects.append(b2.NetworkOperation(greedy, clock=clock, when="synapses", order=base + ORDER_DECIDE,
                                           name=f"{name}_greedy*"))
        tl = TwinLayer(name, layer, group, kern, inputs, greedy, n_syn)
        tl.mon_infer = b2.SpikeMonitor(group, record=True, when="end", name=f"{name}_inference_mon*")
        objects.append(tl.mon_infer)
        if learning:
            tl.mon_learn = b2.EventMonitor(group, "learn", record=True, when="end", name=f"{name}_learning_mon*")
            objects.append(tl.mon_learn)
        if trace_idx is not None:
            tl.trace = b2.StateMonitor(group, ["V_learn", "V_infer"], record=list(trace_idx), when="end",
                                       clock=clock, name=f"{name}_trace*")
            objects.append(tl.trace)
        return tl

    def _steps(self, ticks: np.ndarray) -> np.ndarray:
        """stdpnet tick times -> Brian2 steps (float, relative to ``t0``; NEVER -> NEVER_STEP)."""
        a = np.asarray(ticks, np.int64)
        return np.where(a == K.NEVER, NEVER_STEP, (a - self.t0).astype(float))

    def _load_state(self, group, layer: LearningLayer, tau_ticks: float) -> None:
        """Copy the layer's per-neuron state into the group (public neuron order)."""
        N = layer.n_neurons
        perm = layer.to_public_index(np.arange(N))  # internal index -> public
        inv = np.empty(N, np.int64)
        inv[perm] = np.arange(N)  # public -> internal
        v_l, v_i = layer.v_learn[inv].astype(float), layer.v_infer[inv].astype(float)
        if tau_ticks > 0:
            # stdpnet stores V at its last update; Brian2 decays once more before step 0's input
            v_l = v_l * np.exp(-((self.t0 - 1) - layer.t_upd_learn[inv]) / tau_ticks)
            v_i = v_i * np.exp(-((self.t0 - 1) - layer.t_upd_infer[inv]) / tau_ticks)
        with np.errstate(over="ignore"):  # Brian2's own range check casts 1e50 to a float32 variable's type
            group.V_learn = v_l
            group.V_infer = v_i
        group.t_ref = self._steps(layer.t_ref[inv])
        group.t_spike_learn = self._steps(layer.t_spike_learn[inv])
        group.t_spike_infer = self._steps(layer.t_spike_infer[inv])
        group.touched = 0

    # --------------------------------------------------------------------------------------------
    def tick_of_step(self, layer: int, step: np.ndarray) -> np.ndarray:
        """stdpnet tick of a Brian2 step for a layer: the same for every layer (no pipelining, see
        the module docstring), offset by the first chunk's start tick."""
        return np.asarray(step, np.int64) + self.t0

    @property
    def n_synapses(self) -> int:
        return int(sum(l.n_synapses for l in self.layers))

    def run(self) -> TwinResult:
        """Simulate every tick of the chunks (once); returns the spikes, with timing.

        Ctrl-C raises ``KeyboardInterrupt`` (after restoring Brian2's preferences); the twin is then
        spent, and reading its state raises :class:`TwinError`.
        """
        import brian2 as b2

        if self._ran:
            raise TwinError("a Brian2Twin runs once; build a new one (from the network's state) for more ticks")
        self._ran = True
        report = {}
        if self._progress_on:
            report = {"report": self._report, "report_period": PROGRESS_PERIOD_S * b2.second}
        with brian2_prefs(b2, self.target):
            t_start = self._t_run = time.perf_counter()
            try:
                # Brian2 compares float32 variables with 1e50 in a sanity check, which numpy warns
                # overflows float32; a real overflow of the model's values would still show as inf
                with np.errstate(over="ignore"):
                    self.b2net.run(self.n_ticks * self.dt_us * b2.us, namespace={}, **report)
            except BaseException as e:  # Ctrl-C, or an error inside Brian2: the state is partial
                self._interrupted = True
                if isinstance(e, KeyboardInterrupt):
                    self._say(f"Brian2 twin: interrupted after {self._steps_done():,} of {self.n_ticks:,} ticks")
                raise
            finally:
                # Brian2 leaves this class flag set when an exception leaves Network.run; its SIGINT
                # handler would then swallow the next Ctrl-C of the process as a "stop request"
                b2.Network._globally_running = False
            t_end = time.perf_counter()
        done = self._steps_done()
        if done < self.n_ticks:  # Brian2 stopped early (b2.stop(), or its own Ctrl-C handling)
            self._interrupted = True
            self._say(f"Brian2 twin: interrupted after {done:,} of {self.n_ticks:,} ticks")
            if b2.Network._globally_stopped:
                raise KeyboardInterrupt(f"Brian2 twin stopped after {done} of {self.n_ticks} ticks")
            raise TwinError(f"Brian2 stopped the twin after {done} of {self.n_ticks} ticks; nothing in the "
                            "twin asks for that: was brian2.stop() called from another object?")
        t_first = self._t_first if self._t_first is not None else t_end
        self._say(f"Brian2 twin: {self.n_ticks:,} ticks simulated in {t_end - t_first:.1f} s")
        return self._result(t_start, t_first, t_end)

    def _steps_done(self) -> int:
        """Steps Brian2 has begun (the last one may be incomplete after an interruption)."""
        return self._steps_started

    def _report(self, elapsed, completed, start, duration) -> None:
        """Brian2's progress callback (every ``PROGRESS_PERIOD_S`` of wall time)."""
        if 0.0 < completed < 1.0:
            self._say(f"Brian2 twin: {completed:.0%} of {self.n_ticks:,} ticks after {float(elapsed):.0f} s")

    def _result(self, t_start: float, t_first: float, t_end: float) -> TwinResult:
        rows, dec = [], []
        dt_s = self.dt_us * 1e-6
        traces = {}
        for li, tl in enumerate(self.layers):
            for kind, mon in ((K.KIND_LEARN, tl.mon_learn), (K.KIND_INFER, tl.mon_infer)):
                if mon is None:
                    continue
                steps = np.round(np.asarray(mon.t_[:]) / dt_s).astype(np.int64)
                r = np.empty((len(steps), 4), np.int64)
                r[:, 0] = self.tick_of_step(li, steps)
                r[:, 1] = li
                r[:, 2] = kind
                r[:, 3] = np.asarray(mon.i[:], np.int64)
                rows.append(r)
            dec.append(tl.greedy.decisions())
            if tl.trace is not None:
                sm = tl.trace
                traces[tl.name] = {"V_learn": np.asarray(sm.V_learn[:]).copy(),
                                   "V_infer": np.asarray(sm.V_infer[:]).copy(),
                                   "ticks": self.tick_of_step(li, np.round(np.asarray(sm.t_[:]) / dt_s))}
        record = sort_records(np.concatenate(rows) if rows else np.zeros((0, 4), np.int64))
        decisions = np.concatenate(dec) if dec else np.zeros((0, 4), np.int64)
        return TwinResult(self.t0, self.n_ticks, record, decisions, wall_s=t_end - t_first,
                          setup_s=t_first - t_start, build_s=self.build_s, target=self.target,
                          touched_missing=int(sum(tl.greedy.missing for tl in self.layers)), traces=traces,
                          conflicts={tl.name: dict(zip(("learning_candidates", "learning_winners",
                                                        "inference_candidates", "inference_spikes"),
                                                       (int(v) for v in tl.greedy.counts)))
                                     for tl in self.layers})

    # ---- state read-back, in stdpnet's layouts ----------------------------------------------
    def _check_whole(self) -> None:
        if self._interrupted:
            raise TwinError("the twin's run was interrupted: its state is partial; build a new twin "
                            "from the network's state and run it to the end")

    def weights_flat(self, li: int) -> np.ndarray:
        """Layer ``li``'s kernel weights in stdpnet's flat layout (compare with ``layer.w``)."""
        self._check_whole()
        return np.asarray(self.layers[li].kernel.w[:]).copy()

    def state(self, li: int) -> Dict[str, np.ndarray]:
        """Per-neuron state in stdpnet's internal order ``(pos*F + f)`` and absolute ticks:
        ``v_learn``, ``v_infer`` (with the leak: current, decayed values), ``t_ref``, ``t_pre``."""
        self._check_whole()
        tl = self.layers[li]
        layer = tl.layer
        g = tl.group
        perm = layer.to_public_index(np.arange(layer.n_neurons))

        def ticks(a):
            a = np.asarray(a, float)
            return np.where(a <= NEVER_STEP / 2, K.NEVER, np.round(a).astype(np.int64) + self.t0)

        return {
            "v_learn": np.asarray(g.V_learn[:])[perm].copy(),
            "v_infer": np.asarray(g.V_infer[:])[perm].copy(),
            "t_ref": ticks(np.asarray(g.t_ref[:])[perm]),
            "t_pre": ticks(np.asarray(tl.inputs.tlast[:])),
        }


def sort_records(rec: np.ndarray) -> np.ndarray:
    """Rows ``(tick, layer, kind, neuron)`` sorted by tick, layer, kind, neuron (same-tick spikes
    form a set: their order is the greedy acceptance order in stdpnet, index order in Brian2)."""
    rec = np.asarray(rec, np.int64).reshape(-1, 4)
    if len(rec) == 0:
        return rec.copy()
    o = np.lexsort((rec[:, 3], rec[:, 2], rec[:, 1], rec[:, 0]))
    return rec[o]


def stdpnet_current_state(layer: LearningLayer, now: int, dt_us: int) -> Dict[str, np.ndarray]:
    """stdpnet's per-neuron state at the end of tick ``now - 1``, as :meth:`Brian2Twin.state`
    gives it: with the leak, ``V`` decayed from its last update to that tick."""
    tau = layer.params.leak_tau_us / dt_us
    v_l, v_i = layer.v_learn.copy(), layer.v_infer.copy()
    if tau > 0:
        v_l = v_l * np.exp(-((now - 1) - layer.t_upd_learn) / tau)
        v_i = v_i * np.exp(-((now - 1) - layer.t_upd_infer) / tau)
    return {"v_learn": v_l, "v_infer": v_i, "t_ref": layer.t_ref.copy(), "t_pre": layer.t_pre.copy()}
