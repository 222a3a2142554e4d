"""Labelled data sets: N-MNIST recordings on disk, MNIST images, and images encoded as events.

A labelled data set here is anything with ``__len__``, ``__getitem__(i) -> (events, label)``, a
``labels`` array (int64, one per sample, readable without decoding samples), ``classes`` and
``sensor_size``; :class:`LabelledDataset` adds :meth:`~LabelledDataset.subset` and a stratified
:meth:`~LabelledDataset.split`. A data set may also declare ``duration_us``: then every sample's
events lie in ``[0, duration_us)`` and :class:`streams.LabelledStream` gives each sample exactly
that much stream time.
"""
from __future__ import annotations

import gzip
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from .events import EventStreamError, EventStreamWarning, SensorSize
from .readers import NMNIST_SENSOR_SIZE, read_events

PathLike = Union[str, Path]

#: Environment variable naming the shared data folder (overrides the default location).
DATA_ENV_VAR = "STDPNET_DATA"


def data_root(explicit: Optional[PathLike] = None) -> Optional[Path]:
    """The shared data folder, or ``None`` when it is absent: ``explicit``, else ``$STDPNET_DATA``,
    else ``../shared/data`` relative to the working directory (see :func:`streams.sources.data_root`)."""
    from .sources import data_root as resolve_root  # sources imports this module

    return resolve_root(explicit)


# --------------------------------------------------------------------------------------------
# Common behaviour: subsets and stratified splits
# --------------------------------------------------------------------------------------------
def stratified_split(
    labels: Sequence[int], fraction_or_n: Union[float, int], seed: int = 0
) -> Tuple[np.ndarray, np.ndarray]:
    """Split sample indices into two disjoint index arrays with the same class proportions.

    ``fraction_or_n``: a float in (0, 1) is the fraction of every class that goes to the first
    part; an int is the total size of the first part, shared among classes in proportion to their
    size (largest remainders get the leftover samples). The choice within each class is random
    with ``seed``; both returned arrays are sorted (shuffle the stream, not the split).
    """
    labels = np.asarray(labels)
    n = len(labels)
    classes, counts = np.unique(labels, return_counts=True)
    if isinstance(fraction_or_n, (float, np.floating)):
        if not 0.0 < fraction_or_n < 1.0:
            raise ValueError(f"a split fraction must be in (0, 1), got {fraction_or_n}")
        target = fraction_or_n * counts
    elif isinstance(fraction_or_n, (int, np.integer)):
        if not 0 <= fraction_or_n <= n:
            raise ValueError(f"a split size must be in [0, {n}], got {fraction_or_n}")
        target = fraction_or_n * counts / max(n, 1)
    else:
        raise TypeError(f"fraction_or_n must be a float fraction or an int count, got {fraction_or_n!r}")
    per_class = np.floor(target).astype(np.int64)
    wanted = int(round(float(target.sum())))
    leftover = wanted - int(per_class.sum())
    if leftover > 0:  # largest remainders first, ties by class order
        order = np.argsort(-(target - per_class), kind="stable")
        per_class[order[:leftover]] += 1
    rng = np.random.default_rng(seed)
    first = []
    for cls, k in zip(classes, per_class):
        members = np.flatnonzero(labels == cls)
        first.append(rng.choice(members, size=int(k), replace=False))
    first_indices = np.sort(np.concatenate(first)) if first else np.zeros(0, np.int64)
    mask = np.ones(n, dtype=bool)
    mask[first_indices] = False
    return first_indices.astype(np.int64), np.flatnonzero(mask).astype(np.int64)


class LabelledDataset:
    """Mixin for labelled data sets: :meth:`subset` and stratified :meth:`split`.

    Subclasses provide ``__len__``, ``__getitem__``, ``labels`` and ``sensor_size``.
    """

    labels: np.ndarray
    sensor_size: SensorSize

    @property
    def classes(self) -> List[int]:
        """Sorted distinct labels."""
        return [int(c) for c in np.unique(self.labels)]

    def subset(self, indices: Sequence[int]) -> "Subset":
        """A view on the samples ``indices`` (in that order), re-indexed from 0."""
        return Subset(self, indices)

    def split(self, fraction_or_n: Union[float, int], seed: int = 0) -> Tuple["Subset", "Subset"]:
        """Two disjoint subset views, stratified by class; see :func:`stratified_split`.

        Their ``indices`` attributes are the index lists into this data set.
        """
        first, second = stratified_split(self.labels, fraction_or_n, seed)
        return Subset(self, first), Subset(self, second)


