"""Calls that experiments (sweeps, comparisons) make on a whole training run."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional


def train_from_overrides(base: str, data: Optional[str], base_config: Optional[str], overrides: Dict[str, Any],
                         seed: int, out: Path, progress: bool = False) -> Dict[str, Any]:
    """Train one run: preset/spec ``base`` (or the config file ``base_config``) with nested
    ``overrides`` in the config file's layout (``{"layers": {...}, "training": {...}, "readout": {...}}``),
    quietly, without figures."""
    from .config import cli_layer, load_config_file, merge_config
    from .protocol import train

    layers = [("sweep base config", load_config_file(base_config))] if base_config else []
    layers += [("sweep overrides", overrides), ("sweep trial", cli_layer(net=base or None, data=data, seed=seed))]
    config = merge_config(*layers)
    return train(config, out, progress=progress, make_plots=False)
