"""Operation counts and energy estimates, NeuroBench style (Yik et al., 2024/2025).

A *synaptic operation* (synop) is one presynaptic spike reaching one postsynaptic neuron. In a
spiking network it costs an accumulate (AC: the weight is added to the potential); in a
conventional network every connection costs a multiply-accumulate (MAC) per inference. The
simulator counts synops per learning layer (``Network.counters[:, 2]``, ``PassStats.counts[:, 2]``,
``RunResult.counts[:, 2]``); :func:`synaptic_ops` turns such counters into totals and per-sample
figures, :func:`dense_macs` and :func:`conv2d_macs` count a frame-based twin's MACs, and
:func:`energy_estimate_uj` prices both::

    E [uJ] = (ACs * 0.9 pJ + MACs * 4.6 pJ) * 1e-6

The per-operation energies are Horowitz's (ISSCC 2014) 45 nm, 32-bit float figures (add 0.9 pJ,
multiply 3.7 pJ, so a MAC 4.6 pJ), the ones spiking-network comparisons commonly quote. The result
is an ESTIMATE of arithmetic energy only: no memory access, no data movement, no neuromorphic
hardware, and it should be reported as such (:data:`ENERGY_NOTE`).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import numpy as np

from ..errors import ParameterError

#: Energy of one accumulate (32-bit float add, 45 nm), picojoules.
PJ_PER_AC = 0.9
#: Energy of one multiply-accumulate (32-bit float multiply + add, 45 nm), picojoules.
PJ_PER_MAC = 4.6
#: The label every reported energy figure carries.
ENERGY_NOTE = ("estimate, not a measurement: 0.9 pJ per accumulate and 4.6 pJ per multiply-accumulate "
               "(32-bit float, 45 nm, Horowitz 2014); arithmetic only, no memory access")

SYNOPS_COLUMN = 2  # column of synaptic operations in the simulator's (learning, inference, synops) counters


def _count(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        raise ParameterError(f"{name} must be a number of operations, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ParameterError(f"{name} must be a finite count >= 0, got {value!r}")
    return value


@dataclass(frozen=True)
class SynapticOps:
    """Synaptic operations of a pass: ``per_layer`` totals, their sum ``total``, over ``samples``
    samples; ``acs_per_synop`` accumulates are charged per synop (see :func:`synaptic_ops`)."""

    per_layer: Dict[str, int]
    samples: int
    acs_per_synop: int = 1

    @property
    def total(self) -> int:
        return int(sum(self.per_layer.values()))

    @property
    def per_sample(self) -> float:
        return self.total / max(self.samples, 1)

    @property
    def acs(self) -> int:
        """Effective accumulates: ``total * acs_per_synop``."""
        return self.total * self.acs_per_synop

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready figures, energy included (labelled as an estimate)."""
        return {
            "synops": self.total,
            "synops_per_sample": self.per_sample,
            "synops_per_layer": dict(self.per_layer),
            "synops_per_layer_per_sample": {k: v / max(self.samples, 1) for k, v in self.per_layer.items()},
            "effective_acs": self.acs,
            "effective_macs": 0,
            "energy_estimate_uj": energy_estimate_uj(self.acs, 0),
            "energy_estimate_uj_per_sample": energy_estimate_uj(self.acs, 0) / max(self.samples, 1),
            "energy_note": ENERGY_NOTE,
        }


def synaptic_ops(
    counters: Union[np.ndarray, Sequence, Mapping[str, Any]],
    layer_names: Optional[Sequence[str]] = None,
    samples: int = 1,
    acs_per_synop: int = 1,
) -> SynapticOps:
    """Synaptic operations from per-layer counters.

    ``counters``: the simulator's ``(L, 3)`` array of (learning spikes, inference spikes, synops)
    per learning layer (synops = column 2), or an ``(L,)`` array of synops, with ``layer_names``
    (default ``layer0, layer1, ...``); or a mapping ``{layer: synops}`` or ``{layer: {"synops":
    n, ...}}`` (``Network.counter_dict()``). ``samples``: how many samples the counts cover.
    ``acs_per_synop``: accumulates charged per synop; NeuroBench counts 1, while stdpnet's
    neurons add each weight to two accumulators (``V_learn`` and ``V_infer``), so 2 counts every
    addition the simulator makes.
    """
    if isinstance(samples, bool) or not isinstance(samples, (numbers.Integral,)) or samples < 0:
        raise ParameterError(f"samples must be an integer >= 0, got {samples!r}")
    if isinstance(acs_per_synop, bool) or not isinstance(acs_per_synop, numbers.Integral) or acs_per_synop < 1:
        raise ParameterError(f"acs_per_synop must be an integer >= 1, got {acs_per_synop!r}")
    if isinstance(counters, Mapping):
        per_layer = {}
        for name, value in counters.items():
            if isinstance(value, Mapping):
                if "synops" not in value:
                    raise ParameterError(f"counters[{name!r}] has no 'synops' entry; has {sorted(value)}")
                value = value["synops"]
            per_layer[str(name)] = int(_count(f"synops of layer {name!r}", value))
        return SynapticOps(per_layer, int(samples), int(acs_per_synop))
    array = np.asarray(counters)
    if array.ndim == 2 and array.shape[1] == 3:
        synops = array[:, SYNOPS_COLUMN]
    elif array.ndim == 1:
        synops = array
    else:
        raise ParameterError(
            f"counters must be an (L, 3) array of (learning, inference, synops), an (L,) array of synops "
            f"or a {{layer: synops}} mapping, got shape {array.shape}"
        )
    names = [f"layer{i}" for i in range(len(synops))] if layer_names is None else [str(n) for n in layer_names]
    if len(names) != len(synops):
        raise ParameterError(f"{len(names)} layer names for {len(synops)} layers of counters")
    per_layer = {name: int(_count(f"synops of layer {name!r}", value)) for name, value in zip(names, synops.tolist())}
    return SynapticOps(per_layer, int(samples), int(acs_per_synop))


def dense_macs(n_in: int, n_out: int) -> int:
    """MACs of one inference of a fully connected layer: ``n_in * n_out``."""
    return int(_count("n_in", n_in)) * int(_count("n_out", n_out))


def conv2d_macs(in_channels: int, out_channels: int, kernel: int, out_height: int, out_width: int) -> int:
    """MACs of one inference of a convolution (no bias): ``C_in * k^2 * C_out * H_out * W_out``."""
    factors = [int(_count(name, v)) for name, v in (("in_channels", in_channels), ("out_channels", out_channels),
                                                     ("kernel", kernel), ("out_height", out_height),
                                                     ("out_width", out_width))]
    c_in, c_out, k, h, w = factors
    return c_in * k * k * c_out * h * w


def energy_estimate_uj(acs: float, macs: float) -> float:
    """Estimated arithmetic energy in microjoules: ``(acs * 0.9 pJ + macs * 4.6 pJ) * 1e-6``.

    An ESTIMATE (see :data:`ENERGY_NOTE`); report it with that label.
    """
    return (_count("acs", acs) * PJ_PER_AC + _count("macs", macs) * PJ_PER_MAC) * 1e-6
