"""The run directory: the truth about a run, on disk.

Files (all written atomically: a ``.tmp`` file renamed into place):

- ``config.json``   the run's :class:`~stdpnet.experiment.config.RunConfig` (``--config`` takes it back);
- ``meta.json``     versions (stdpnet, numpy, numba, python), git commit, creation time, command line;
- ``split.json``    the exact train/validation samples (indices, and file names when the samples are
                    files) and a fingerprint of the data; ``eval`` and ``--resume`` never re-derive it;
- ``checkpoint.npz`` network + readout + progress (periodic, and at every stop);
- ``metrics.json``  training summary and running-accuracy curve; ``eval.json``: validation report;
- ``plots/``        figures; ``.lock``: held (``fcntl``) while a run writes here.

A second run into a locked directory is refused (:class:`~stdpnet.errors.RunDirError`); leftover
``*.tmp`` files of a killed run are removed when the directory is opened for writing.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np

from .. import checkpoint
from ..errors import CheckpointError, ConfigError, RunDirError
from .config import RunConfig

CONFIG_FILE = "config.json"
META_FILE = "meta.json"
SPLIT_FILE = "split.json"
CHECKPOINT_FILE = "checkpoint.npz"
METRICS_FILE = "metrics.json"
EVAL_FILE = "eval.json"
LOCK_FILE = ".lock"
PLOTS_DIR = "plots"

PathLike = Union[str, Path]


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def _disk_error(path: Path, error: OSError, what: str) -> RunDirError:
    if error.errno == errno.ENOSPC:
        return RunDirError(f"disk full while writing {path}: {what} not saved (the previous one is intact); "
                           "free some space and run again (with --resume for a run)")
    return RunDirError(f"cannot write {path}: {error.strerror or error}; {what} not saved (the previous one is intact)")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through ``path.tmp`` + rename; on failure the old file is intact
    and the temporary file removed."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as e:
        _remove(tmp)
        raise _disk_error(path, e, path.name) from None


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def git_commit(folder: Path) -> Optional[str]:
    """The commit of the git work tree holding ``folder`` (``+dirty`` when it has changes), or None."""
    try:
        out = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if out.returncode != 0:
            return None
        commit = out.stdout.strip()
        status = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=5)
        return commit + ("+dirty" if status.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def run_metadata() -> Dict[str, Any]:
    """Versions, git commit, time and command line of this process (for ``meta.json``)."""
    import numba

    import stdpnet

    return {
        "stdpnet": stdpnet.__version__, "numpy": np.__version__, "numba": numba.__version__,
        "python": platform.python_version(), "platform": platform.platform(),
        "git_commit": git_commit(Path(stdpnet.__file__).resolve().parent),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": list(sys.argv),
    }


@dataclass
class StoredSplit:
    """The samples a run trains and validates on. ``train``/``val``: indices into the source as it
    was; ``train_ids``/``val_ids``: the samples' names (files) when they have names, so files added
    later never move a sample from one side to the other; ``fingerprint``: the data's identity."""

    train: np.ndarray
    val: np.ndarray
    fingerprint: Dict[str, Any]
    train_ids: Optional[List[str]] = None
    val_ids: Optional[List[str]] = None
    notes: List[str] = field(default_factory=list)

    @classmethod
    def of(cls, source, train: np.ndarray, val: np.ndarray) -> "StoredSplit":
        ids = source.sample_ids
        return cls(np.asarray(train, np.int64), np.asarray(val, np.int64), source.fingerprint(),
                   [ids[i] for i in train] if ids is not None else None,
                   [ids[i] for i in val] if ids is not None else None)

    def to_dict(self) -> Dict[str, Any]:
        return {"fingerprint": self.fingerprint, "train": self.train.tolist(), "val": self.val.tolist(),
                "train_ids": self.train_ids, "val_ids": self.val_ids}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "StoredSplit":
        return cls(np.asarray(d["train"], np.int64), np.asarray(d["val"], np.int64), d["fingerprint"],
                   d.get("train_ids"), d.get("val_ids"))

    def indices_in(self, source) -> "StoredSplit":
        """This split's samples located in ``source`` as it is now. Samples with names are found by
        name (files added since are ignored: noted); others need the same fingerprint."""
        from streams.sources import SourceError as StreamSourceError

        if self.train_ids is not None and source.sample_ids is not None:
            try:
                train, val = source.locate(self.train_ids), source.locate(self.val_ids)
            except StreamSourceError as e:
                raise RunDirError(f"the run's data changed: {e}") from None
            notes = []
            if len(source) != self.fingerprint.get("samples"):
                notes.append(f"the data now has {len(source)} samples ({len(source) - self.fingerprint['samples']:+d} "
                             "since the run started); the stored split is used, new samples are left out")
            return StoredSplit(train, val, self.fingerprint, self.train_ids, self.val_ids, notes)
        now = source.fingerprint()
        keys = ("samples", "labels_sha256")
        if any(now.get(k) != self.fingerprint.get(k) for k in keys):
            raise RunDirError(
                f"the run's data changed: it had {self.fingerprint.get('samples')} samples (labels hash "
                f"{str(self.fingerprint.get('labels_sha256'))[:12]}), {source.text} now has {now['samples']} "
                f"(labels hash {now['labels_sha256'][:12]}); restore the data or start a new run")
        return StoredSplit(self.train, self.val, self.fingerprint, None, None)


