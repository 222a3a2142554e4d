"""The one place that imports JAX: :func:`require_jax`.

Nothing outside ``stdpnet.backprop`` imports JAX, and inside it JAX is imported lazily, through this
function, so ``import stdpnet.backprop`` (frames, topology, the numba IF simulator) works without
the ``backprop`` extra; only training and the JAX forward passes need it.
"""
from __future__ import annotations

from ..errors import ConfigError

INSTALL_HINT = "install the backprop extra: pip install 'stdpnet[backprop]'"

_configured = False


def require_jax():
    """Return ``(jax, jax.numpy)``, or raise :class:`ConfigError` saying how to install them.

    On first use it sets ``jax_enable_x64 = False`` (float32 everywhere, the usual setting for
    training; a test may still open a local ``with jax.enable_x64(True):`` context).
    """
    global _configured
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as exc:  # also raised when sys.modules['jax'] is None
        raise ConfigError(f"the backprop baselines need JAX, which is not importable ({exc}); "
                          f"{INSTALL_HINT}") from None
    if not _configured:
        jax.config.update("jax_enable_x64", False)
        _configured = True
    return jax, jnp


def require_optax():
    """Return the ``optax`` module, or raise :class:`ConfigError` saying how to install it."""
    require_jax()
    try:
        import optax
    except ImportError as exc:
        raise ConfigError(f"the backprop trainer needs optax, which is not importable ({exc}); "
                          f"{INSTALL_HINT}") from None
    return optax
