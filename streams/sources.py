"""One resolver for every data SOURCE a command or a Python user names.

Grammar (:data:`SOURCE_HELP`)::

    synthetic[:N]              the built-in moving bars (N samples, default 2000; no download)
    nmnist:DIR                 N-MNIST in the official layout DIR/<digit>/*.bin
    mnist:IMAGES:LABELS        MNIST idx files (gzip or not), encoded to events (SPEC section 8)
    PATH/TO/RECORDING.ext      one recording in any supported format: one unlabelled sample, or
                               windows of fixed duration (``window_us``)
    PATH/TO/FOLDER             recordings in any format; labelled by class sub-folders
                               <folder>/<class>/<file>, unlabelled when the files lie in the folder
    udp://HOST:PORT            a live event stream (used by ``stdpnet live`` only)

and, from Python, any data set object (``len``, ``[i] -> (events, target)``, ``sensor_size``), e.g.
a ``tonic.datasets`` instance. :func:`resolve_source` turns one into a :class:`Source` (or a
:class:`LiveSource`); :func:`canonical_source` rewrites the text with absolute paths, so a saved
configuration works from any folder. The data root (:func:`data_root`) is an explicit argument or
``$STDPNET_DATA``; ``../shared/data`` relative to the working directory is only the documented
fallback. Nothing here is ever computed from the package's own location.

This module never imports stdpnet: its errors are :class:`SourceError`, an
:class:`streams.EventStreamError`.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .datasets import EncodedImages, MNISTImages, NMNISTFolder, is_nmnist_folder, stratified_split
from .encoders import PeriodicEncoder
from .events import EventStreamError, SensorSize
from .recordings import UNLABELLED, DatasetAdapter, Recording, RecordingFolder, is_recording
from .synthetic import SyntheticBars

#: Environment variable naming the shared data folder.
DATA_ENV_VAR = "STDPNET_DATA"
#: The documented fallback data folder, relative to the current working directory.
FALLBACK_DATA_DIR = Path("..") / "shared" / "data"
#: Samples of ``synthetic`` without ``:N``.
DEFAULT_SYNTHETIC_SAMPLES = 2000

SOURCE_HELP = ("synthetic[:N] (built-in moving bars, no download), nmnist:DIR (DIR/<digit>/*.bin), "
               "mnist:IMAGES:LABELS (idx files, encoded to events), a recording file in any supported "
               "format (unlabelled), a folder of recordings (labelled by class sub-folders), udp://HOST:PORT "
               "(live, for `stdpnet live`)")

KINDS = ("synthetic", "nmnist", "mnist", "recording", "folder", "udp", "dataset")


class SourceError(EventStreamError):
    """A data SOURCE names nothing usable, is malformed, or does not fit the network."""


def data_root(explicit: Union[str, Path, None] = None) -> Optional[Path]:
    """The shared data folder as an absolute path, or ``None`` when it does not exist.

    ``explicit`` if given, else ``$STDPNET_DATA`` if set, else ``../shared/data`` relative to the
    current working directory (the documented fallback)."""
    if explicit is not None:
        candidate = Path(explicit).expanduser()
    elif os.environ.get(DATA_ENV_VAR):
        candidate = Path(os.environ[DATA_ENV_VAR]).expanduser()
    else:
        candidate = FALLBACK_DATA_DIR
    return candidate.resolve() if candidate.is_dir() else None


# --------------------------------------------------------------------------------------------
# Grammar
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceSpec:
    """A parsed SOURCE text. ``paths`` are absolute; ``text`` is the canonical form."""

    kind: str
    text: str
    paths: Tuple[str, ...] = ()
    n_samples: Optional[int] = None
    host: str = ""
    port: int = 0


def _absolute(path: str, base: Optional[Path]) -> str:
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = (base or Path.cwd()) / p
    return os.path.normpath(str(p))


def parse_source(text: str, base_dir: Union[str, Path, None] = None) -> SourceSpec:
    """Parse SOURCE ``text`` (syntax only; files are not opened). Relative paths are made absolute
    against ``base_dir`` (default: the working directory). Raises :class:`SourceError`."""
    if not isinstance(text, str) or not text.strip():
        raise SourceError(f"empty data source; expected {SOURCE_HELP}")
    text = text.strip()
    base = Path(base_dir) if base_dir is not None else None
    kind, sep, rest = text.partition(":")
    if text.startswith("udp://"):
        hostport = text[len("udp://"):]
        host, sep, port = hostport.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise SourceError(f"data source {text!r}: expected udp://HOST:PORT with a port in 1..65535, "
                              "e.g. udp://127.0.0.1:7777")
        return SourceSpec("udp", f"udp://{hostport}", host=host, port=int(port))
    if kind == "synthetic":
        if not sep:
            return SourceSpec("synthetic", f"synthetic:{DEFAULT_SYNTHETIC_SAMPLES}", n_samples=DEFAULT_SYNTHETIC_SAMPLES)
        if not rest.isdigit() or int(rest) < 1:
            raise SourceError(f"data source {text!r}: N in synthetic:N must be a whole number >= 1, e.g. synthetic:200")
        return SourceSpec("synthetic", f"synthetic:{int(rest)}", n_samples=int(rest))
    if kind == "nmnist":
        if not rest:
            raise SourceError(f"data source {text!r}: give the folder, e.g. nmnist:../shared/data/nmnist/Train")
        folder = _absolute(rest, base)
        return SourceSpec("nmnist", f"nmnist:{folder}", paths=(folder,))
    if kind == "mnist":
        parts = rest.split(":")
        if len(parts) != 2 or not all(parts):
            raise SourceError(f"data source {text!r}: expected mnist:IMAGES:LABELS (two idx files, gzip or not)")
        images, labels = (_absolute(p, base) for p in parts)
        return SourceSpec("mnist", f"mnist:{images}:{labels}", paths=(images, labels))
    path = _absolute(text, base)
    if not Path(path).exists():
        if sep and kind.isidentifier() and "/" not in kind:
            raise SourceError(f"unknown data source {text!r}: no source kind {kind!r} and no such file or "
                              f"folder; expected {SOURCE_HELP}")
        raise SourceError(f"data source {text!r}: no such file or folder ({path})")
    return SourceSpec("folder" if Path(path).is_dir() else "recording", path, paths=(path,))


def canonical_source(text: str, base_dir: Union[str, Path, None] = None) -> str:
    """``text`` with absolute paths (see :func:`parse_source`)."""
    return parse_source(text, base_dir).text


# --------------------------------------------------------------------------------------------
# Resolved sources
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LiveSource:
    """A live UDP event stream; the receiver is built by ``stdpnet live``."""

    text: str
    host: str
    port: int
    kind: str = "udp"


@dataclass
class Source:
    """A resolved, recorded data source.

    ``dataset``: ``len``, ``[i] -> (events, label)``, ``labels``, ``sensor_size``. ``labelled``:
    whether labels mean classes (unlabelled samples carry -1). ``sample_ids``: a stable name per
    sample (a file's path relative to the folder) when the samples are files, else ``None`` (the
    index is the name).
    """

    text: str
    kind: str
    dataset: Any
    labelled: bool
    sample_ids: Optional[List[str]] = None

    @property
    def sensor_size(self) -> SensorSize:
        return tuple(int(v) for v in self.dataset.sensor_size)

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.dataset.labels, np.int64)

    @property
    def n_classes(self) -> int:
        """``max label + 1`` (0 for an unlabelled source)."""
        return int(self.labels.max()) + 1 if self.labelled and len(self.labels) else 0

    def __len__(self) -> int:
        return len(self.dataset)

    def fingerprint(self) -> dict:
        """What identifies the data: kind, canonical text, sample count, and SHA-256 hashes of the
        labels and of the sample names (files)."""
        fp = {"kind": self.kind, "text": self.text, "samples": len(self),
              "labels_sha256": hashlib.sha256(self.labels.astype("<i8").tobytes()).hexdigest()}
        if self.sample_ids is not None:
            fp["ids_sha256"] = hashlib.sha256("\n".join(self.sample_ids).encode()).hexdigest()
        return fp

    def split(self, val_fraction: float, seed: int = 0, max_train: Optional[int] = None,
              max_val: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Seeded ``(train, validation)`` index arrays, stratified by class. ``val_fraction = 0``
        (and every unlabelled source) gives no validation samples. ``max_*`` keep a seeded random
        subset (sorted)."""
        if not 0.0 <= float(val_fraction) < 1.0:
            raise SourceError(f"val_fraction must be in [0, 1), got {val_fraction}")
        if val_fraction == 0 or not self.labelled:
            train, val = np.arange(len(self), dtype=np.int64), np.zeros(0, np.int64)
        else:
            train, val = stratified_split(self.labels, 1.0 - float(val_fraction), seed)
        return _take(train, max_train, seed), _take(val, max_val, seed + 1)

    def locate(self, ids: Sequence[str]) -> np.ndarray:
        """Current indices of the samples named ``ids`` (see :attr:`sample_ids`); raises
        :class:`SourceError` naming the first missing ones."""
        if self.sample_ids is None:
            raise SourceError(f"{self.text}: its samples have no names; use indices")
        where = {name: i for i, name in enumerate(self.sample_ids)}
        missing = [name for name in ids if name not in where]
        if missing:
            raise SourceError(f"{self.text}: {len(missing)} sample(s) of the stored split are gone, e.g. "
                              f"{missing[:3]}; restore them or start a new run")
        return np.fromiter((where[name] for name in ids), np.int64, len(ids))


