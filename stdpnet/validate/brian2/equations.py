"""The model as Brian2 equations: neuron state, threshold conditions, resets, synaptic code, STDP.

The templates restate SPEC §2 (neuron, threshold rule), §3 (STDP) and the optional leak /
refractory period / reset by subtraction of stdpnet's layer parameters, independently of the
simulator's kernels. Every template is a module-level string written as the formula it states;
the small functions only pick the variant a layer's parameters ask for.

Units (all Brian2 variables are dimensionless unless said otherwise):

- ``V_learn``, ``V_infer``, ``theta_l``, ``theta_i``, ``w``: potentials and weights, in units of one
  weight (a presynaptic spike through ``w`` adds ``w``);
- ``t_ref``, ``t_spike_learn``, ``t_spike_infer``, ``tlast``: tick times, as Brian2 steps counted
  from the twin's first tick (``tick - t0``, float; "never" is ``NEVER_STEP``, far in the past);
  ``t_in_timesteps`` is Brian2's current step;
- ``refractory``: ticks; ``tau_leak``: seconds (a Brian2 quantity; ``dt`` is the tick);
- ``alpha_*``, ``beta_*``, ``w_min``, ``w_max``, ``w_span = w_max - w_min``: the STDP rule's values.
"""
from __future__ import annotations

import math
from typing import Dict, Optional

import numpy as np

# ---- neuron (NeuronGroup of one learning layer) ---------------------------------------------------
# independent restatement of SPEC §2 (accumulators, threshold rule, resets): do not share with stdpnet.kernels
#: SPEC §2: two accumulators, non-leaky (the plain model): they change only through synapses.
ACCUMULATORS = "V_learn : 1\nV_infer : 1\n"
#: Optional leak (layer option ``leak_tau_us``): ``dV/dt = -V / tau_leak`` on both accumulators,
#: integrated by Brian2's ``exact`` method.
ACCUMULATORS_LEAKY = "dV_learn/dt = -V_learn/tau_leak : 1\ndV_infer/dt = -V_infer/tau_leak : 1\n"
#: SPEC §2 and §4: ``t_ref`` (last learning reset or inhibition), the last learning / inference
#: spike (refractory period), and ``touched``: the neuron received input this tick (stdpnet tests
#: thresholds only where input arrived).
NEURON_STATE = "t_ref : 1\nt_spike_learn : 1\nt_spike_infer : 1\ntouched : integer\n"

#: SPEC §2: inference spike (the group's ``spike`` event) at ``V_infer >= theta_infer``.
INFERENCE_THRESHOLD = "touched > 0 and V_infer >= theta_i{refractory}"
#: SPEC §2: learning spike (custom event ``learn``) at ``V_learn >= theta_learn``.
LEARNING_THRESHOLD = "touched > 0 and V_learn >= theta_l{refractory}"
#: Optional refractory period (``refractory_us``): no spike of a kind within ``refractory`` ticks
#: of the last one.
INFERENCE_REFRACTORY = " and t_in_timesteps - t_spike_infer >= refractory"
LEARNING_REFRACTORY = " and t_in_timesteps - t_spike_learn >= refractory"

#: SPEC §2: an inference spike sets ``V_infer = 0`` (option ``reset = "subtract"``: ``-= theta``).
INFERENCE_RESET = "{reset_v}\nt_spike_infer = t_in_timesteps"
#: SPEC §2: a learning spike sets ``V_learn = 0`` and ``t_ref = now``.
LEARNING_RESET = "{reset_v}\nt_ref = t_in_timesteps\nt_spike_learn = t_in_timesteps"
INFERENCE_RESET_ZERO = "V_infer = 0"
INFERENCE_RESET_SUBTRACT = "V_infer -= theta_i"
LEARNING_RESET_ZERO = "V_learn = 0"
LEARNING_RESET_SUBTRACT = "V_learn -= theta_l"
#: End of the layer's tick: the next tick starts untouched.
CLEAR_TOUCHED = "touched = 0"

# ---- shared kernel and input bookkeeping ----------------------------------------------------------
#: SPEC §3 (weight sharing): one element per kernel weight, stdpnet's flat layout.
KERNEL = "w : 1"
#: SPEC §3: the layer's (pooled) inputs with the step of their last spike (stdpnet's ``t_pre``).
INPUT_TIMES = "tlast : 1"
#: Forwarding synapses keep ``tlast`` up to date.
FORWARD_ON_PRE = "tlast_post = t_in_timesteps"
#: A synapse reads its weight from the shared kernel through a linked variable indexed by ``kidx``.
SHARED_WEIGHT_SYNAPSE = "w : 1 (linked)\nkidx : integer (constant)"

# ---- delivery (convolution synapses) --------------------------------------------------------------
# independent restatement of SPEC §2 (both accumulators receive w): do not share with stdpnet.kernels
#: SPEC §2: a presynaptic spike through ``w`` adds ``w`` to both accumulators (learning one only in
#: a learning layer), and marks the neuron touched for this tick.
DELIVER_LEARNING = "V_learn_post += w{gate}\n"
DELIVER_INFERENCE = "V_infer_post += w{gate}\ntouched_post = 1"
#: Optional refractory period: input is ignored within ``refractory`` ticks of the last spike.
LEARNING_INPUT_GATE = " * int(t_in_timesteps - t_spike_learn_post >= refractory)"
INFERENCE_INPUT_GATE = " * int(t_in_timesteps - t_spike_infer_post >= refractory)"

