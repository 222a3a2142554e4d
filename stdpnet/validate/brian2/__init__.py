"""The Brian2 twin: the model stated again, independently, in Brian2 (cross-validation).

- :mod:`.inputs`: a stream's events into a ``SpikeGeneratorGroup``, one spike per event;
  :func:`canonical_chunk` (within-tick order shared by both simulators);
- :mod:`.equations`: neurons, thresholds, resets, delivery and STDP code as module-level templates;
- :mod:`.wiring`: convolution and pooling as explicit synapses onto a shared kernel;
- :mod:`.greedy`: the greedy same-tick winner rule as a ``network_operation``;
- :mod:`.codegen`: Brian2 preferences for IEEE arithmetic, progress lines;
- :mod:`.twin`: :class:`Brian2Twin`, which assembles them and reads the run back.

The twin restates the model on purpose (SPEC §2-5: threshold rule, scatter order, inhibition
windows, pooling, STDP): every such place is marked "independent restatement of SPEC §N: do not
share with stdpnet.kernels". It shares one thing with the simulator, the seeded tie-break order
(:func:`stdpnet.kernels.order_by_potential` on the twin's own copy of the RNG state; see
:mod:`.greedy`). Brian2 itself is imported only when a twin is built.
"""
from .inputs import canonical_chunk
from .twin import Brian2Twin, TwinError, TwinResult, sort_records, stdpnet_current_state

__all__ = ["Brian2Twin", "TwinError", "TwinResult", "canonical_chunk", "sort_records", "stdpnet_current_state"]