def _take(indices: np.ndarray, n: Optional[int], seed: int) -> np.ndarray:
    if n is None or n >= len(indices):
        return indices
    return np.sort(np.random.default_rng(seed).choice(indices, size=int(n), replace=False))


def resolve_source(source: Any, *, seed: int = 0, window_us: Optional[int] = None,
                   synthetic_sensor: Optional[SensorSize] = None,
                   base_dir: Union[str, Path, None] = None) -> Union[Source, LiveSource]:
    """A :class:`Source` (or :class:`LiveSource`) from a SOURCE text, a :class:`SourceSpec`, or a
    data set object.

    ``seed``: seeds the synthetic generator and the MNIST encoder. ``window_us``: cut a single
    recording into windows of that many microseconds. ``synthetic_sensor``: the sensor the moving
    bars are drawn on (default 16x16x2). Errors from opening the data are :class:`SourceError` or
    :class:`EventStreamError` naming the file.
    """
    if not isinstance(source, (str, SourceSpec)):
        try:
            adapter = DatasetAdapter(source)
        except EventStreamError as error:
            raise SourceError(str(error)) from None
        return Source(f"<{type(source).__name__}>", "dataset", adapter, adapter.labelled)
    spec = source if isinstance(source, SourceSpec) else parse_source(source, base_dir)
    if spec.kind == "udp":
        return LiveSource(spec.text, spec.host, spec.port)
    if spec.kind == "synthetic":
        kw = {"sensor_size": tuple(synthetic_sensor)} if synthetic_sensor is not None else {}
        try:
            bars = SyntheticBars(n_samples=spec.n_samples, seed=seed, **kw)
        except ValueError as error:
            raise SourceError(f"data source {spec.text!r}: {error}") from None
        return Source(spec.text, "synthetic", bars, True)
    if spec.kind == "nmnist":
        ds = NMNISTFolder(spec.paths[0])
        return Source(spec.text, "nmnist", ds, True, [p.relative_to(ds.root).as_posix() for p in ds.paths])
    if spec.kind == "mnist":
        images = MNISTImages(*spec.paths)
        return Source(spec.text, "mnist", EncodedImages(images.images, images.labels, PeriodicEncoder(), seed=seed), True)
    path = Path(spec.paths[0])
    if spec.kind == "folder":
        if _only_nmnist_bins(path):
            ds = NMNISTFolder(path)
            return Source(f"nmnist:{path}", "nmnist", ds, True, [p.relative_to(ds.root).as_posix() for p in ds.paths])
        ds = RecordingFolder(path)
        return Source(spec.text, "folder", ds, ds.labelled, list(ds.sample_ids))
    rec = Recording(path, window_us=window_us)
    return Source(spec.text, "recording", rec, False)


