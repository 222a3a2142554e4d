"""Keep numba's on-disk cache of the kernels in step with their sources.

numba keys a cached function on the modification time and size of the one file that defines it,
not on the files it calls into: after an edit to ``delivery.py`` alone, ``tick.run_ticks`` (which
compiles ``deliver`` into itself) would load its stale machine code from the cache, silently running
the old arithmetic. So at import, the kernels hash every source they are compiled from; when the
hash differs from the one stamped beside the cache, the cached kernels are dropped and recompiled.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# every file whose njit functions end up compiled into the kernels
_SOURCES = sorted(_HERE.glob("*.py")) + [_HERE.parent / "rules.py"]
_STAMP = "kernels-sources.sha256"


def _cache_dirs():
    """Where numba keeps the cache of functions defined in ``dir`` (see numba.core.caching)."""
    dirs = {_HERE / "__pycache__", _HERE.parent / "__pycache__"}
    user_dir = os.environ.get("NUMBA_CACHE_DIR")
    if user_dir:
        for d in (_HERE, _HERE.parent):
            dirs.add(Path(user_dir) / str(d).lstrip(os.sep))
    return dirs


def sources_digest() -> str:
    h = hashlib.sha256()
    for p in _SOURCES:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def drop_stale_cache() -> bool:
    """Remove the cached kernels when their sources changed since they were cached; returns whether
    anything was dropped. Never raises: a read-only or absent cache is simply left alone."""
    try:
        digest = sources_digest()
    except OSError:
        return False
    dropped = False
    for d in _cache_dirs():
        try:
            stamp = d / _STAMP
            if stamp.is_file() and stamp.read_text().strip() == digest:
                continue
            if d.is_dir():
                for f in list(d.glob("*.nbi")) + list(d.glob("*.nbc")):
                    f.unlink()
                    dropped = True
                stamp.write_text(digest)
        except OSError:
            continue
    return dropped