class Subset(LabelledDataset):
    """The samples ``indices`` of ``dataset``, as a labelled data set of its own."""

    def __init__(self, dataset, indices: Sequence[int]):
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if len(indices) and (indices.min() < -n or indices.max() >= n):
            raise IndexError(f"subset indices must be in [0, {n}), got range [{indices.min()}, {indices.max()}]")
        self.dataset = dataset
        self.indices = np.where(indices < 0, indices + n, indices)
        self.labels = np.asarray(dataset.labels)[self.indices]
        self.sensor_size = dataset.sensor_size
        if hasattr(dataset, "duration_us"):
            self.duration_us = dataset.duration_us

    @property
    def paths(self) -> List[Path]:
        """File of each sample, when the underlying data set has files."""
        return [self.dataset.paths[i] for i in self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        return self.dataset[int(self.indices[i])]

    def __repr__(self) -> str:
        return f"Subset({self.dataset!r}, {len(self)} samples)"


# --------------------------------------------------------------------------------------------
# N-MNIST
# --------------------------------------------------------------------------------------------
#: Names of the class folders of an N-MNIST-layout folder: one digit each.
NMNIST_CLASS_FOLDERS = tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class SkippedFile:
    """A recording left out of a data set (``NMNISTFolder(on_bad="skip")``) and why."""

    path: Path
    reason: str


def _list_dir(path: Path) -> List[Path]:
    try:
        return sorted(path.iterdir())
    except OSError as error:
        raise EventStreamError(f"{path}: cannot list the folder: {error.strerror or error}.") from None


def _class_folders(root: Path) -> List[Path]:
    """The class folders ``root/0`` .. ``root/9``, after checking the layout.

    Hidden folders (``.ipynb_checkpoints``, ``.git``...) are ignored. Once ``root`` has class
    folders, any other visible sub-folder (``10``, ``07``, ``x``) is an error naming it: it is
    neither silently taken as a class (nor merged into one: ``07`` is not ``7``) nor ignored.
    """
    folders = [e for e in _list_dir(root) if e.is_dir() and not e.name.startswith(".")]
    classes = [f for f in folders if f.name in NMNIST_CLASS_FOLDERS]
    others = [f for f in folders if f.name not in NMNIST_CLASS_FOLDERS]
    if not classes:
        hint = ""
        splits = [f.name for f in others if f.name in ("Train", "Test")]
        if splits:
            hint = f" It has {splits}: pass {root / splits[0]} instead."
        elif others:
            hint = (f" Its sub-folders ({', '.join(f.name for f in others[:5])}) are not class folders: "
                    "those are named with one digit, 0 to 9.")
        raise EventStreamError(
            f"{root}: not an N-MNIST folder: no digit sub-folders 0..9 holding .bin files.{hint}"
        )
    if others:
        raise EventStreamError(
            f"{others[0]}: not an N-MNIST class folder: class folders are named 0 to 9 (one digit, the "
            f"label), and {root} has {len(others)} other folder(s). Move or rename them."
        )
    return classes


class NMNISTFolder(LabelledDataset):
    """N-MNIST recordings in the official layout ``root/<digit>/<id>.bin`` (e.g. ``N-MNIST/Train``).

    Class folders are exactly ``0`` .. ``9`` (the label); any other visible sub-folder of ``root``
    (``10``, ``07``, ``x``) is an :class:`EventStreamError` naming it. Files are listed once,
    sorted by digit then file name, so indices are deterministic. ``dataset[i]`` reads recording
    ``i`` and returns ``(events, label)``; timestamps are as recorded (microseconds from the start
    of the recording).

    ``on_bad``:

    * ``"raise"`` (default) and ``"drop"`` are passed to :func:`streams.read_events` when a
      recording is read (``"drop"`` drops bad events inside a recording, with a warning);
    * ``"skip"`` reads every recording once, here, and leaves out those that cannot be read
      cleanly (truncated, corrupt, events outside the sensor...): ``skipped`` lists them as
      :class:`SkippedFile` ``(path, reason)``, with one :class:`EventStreamWarning` giving the
      count. This costs one pass over the files (about 0.4 ms per N-MNIST recording).
    """

    sensor_size: SensorSize = NMNIST_SENSOR_SIZE

    def __init__(self, root: PathLike, on_bad: str = "raise"):
        if on_bad not in ("raise", "drop", "skip"):
            raise ValueError(f"on_bad must be 'raise', 'drop' or 'skip', got {on_bad!r}")
        root = Path(root)
        if not root.is_dir():
            raise EventStreamError(f"{root}: N-MNIST folder not found (expected root/<digit>/<id>.bin).")
        digit_dirs = _class_folders(root)
        paths: List[Path] = []
        labels: List[int] = []
        for digit_dir in digit_dirs:
            files = [p for p in _list_dir(digit_dir)
                     if p.suffix == ".bin" and not p.name.startswith(".") and not p.is_dir()]
            paths.extend(files)
            labels.extend([int(digit_dir.name)] * len(files))
        if not paths:
            raise EventStreamError(f"{root}: the digit folders hold no .bin recordings.")
        self.root = root
        self.on_bad = on_bad
        self.skipped: List[SkippedFile] = []
        if on_bad == "skip":
            paths, labels = self._without_unreadable(paths, labels)
        self.paths: List[Path] = paths
        self.labels = np.asarray(labels, dtype=np.int64)

    def _without_unreadable(self, paths: List[Path], labels: List[int]) -> Tuple[List[Path], List[int]]:
        kept_paths, kept_labels = [], []
        for path, label in zip(paths, labels):
            try:
                read_events(path, sensor_size=self.sensor_size, on_bad="raise")
            except EventStreamError as error:
                self.skipped.append(SkippedFile(path, str(error)))
                continue
            kept_paths.append(path)
            kept_labels.append(label)
        if self.skipped:
            warnings.warn(
                f"{self.root}: skipped {len(self.skipped)} of {len(paths)} recording(s) that cannot be "
                f"read (first: {self.skipped[0].reason}); see dataset.skipped",
                EventStreamWarning,
                stacklevel=3,
            )
        if not kept_paths:
            raise EventStreamError(
                f"{self.root}: none of the {len(paths)} recordings can be read (first: "
                f"{self.skipped[0].reason})."
            )
        return kept_paths, kept_labels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Tuple[np.ndarray, int]:
        on_bad = "raise" if self.on_bad == "skip" else self.on_bad
        events, _ = read_events(self.paths[i], sensor_size=self.sensor_size, on_bad=on_bad)
        return events, int(self.labels[i])

    def __repr__(self) -> str:
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        return f"NMNISTFolder({str(self.root)!r}, {len(self)} recordings{skipped}, classes {self.classes})"


def is_nmnist_folder(path: PathLike) -> bool:
    """True if ``path`` is a directory with at least one class folder ``0`` .. ``9`` holding a
    .bin file (other sub-folders are reported by :class:`NMNISTFolder`, not here)."""
    path = Path(path)
    if not path.is_dir():
        return False
    try:
        return any(d.is_dir() and d.name in NMNIST_CLASS_FOLDERS and any(d.glob("*.bin")) for d in path.iterdir())
    except OSError:
        return False


# --------------------------------------------------------------------------------------------
# MNIST images
# --------------------------------------------------------------------------------------------
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or not, into an ndarray.

    Layout: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, each dimension as a big-endian uint32,
    then the data, big-endian, row-major. Multi-byte types are returned in native byte order.
    A file cut anywhere (header, dimensions or data) raises :class:`EventStreamError`.
    """
    path = Path(path)
    if not path.is_file():
        raise EventStreamError(f"{path}: IDX file not found.")
    try:
        with open(path, "rb") as f:
            compressed = f.read(2) == b"\x1f\x8b"
        opener = gzip.open if compressed else open
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as error:  # gzip.BadGzipFile is an OSError
        what = "decompress gzip IDX file" if compressed else "read IDX file"
        raise EventStreamError(f"{path}: cannot {what}: {error}") from error
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise EventStreamError(
            f"{path}: not an IDX file: the header must be 0x00 0x00 <type code> <ndim>, got {data[:4]!r}."
        )
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise EventStreamError(
            f"{path}: truncated IDX file: the header announces {ndim} dimensions ({header_bytes} header "
            f"bytes) but the file has {len(data)} bytes."
        )
    shape = tuple(int(v) for v in np.frombuffer(data[4:header_bytes], dtype=">u4"))
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow on corrupt dimensions
    if len(data) - header_bytes != expected:
        raise EventStreamError(
            f"{path}: truncated or corrupt IDX file: shape {shape} of {dtype} needs {expected} data "
            f"bytes, found {len(data) - header_bytes}."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_bytes).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def check_labels(labels: np.ndarray, n_classes: Optional[int], source: str) -> np.ndarray:
    """``labels`` as int64 after checking each is a whole number in ``[0, n_classes)`` (or ``>= 0``
    when ``n_classes`` is None).

    Raises :class:`EventStreamError` naming ``source``, the first bad index and its value."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise EventStreamError(f"{source}: labels must be a 1-D array, got shape {labels.shape}.")
    if labels.dtype.kind == "f":
        whole = np.isfinite(labels) & (labels == np.floor(labels))
        if not whole.all():
            i = int(np.flatnonzero(~whole)[0])
            raise EventStreamError(f"{source}: label {i} is {labels[i].item()!r}, not a whole class number.")
    elif labels.dtype.kind not in "iub":
        raise EventStreamError(f"{source}: labels must be whole class numbers, got type {labels.dtype}.")
    outside = labels < 0
    if n_classes is not None:
        outside |= labels >= n_classes
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        allowed = f"the classes 0..{n_classes - 1}" if n_classes is not None else "class numbers >= 0"
        raise EventStreamError(
            f"{source}: label {i} is {labels[i].item()!r}, outside {allowed} ({int(outside.sum())} such "
            "label(s)); the labels are corrupt or belong to another data set (pass n_classes= if it has "
            "more classes)."
        )
    if labels.dtype.kind == "u" and len(labels) and int(labels.max()) > np.iinfo(np.int64).max:
        raise EventStreamError(f"{source}: labels exceed int64.")
    return labels.astype(np.int64)


class MNISTImages:
    """MNIST-style images and labels from a pair of IDX files (gzip or not).

    ``images``: uint8 array (N, 28, 28), row 0 at the top; ``labels``: int64 array (N,), each in
    ``[0, n_classes)`` (an out-of-range label raises, naming the file). ``dataset[i]`` is
    ``(image, label)``. Encode them as events with :class:`EncodedImages`.
    """

    def __init__(self, images_path: PathLike, labels_path: PathLike, n_classes: int = 10):
        images = read_idx(images_path)
        labels = read_idx(labels_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise EventStreamError(f"{images_path}: expected uint8 images of shape (N, H, W), got {images.dtype} {images.shape}.")
        if labels.ndim != 1 or len(labels) != len(images):
            raise EventStreamError(
                f"{labels_path}: {labels.shape} labels do not match the {len(images)} images of {images_path}."
            )
        self.images = images
        self.labels = check_labels(labels, n_classes, str(labels_path))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> Tuple[np.ndarray, int]:
        return self.images[i], int(self.labels[i])


class EncodedImages(LabelledDataset):
    """A lazy labelled data set of events made by encoding images on demand.

    ``images``: (N, H, W) array, uint8 (scaled by 1/255) or float in [0, 1]. ``encoder``: a
    callable ``encoder(image, rng) -> events`` with a ``duration_us`` attribute (see
    :mod:`streams.encoders`). Sample ``i`` is encoded with ``numpy.random.default_rng([seed, i])``,
    so it is the same whatever order samples are read in. ``sensor_size`` is ``(W, H, 1)``.
    """

    def __init__(self, images: np.ndarray, labels: Sequence[int], encoder: Callable, seed: int = 0):
        images = np.asarray(images)
        labels = check_labels(labels, None, "EncodedImages labels")
        if images.ndim != 3:
            raise ValueError(f"images must have shape (N, H, W), got {images.shape}")
        if len(labels) != len(images):
            raise ValueError(f"{len(labels)} labels for {len(images)} images")
        self.images = images
        self.labels = labels
        self.encoder = encoder
        self.seed = int(seed)
        self.sensor_size: SensorSize = (images.shape[2], images.shape[1], 1)
        self.duration_us = int(encoder.duration_us)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> Tuple[np.ndarray, int]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"sample {i} out of range for {len(self)} images")
        i = i % len(self)
        rng = np.random.default_rng([self.seed, i])
        return self.encoder(self.images[i], rng), int(self.labels[i])

    def __repr__(self) -> str:
        return f"EncodedImages({len(self)} images, {self.encoder!r}, seed={self.seed})"
