"""Learning rules: STDP (Thiele et al. 2018, eq. 3.4 of the thesis) and R-STDP (Mozafari et al. 2019).

Parameters are plain frozen dataclasses; the arithmetic lives in small numba functions that the
simulator's kernels call on each winner. Nothing here holds state.

Symbols (SPEC section 3): ``alpha_plus``, ``alpha_minus`` (learning rates, ``alpha_minus < 0``),
``beta_plus``, ``beta_minus`` (damping), ``[w_min, w_max]`` (weight range).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
from numba import njit

from .errors import ParameterError, check_finite


@dataclass(frozen=True)
class STDPParams:
    """Parameters of the thesis' STDP rule (SPEC section 3).

    ``alpha_plus`` defaults to ``-8 * alpha_minus`` (the source's ratio, the same in every layer).
    With ``w_min = 0``, ``w_max = 1``, ``beta_minus = 0`` the rule reduces to
    ``dw = alpha_plus * exp(-beta_plus * w)`` (causal) or ``alpha_minus`` (otherwise), whose
    equilibrium under an input active with probability ``p`` is ``w* = ln(8p / (1-p)) / 3``.
    """

    alpha_minus: float = -0.001
    alpha_plus: Optional[float] = None
    beta_plus: float = 3.0
    beta_minus: float = 0.0
    w_min: float = 0.0
    w_max: float = 1.0

    def __post_init__(self):
        if self.alpha_plus is None:
            object.__setattr__(self, "alpha_plus", -8.0 * self.alpha_minus)
        for name in ("alpha_minus", "alpha_plus", "beta_plus", "beta_minus", "w_min", "w_max"):
            check_finite(f"STDPParams.{name}", getattr(self, name))
        if self.alpha_minus > 0:
            raise ParameterError(
                f"STDPParams.alpha_minus must be <= 0 (depression), got {self.alpha_minus}; "
                "pass a negative value such as -0.001"
            )
        if self.alpha_plus < 0:
            raise ParameterError(f"STDPParams.alpha_plus must be >= 0, got {self.alpha_plus}")
        if self.beta_plus < 0 or self.beta_minus < 0:
            raise ParameterError("STDPParams.beta_plus and beta_minus must be >= 0")
        if not self.w_min < self.w_max:
            raise ParameterError(f"STDPParams needs w_min < w_max, got [{self.w_min}, {self.w_max}]")

    def equilibrium_weight(self, p: float) -> float:
        """Weight where expected drift vanishes for an input active with probability ``p``.

        ``p alpha_plus exp(-beta_plus w) + (1-p) alpha_minus = 0`` (valid for ``beta_minus = 0``,
        ``[w_min, w_max] = [0, 1]``).
        """
        return math.log(p * self.alpha_plus / ((1 - p) * -self.alpha_minus)) / self.beta_plus


@dataclass(frozen=True)
class RSTDPParams:
    """Reward-modulated STDP (Mozafari et al., Pattern Recognition 2019).

    On a learning spike while a label is present: if the neuron's class (decision map) matches the
    label, ``dw = a_r_plus`` for inputs active since ``t_ref`` and ``a_r_minus`` otherwise (reward);
    if not, ``dw = a_p_plus`` / ``a_p_minus`` (punishment, anti-STDP: the signs are already in the
    values). With ``soft_bound`` (Mozafari's form), each ``dw`` is multiplied by
    ``(w - w_min)(w_max - w) / (w_max - w_min)^2``, i.e. ``w(1 - w)`` on ``[0, 1]``.
    """

    a_r_plus: float = 0.004
    a_r_minus: float = -0.003
    a_p_plus: float = -0.004
    a_p_minus: float = 0.0005
    w_min: float = 0.2
    w_max: float = 0.8
    soft_bound: bool = True

    def __post_init__(self):
        for name in ("a_r_plus", "a_r_minus", "a_p_plus", "a_p_minus", "w_min", "w_max"):
            check_finite(f"RSTDPParams.{name}", getattr(self, name))
        if not self.w_min < self.w_max:
            raise ParameterError(f"RSTDPParams needs w_min < w_max, got [{self.w_min}, {self.w_max}]")


@njit(cache=True, inline="always")
def stdp_dw(w, causal, alpha_plus, alpha_minus, beta_plus, beta_minus, w_min, w_max):
    """Weight change of one synapse on a learning spike (thesis eq. 3.4, general form).

    ``dw = alpha_plus  * exp(-beta_plus  * (w - w_min) / (w_max - w_min))``  if causal
    ``dw = alpha_minus * exp(-beta_minus * (w_max - w) / (w_max - w_min))``  otherwise
    """
    span = w_max - w_min
    if causal:
        return alpha_plus * math.exp(-beta_plus * (w - w_min) / span)
    if beta_minus == 0.0:
        return alpha_minus
    return alpha_minus * math.exp(-beta_minus * (w_max - w) / span)


@njit(cache=True, inline="always")
def rstdp_dw(w, causal, a_plus, a_minus, w_min, w_max, soft_bound):
    """R-STDP weight change: ``a_plus`` if causal else ``a_minus``, times ``(w-w_min)(w_max-w)/span^2``
    when ``soft_bound``."""
    a = a_plus if causal else a_minus
    if soft_bound:
        span = w_max - w_min
        return a * (w - w_min) * (w_max - w) / (span * span)
    return a


@njit(cache=True, inline="always")
def clip(w, w_min, w_max):
    if w < w_min:
        return w_min
    if w > w_max:
        return w_max
    return w


def stdp_update_reference(w: np.ndarray, causal: np.ndarray, p: STDPParams) -> np.ndarray:
    """Vectorised numpy form of one STDP application (for tests and documentation)."""
    span = p.w_max - p.w_min
    dw_plus = p.alpha_plus * np.exp(-p.beta_plus * (w - p.w_min) / span)
    dw_minus = p.alpha_minus * np.exp(-p.beta_minus * (p.w_max - w) / span)
    return np.clip(w + np.where(causal, dw_plus, dw_minus), p.w_min, p.w_max)