def _only_nmnist_bins(path: Path) -> bool:
    """A folder in the official N-MNIST layout: digit sub-folders holding .bin files only."""
    if not is_nmnist_folder(path) or any(is_recording(p) for p in path.iterdir()):
        return False
    return all(p.suffix.lower() == ".bin" for d in path.iterdir() if d.is_dir() for p in d.iterdir()
               if is_recording(p))


def require_recorded(source: Union[Source, LiveSource], command: str) -> Source:
    """``source`` if it is recorded; a :class:`SourceError` for a live one (only ``stdpnet live`` reads those)."""
    if isinstance(source, LiveSource):
        raise SourceError(f"{source.text} is a live source: live sources are used by `stdpnet live`, "
                          f"not by `stdpnet {command}`; record the stream to a file first")
    return source


def check_sensor(source_sensor: SensorSize, network_sensor: SensorSize, *, source: str = "data",
                 network: str = "the network", fits: Mapping[str, SensorSize] = ()) -> None:
    """The one sensor check: raise :class:`SourceError` if ``source_sensor`` differs from
    ``network_sensor``, naming both and the networks (``fits``: name -> sensor) that would fit."""
    a, b = tuple(int(v) for v in source_sensor), tuple(int(v) for v in network_sensor)
    if a == b:
        return
    W, H, P = a
    matching = [name for name, s in dict(fits).items() if tuple(s) == a]
    advice = (f"use --net {' or --net '.join(matching)}" if matching else
              "no preset fits it")
    raise SourceError(
        f"data {source!r} has sensor {W}x{H}x{P} but network {network!r} expects "
        f"{'x'.join(map(str, b))}; {advice}, or a spec string starting with {W}x{H}x{P}- "
        f"(e.g. --net {W}x{H}x{P}-16C5-P2-100)")


__all__ = ["DATA_ENV_VAR", "FALLBACK_DATA_DIR", "KINDS", "LiveSource", "SOURCE_HELP", "Source", "SourceError",
           "SourceSpec", "UNLABELLED", "canonical_source", "check_sensor", "data_root", "parse_source",
           "require_recorded", "resolve_source"]