class RunDir:
    """A run directory. :meth:`create` makes a new one (refusing an existing run), :meth:`open` an
    existing one; with ``lock=True`` the directory is locked for this process until :meth:`close`
    (also a context manager)."""

    def __init__(self, path: PathLike):
        self.path = Path(path)
        self._lock_fh = None

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # -- life cycle ---------------------------------------------------------------------------
    @classmethod
    def create(cls, path: PathLike, config: RunConfig) -> "RunDir":
        d = cls(path)
        if (d.path / CONFIG_FILE).exists() or (d.path / CHECKPOINT_FILE).exists():
            raise RunDirError(f"{d.path} already holds a run; pass --resume {d.path} to continue it, "
                              "or choose another --out")
        try:
            d.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunDirError(f"cannot create the run directory {d.path}: {e.strerror or e}") from None
        d.lock()
        d.write_json(CONFIG_FILE, config.to_dict())
        d.write_json(META_FILE, run_metadata())
        return d

    @classmethod
    def open(cls, path: PathLike, *, lock: bool = True) -> "RunDir":
        d = cls(path)
        if not d.path.is_dir():
            raise RunDirError(f"run directory {d.path} does not exist")
        if not (d.path / CONFIG_FILE).exists():
            raise RunDirError(f"{d.path} is not a stdpnet run directory (no {CONFIG_FILE})")
        if lock:
            d.lock()
            d.clean_tmp()
        return d

    def lock(self) -> None:
        """Take the directory's lock; :class:`RunDirError` if another process holds it."""
        if self._lock_fh is not None:
            return
        fh = open(self.path / LOCK_FILE, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise RunDirError(f"{self.path} is in use by another run (locked); wait for it to finish, "
                              "or choose another --out") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._lock_fh = fh

    def close(self) -> None:
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def __enter__(self) -> "RunDir":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def clean_tmp(self) -> List[Path]:
        """Remove partial ``*.tmp`` files left by a killed run; returns them."""
        removed = [p for p in self.path.glob("*.tmp") if p.is_file() or p.is_symlink()]
        for p in removed:
            _remove(p)
        return removed

    # -- files --------------------------------------------------------------------------------
    def write_json(self, name: str, data: Dict[str, Any], indent: Optional[int] = 1) -> Path:
        path = self.path / name
        write_atomic(path, json.dumps(data, indent=indent, default=_json_default).encode())
        return path

    def read_json(self, name: str) -> Dict[str, Any]:
        path = self.path / name
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise RunDirError(f"{self.path} lacks {name}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RunDirError(f"{path} is damaged ({e}); the run cannot be used") from None

    def config(self) -> RunConfig:
        d = self.read_json(CONFIG_FILE)
        try:
            return RunConfig.from_dict(d, where=str(self.path / CONFIG_FILE))
        except ConfigError as e:
            raise RunDirError(f"{e}; was the run made by another stdpnet version? (see {META_FILE})") from None

    def meta(self) -> Dict[str, Any]:
        return self.read_json(META_FILE)

    def save_split(self, split: StoredSplit) -> None:
        self.write_json(SPLIT_FILE, split.to_dict(), indent=None)  # long index lists: one line

    def load_split(self) -> StoredSplit:
        return StoredSplit.from_dict(self.read_json(SPLIT_FILE))

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT_FILE

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.exists()

    def save_checkpoint(self, state: Dict[str, Any]) -> Path:
        """Write the checkpoint atomically; a full disk is one :class:`RunDirError` and the previous
        checkpoint stays intact."""
        path = self.checkpoint_path
        try:
            return checkpoint.save(path, state)
        except OSError as e:
            _remove(path.with_name(path.name + ".tmp"))
            raise _disk_error(path, e, "checkpoint") from None

    def load_checkpoint(self) -> Dict[str, Any]:
        try:
            return checkpoint.load(self.checkpoint_path)
        except CheckpointError as e:
            raise RunDirError(f"{e}") from None

    @property
    def plots_dir(self) -> Path:
        return self.path / PLOTS_DIR