# ---- STDP (on_post of the learning event) ---------------------------------------------------------
# independent restatement of SPEC §3 (STDP, same tick causal): do not share with stdpnet.kernels
#: SPEC §3, general form, on each learning spike of the post neuron, for every input j:
#: ``dw = alpha_plus * exp(-beta_plus * (w - w_min) / w_span)`` if j spiked since ``t_ref``
#: (``t_ref < t_pre``; same tick counts as causal), else
#: ``dw = alpha_minus * exp(-beta_minus * (w_max - w) / w_span)``; ``w`` clipped to [w_min, w_max].
#: ``libm_exp`` is the C library's ``exp`` (:func:`libm_exp`).
STDP_ON_POST = (
    "dwp = alpha_plus * libm_exp(-beta_plus * (w - w_min) / w_span)\n"
    "dwm = alpha_minus * libm_exp(-beta_minus * (w_max - w) / w_span)\n"
    "w = clip(w + int(tlast_pre > t_ref_post) * dwp + int(tlast_pre <= t_ref_post) * dwm, w_min, w_max)"
)


#: The same rule for a float32 network (:mod:`stdpnet.kernels.precision`): ``w`` is stored as
#: float32, the change is computed in double from it (``as_double``), and the clipped result is
#: rounded to float32 by the store.
STDP_ON_POST_FLOAT32 = (
    "dwp = alpha_plus * libm_exp(-beta_plus * (as_double(w) - w_min) / w_span)\n"
    "dwm = alpha_minus * libm_exp(-beta_minus * (w_max - as_double(w)) / w_span)\n"
    "w = clip(as_double(w) + int(tlast_pre > t_ref_post) * dwp + int(tlast_pre <= t_ref_post) * dwm, w_min, w_max)"
)


def stdp_on_post(float32: bool) -> str:
    """SPEC §3 in the network's precision."""
    return STDP_ON_POST_FLOAT32 if float32 else STDP_ON_POST


def state_dtypes(float32: bool) -> Dict[str, object]:
    """Brian2 ``dtype`` of the accumulators (neuron group) and the kernel (``w``): a float32
    network's potentials add in float32, exactly like stdpnet's kernels."""
    if not float32:
        return {}
    return {"V_learn": np.float32, "V_infer": np.float32, "w": np.float32}


def neuron_equations(leaky: bool) -> str:
    """A learning layer's neuron equations (SPEC §2; with ``leaky``, the leak option)."""
    return (ACCUMULATORS_LEAKY if leaky else ACCUMULATORS) + NEURON_STATE


def inference_threshold(refractory: bool) -> str:
    return INFERENCE_THRESHOLD.format(refractory=INFERENCE_REFRACTORY if refractory else "")


def learning_threshold(refractory: bool) -> str:
    return LEARNING_THRESHOLD.format(refractory=LEARNING_REFRACTORY if refractory else "")


def inference_reset(subtract: bool) -> str:
    return INFERENCE_RESET.format(reset_v=INFERENCE_RESET_SUBTRACT if subtract else INFERENCE_RESET_ZERO)


def learning_reset(subtract: bool) -> str:
    return LEARNING_RESET.format(reset_v=LEARNING_RESET_SUBTRACT if subtract else LEARNING_RESET_ZERO)


def delivery_code(learning: bool, refractory: bool) -> str:
    """``on_pre`` of a convolution synapse (SPEC §2): ``V += w`` on the accumulators in use."""
    learn = DELIVER_LEARNING.format(gate=LEARNING_INPUT_GATE if refractory else "") if learning else ""
    return learn + DELIVER_INFERENCE.format(gate=INFERENCE_INPUT_GATE if refractory else "")


def namespace(b2, rule, theta_learn: float, theta_infer: float, refractory: int,
              tau_leak_ticks: float, dt_us: int) -> Dict[str, object]:
    """The external constants of a layer's equations, in the units of the module docstring."""
    return {"theta_l": theta_learn, "theta_i": theta_infer, "refractory": refractory,
            "tau_leak": tau_leak_ticks * dt_us * b2.us if tau_leak_ticks > 0 else 1 * b2.second,
            "alpha_plus": rule.alpha_plus, "alpha_minus": rule.alpha_minus,
            "beta_plus": rule.beta_plus, "beta_minus": rule.beta_minus,
            "w_min": rule.w_min, "w_max": rule.w_max, "w_span": rule.w_max - rule.w_min,
            "libm_exp": libm_exp(b2), "as_double": as_double(b2)}


_AS_DOUBLE: Optional[object] = None


def as_double(b2):
    """A value widened to double (float32 weights before the rule's arithmetic), on every target.

    Without it numpy would evaluate ``w - w_min`` in float32 for a float32 ``w`` (NEP 50: Python
    scalars take the array's type), where stdpnet's kernels compute in double."""
    global _AS_DOUBLE
    if _AS_DOUBLE is None:

        @b2.implementation("cython", "cdef double as_double(double x):\n    return x\n")
        @b2.check_units(x=1, result=1)
        def as_double(x):
            return np.asarray(x, np.float64) if np.ndim(x) else np.float64(x)

        _AS_DOUBLE = as_double
    return _AS_DOUBLE


_LIBM_EXP: Optional[object] = None


def libm_exp(b2):
    """The C library's ``exp`` as a Brian2 function, on every target.

    stdpnet's kernels (numba) and Brian2's cython target call the C library; numpy's own vectorised
    ``exp`` may differ in the last bit, which is enough to turn an exact tie of two potentials
    (common with regular input) into a strict order, and change a winner.
    """
    global _LIBM_EXP
    if _LIBM_EXP is None:

        @b2.implementation("cython", "cdef double libm_exp(double x):\n    return exp(x)\n")
        @b2.check_units(x=1, result=1)
        def libm_exp(x):
            if np.ndim(x) == 0:
                return math.exp(x)
            x = np.asarray(x, float)
            return np.fromiter((math.exp(v) for v in x.ravel()), float, x.size).reshape(x.shape)

        _LIBM_EXP = libm_exp
    return _LIBM_EXP
