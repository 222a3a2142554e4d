"""Compiled kernels of the clock-based simulator (numba). They hold no state of their own: every
layer comes in as three named values (:mod:`.state`), and the kernels are functions of them.

- :mod:`.state`: ``LayerConst`` / ``LayerState`` / ``LayerScratch``, the neuron orders (hwf inside,
  fhw outside), constants;
- :mod:`.ordering`: same-tick candidate order with seeded ties;
- :mod:`.inhibition`: learning and inference WTA inhibition;
- :mod:`.learning`: the rule (STDP / R-STDP / none) on one winner's kernel;
- :mod:`.profiling`: per-phase cycle counters, compiled in only when profiling;
- :mod:`.cache`: drops numba's cached kernels when any of their sources changed;
- :mod:`.delivery`: input spikes into both accumulators (contiguous runs, threshold crossings noted);
- :mod:`.tick`: one layer's tick, and :func:`run_ticks`, the driver of a whole chunk.
"""
from .cache import drop_stale_cache

drop_stale_cache()  # before any kernel is loaded from numba's cache (see .cache)

from .inhibition import inhibit_inference, inhibit_learning
from .learning import learn_on_winner
from .ordering import next_random, order_by_potential
from .profiling import N_PHASES, PHASES, read_cycle_counter
from .state import (
    KIND_INFER, KIND_LEARN, NEVER, R_GLOBAL, R_NONE, REC_KIND, REC_LAYER, REC_NEURON, REC_TICK,
    RESET_SUBTRACT, RESET_ZERO, RULE_RSTDP, RULE_STATIC, RULE_STDP, STATE_FIELDS, LayerConst,
    LayerScratch, LayerState, fhw_to_hwf, hwf_to_fhw, new_scratch, new_state,
)
from .tick import layer_tick, run_stage_plain, run_ticks, run_ticks_plain

__all__ = [
    "KIND_INFER", "KIND_LEARN", "NEVER", "R_GLOBAL", "R_NONE", "REC_KIND", "REC_LAYER", "REC_NEURON",
    "REC_TICK", "RESET_SUBTRACT", "RESET_ZERO", "RULE_RSTDP", "RULE_STATIC", "RULE_STDP", "STATE_FIELDS",
    "LayerConst", "LayerScratch", "LayerState", "fhw_to_hwf", "hwf_to_fhw", "inhibit_inference",
    "inhibit_learning", "layer_tick", "learn_on_winner", "new_scratch", "new_state", "next_random",
    "order_by_potential", "run_stage_plain", "run_ticks", "run_ticks_plain", "N_PHASES", "PHASES", "read_cycle_counter",
]
