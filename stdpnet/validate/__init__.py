"""Cross-validation of the simulator against an independent Brian2 model (issue 5).

- :mod:`stdpnet.validate.brian2_twin`: :class:`Brian2Twin` builds the Brian2 equivalent of a
  stdpnet network (current weights and state included) on given input ticks.
- :mod:`stdpnet.validate.crosscheck`: runs both on the same events and compares spike trains and
  weights (``stdpnet crosscheck``), and times both (``--bench``).

Brian2 is imported only when a twin is built.
"""
from .brian2_twin import Brian2Twin, TwinError, TwinResult, canonical_chunk, sort_records

__all__ = ["Brian2Twin", "TwinError", "TwinResult", "canonical_chunk", "sort_records"]
