"""Energy estimate per inference from operation counts (a labelled estimate, not a measurement).

Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm CMOS, 32-bit float: an addition costs
0.9 pJ, a multiply-accumulate 3.7 + 0.9 = 4.6 pJ. A spike input costs one accumulate per synapse
(AC); a dense layer one MAC per synapse. Memory access, neuron updates and leak are not counted.
"""
from __future__ import annotations

PJ_PER_OP = {"AC": 0.9, "MAC": 4.6}

ENERGY_NOTE = ("estimate: 0.9 pJ per accumulate (spike input), 4.6 pJ per multiply-accumulate "
               "(dense), 45 nm float32 figures of Horowitz (ISSCC 2014); memory and neuron updates "
               "not counted")


def energy_uj(n_ops: float, op_kind: str) -> float:
    """Energy in microjoules of ``n_ops`` operations of kind ``"AC"`` or ``"MAC"``."""
    return float(n_ops) * PJ_PER_OP[op_kind] * 1e-6
