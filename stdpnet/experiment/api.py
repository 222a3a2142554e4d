"""Calls that experiments (sweeps, comparisons) make on a whole training run."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional


def train_from_overrides(base: str, data: Optional[str], base_config: Optional[str], overrides: Dict[str, Any],
                         seed: int, out: Path, progress: bool = False) -> Dict[str, Any]:
    """Train one run: preset/spec ``base`` (or the config file ``base_config``) with nested
    ``overrides`` (``{"layers": {...}, "training": {...}}``), quietly, without figures."""
    from ..spec import _merge, load_config_file
    from ..training import build_config, train

    file_cfg = load_config_file(base_config) if base_config else {}
    merged = _merge(file_cfg, overrides)
    config = build_config(net=base or merged.pop("net", "synthetic"), data=data, seed=seed, config_file=merged)
    return train(config, out, progress=progress, make_plots=False)
