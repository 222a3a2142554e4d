"""Cross-validation of the simulator against an independent Brian2 model.

- :mod:`stdpnet.validate.brian2`: :class:`Brian2Twin` builds the Brian2 equivalent of a stdpnet
  network (current weights and state included) on given input ticks;
- :mod:`stdpnet.validate.crosscheck`: runs both on the same events and compares spike trains and
  weights (``stdpnet crosscheck``);
- :mod:`stdpnet.validate.bench`: times both on the same events (``benchmarks/bench_brian2.py``).

Brian2 is imported only when a twin is built.
"""
from .brian2 import Brian2Twin, TwinError, TwinResult, canonical_chunk, sort_records, stdpnet_current_state

__all__ = ["Brian2Twin", "TwinError", "TwinResult", "canonical_chunk", "sort_records", "stdpnet_current_state"]
