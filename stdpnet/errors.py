"""One error root: every error stdpnet raises on purpose is a :class:`StdpnetError`.

The CLI catches exactly these (plus ``OSError`` and ``streams.EventStreamError``) and prints one
line; anything else is a bug and says "please report". Messages say what is wrong, where, and how
to fix it (Brian2's habit).
"""
from __future__ import annotations

import math
import numbers

import numpy as np


class StdpnetError(ValueError):
    """Root of stdpnet's own errors (a ``ValueError`` so older ``except ValueError`` code still works)."""


class ParameterError(StdpnetError):
    """A model parameter is out of its valid range (NaN, negative threshold, a boolean for a number, ...)."""


class SpecError(StdpnetError):
    """A network spec string cannot describe a valid network."""


class ConfigError(StdpnetError):
    """A configuration (TOML file, saved run config, command-line combination) is invalid."""


class CheckpointError(StdpnetError):
    """A checkpoint does not match the network it is loaded into, or is unreadable."""


class SourceError(StdpnetError):
    """A data SOURCE names nothing usable, or does not fit the network."""


class RunDirError(StdpnetError):
    """A run directory is missing, locked by another run, or inconsistent."""


class Interrupted(StdpnetError):
    """Work stopped on request (Ctrl-C, SIGTERM, SIGHUP) after saving what could be saved."""


def check_finite(name: str, value) -> None:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(float(value)):
        raise ParameterError(f"{name} must be a finite number, got {value!r}")


def check_positive(name: str, value, allow_zero: bool = False) -> None:
    check_finite(name, value)
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ParameterError(f"{name} must be {bound}, got {value!r}")
