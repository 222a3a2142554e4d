"""The twin's equations: each variant as written, and the STDP code computing SPEC §3 in Brian2."""
import math

import numpy as np
import pytest

from stdpnet.rules import STDPParams
from stdpnet.validate.brian2 import equations as eq

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pyparsing, inside Brian2


def test_neuron_variants():
    state = "t_ref : 1\nt_spike_learn : 1\nt_spike_infer : 1\ntouched : integer\n"
    assert eq.neuron_equations(False) == "V_learn : 1\nV_infer : 1\n" + state
    assert eq.neuron_equations(True) == "dV_learn/dt = -V_learn/tau_leak : 1\ndV_infer/dt = -V_infer/tau_leak : 1\n" + state
    assert eq.learning_threshold(False) == "touched > 0 and V_learn >= theta_l"
    assert eq.inference_threshold(True) == \
        "touched > 0 and V_infer >= theta_i and t_in_timesteps - t_spike_infer >= refractory"
    assert eq.inference_reset(False) == "V_infer = 0\nt_spike_infer = t_in_timesteps"
    assert eq.learning_reset(True) == "V_learn -= theta_l\nt_ref = t_in_timesteps\nt_spike_learn = t_in_timesteps"


def test_delivery_variants():
    assert eq.delivery_code(False, False) == "V_infer_post += w\ntouched_post = 1"
    assert eq.delivery_code(True, False) == "V_learn_post += w\nV_infer_post += w\ntouched_post = 1"
    assert eq.delivery_code(True, True) == (
        "V_learn_post += w * int(t_in_timesteps - t_spike_learn_post >= refractory)\n"
        "V_infer_post += w * int(t_in_timesteps - t_spike_infer_post >= refractory)\ntouched_post = 1")


def test_stdp_code_applies_the_rule_in_brian2():
    """One learning event of a neuron with two inputs, one causal (spiked after t_ref), one not:
    dw = alpha_plus * exp(-beta_plus * (w - w_min) / span) and alpha_minus * exp(-beta_minus * (w_max - w) / span)."""
    b2 = pytest.importorskip("brian2")
    rule = STDPParams(alpha_minus=-0.05, beta_minus=1.0, w_min=0.1, w_max=0.9)
    old = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    try:
        clock = b2.Clock(dt=1 * b2.ms)
        ns = eq.namespace(b2, rule, 1.0, 1.0, 0, 0.0, 1000)
        kern = b2.NeuronGroup(2, eq.KERNEL, clock=clock)
        kern.w = [0.5, 0.3]
        inputs = b2.NeuronGroup(2, eq.INPUT_TIMES, clock=clock)
        inputs.tlast = [2.0, 1.0]  # steps; t_ref = 1: input 0 causal, input 1 not (equal is not after)
        post = b2.NeuronGroup(1, "t_ref : 1", events={"learn": "t_in_timesteps == 2"}, clock=clock)
        post.t_ref = 1.0
        stdp = b2.Synapses(inputs, post, eq.SHARED_WEIGHT_SYNAPSE, on_post=eq.STDP_ON_POST,
                           on_event={"post": "learn"}, namespace=ns, clock=clock)
        stdp.connect(i=[0, 1], j=[0, 0])
        stdp.kidx = [0, 1]
        stdp.w = b2.linked_var(kern, "w", index="kidx")
        b2.Network(kern, inputs, post, stdp).run(4 * b2.ms, namespace={})
    finally:
        b2.prefs.codegen.target = old
    expected = [0.5 + 0.4 * math.exp(-3.0 * (0.5 - 0.1) / 0.8), 0.3 - 0.05 * math.exp(-1.0 * (0.9 - 0.3) / 0.8)]
    np.testing.assert_allclose(np.asarray(kern.w[:]), expected, rtol=0, atol=1e-15)
