"""Errors that tell the user what is wrong and how to fix it."""
from __future__ import annotations

import math


class ParameterError(ValueError):
    """A model parameter is out of its valid range (NaN, negative threshold, ...)."""


class SpecError(ValueError):
    """A network spec string or configuration file cannot describe a valid network."""


class CheckpointError(ValueError):
    """A checkpoint does not match the network it is loaded into, or is unreadable."""


def check_finite(name: str, value) -> None:
    try:
        ok = math.isfinite(float(value))
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number, got {value!r}") from None
    if not ok:
        raise ParameterError(f"{name} must be a finite number, got {value!r}")


def check_positive(name: str, value, allow_zero: bool = False) -> None:
    check_finite(name, value)
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ParameterError(f"{name} must be {bound}, got {value!r}")
