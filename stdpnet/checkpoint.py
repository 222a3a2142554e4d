"""Checkpoints: a nested state dict in, a single ``.npz`` file out, and back.

Arrays are stored under their key path (``layers/conv1/w``); everything else (numbers, strings,
parameter dicts) goes into one JSON document, so a checkpoint is readable without stdpnet.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Union

import numpy as np

from .errors import CheckpointError

FORMAT = "stdpnet-checkpoint-1"


def _split(tree: Any, prefix: str, arrays: Dict[str, np.ndarray]) -> Any:
    if isinstance(tree, dict):
        return {k: _split(v, f"{prefix}/{k}" if prefix else str(k), arrays) for k, v in tree.items()}
    if isinstance(tree, np.ndarray):
        arrays[prefix] = tree
        return {"__array__": prefix}
    if isinstance(tree, np.generic):
        return tree.item()
    if isinstance(tree, (list, tuple)):
        return [_split(v, f"{prefix}/{i}", arrays) for i, v in enumerate(tree)]
    return tree


def _join(tree: Any, arrays) -> Any:
    if isinstance(tree, dict):
        if set(tree) == {"__array__"}:
            return np.array(arrays[tree["__array__"]])
        return {k: _join(v, arrays) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_join(v, arrays) for v in tree]
    return tree


def save(path: Union[str, Path], state: Dict[str, Any]) -> Path:
    """Write ``state`` atomically (a temporary file renamed into place, so Ctrl-C never leaves half a file)."""
    path = Path(path)
    arrays: Dict[str, np.ndarray] = {}
    meta = _split(state, "", arrays)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, __meta__=np.array(json.dumps({"format": FORMAT, "state": meta})), **arrays)
    os.replace(tmp, path)
    return path


def load(path: Union[str, Path]) -> Dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["__meta__"]))
            if meta.get("format") != FORMAT:
                raise CheckpointError(f"{path}: not a stdpnet checkpoint (format {meta.get('format')!r})")
            return _join(meta["state"], {k: z[k] for k in z.files if k != "__meta__"})
    except CheckpointError:
        raise
    except Exception as e:  # zipfile/json errors: truncated or foreign file
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(e).__name__}: {e})") from None
