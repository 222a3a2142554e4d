"""A network's floating-point precision: the type of its potentials, weights and biases.

``float64`` (the default) is the plain reading of SPEC: IEEE double arithmetic throughout.
``float32`` halves the bytes that every synaptic operation moves (delivery is bound by memory
traffic, not by the adds) and is what the presets use. In float32 the model's arithmetic is:

- potentials, weights and biases are stored as float32; one input spike adds ``w`` to a potential
  with one float32 addition (``V <- fl32(V + w)``);
- thresholds are rounded to float32 once, when the layer's constants are built, so comparing in
  float32 or in double gives the same answer; a reset by subtraction is ``fl32(V - theta)``;
- a learning spike computes each weight's change in double from the stored float32 weight, and
  stores ``fl32(clip(w + dw))``; the leak multiplies in double and stores ``fl32``.

Double rounding is harmless here: a float32 sum or difference computed in double and rounded to
float32 equals the float32 operation (double has more than twice float32's 24 bits). So the Brian2
twin (:mod:`stdpnet.validate.brian2`) states the same model with float32 state variables and
double expressions, and both sides agree bit for bit.
"""
from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload

PRECISIONS = {"float64": np.float64, "float32": np.float32}
DEFAULT_PRECISION = "float64"


def dtype_of(precision: str) -> type:
    """``"float32"`` / ``"float64"`` -> the numpy type (callers validate the name first)."""
    return PRECISIONS[precision]


def like(x, arr):
    """``x`` converted to the element type of ``arr`` (compiled: one cast, so a vectorised loop
    compares float32 potentials with a float32 threshold instead of widening each to double)."""
    return arr.dtype.type(x)


@overload(like, jit_options={"cache": True})
def _like(x, arr):
    element = arr.dtype

    def impl(x, arr):
        return element(x)

    return impl


def bit_patterns(values):
    """``values`` (float32 or float64) viewed as unsigned integers of the same width (no copy)."""
    return values.view(np.uint32 if values.dtype == np.float32 else np.uint64)


@overload(bit_patterns, jit_options={"cache": True})
def _bit_patterns(values):
    if values.dtype == types.float32:
        def impl32(values):
            return values.view(np.uint32)
        return impl32

    def impl64(values):
        return values.view(np.uint64)

    return impl64
