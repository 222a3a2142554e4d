"""Task sequences for continual learning over any labelled data set (SPEC section 12).

A :class:`TaskSequence` is built from a labelled data set (``len``, ``ds[i] -> (events, label)``,
``ds.labels``, ``ds.sensor_size``) and a protocol string (:mod:`streams.protocols`)::

    data = streams.NMNISTFolder(".../nmnist/Train")
    sequence = TaskSequence.build(data, "split:5x2", train_fraction=0.8, seed=0)
    run = sequence_stream(sequence, seed=0)        # ONE continuous LabelledStream, tasks in order
    for chunk in streams.tick_chunks(run.stream):  # the learner sees no task boundary
        ...
    run.task_end(t)                                # stream position after which task t is done

Splits. The data set is first split once, stratified by class (``stratified_split(labels,
train_fraction, seed)``); every task takes its training samples from the first part and its test
samples from the second, so no test sample is ever trained on under any task. A class task keeps
the samples of its classes; a domain task keeps every class and, by default
(``domain_split="shared"``), all training samples, seen again under its own transform (as in
permuted MNIST); ``domain_split="partition"`` deals each class's training samples into disjoint,
equally sized parts instead (a fresh set of recordings per task). Domain tasks share the test
samples, so differences between their accuracies come from the transform only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from .datasets import LabelledDataset, stratified_split
from .events import EventStreamError
from .protocols import BINARY_ITEMS, DomainItem, Protocol, ProtocolError, parse_protocol
from .stream import LabelledStream, Segment
from .transforms import (
    Compose,
    Mirror,
    PolaritySwap,
    Rotate180,
    TimeScale,
    Transpose,
    UniformNoise,
    transformed_duration,
)

Transform = Optional[Callable[[np.ndarray], np.ndarray]]

_BINARY_NAMES = {"polarity": "polarity swapped", "mirror": "mirrored", "rotate180": "rotated 180",
                 "transpose": "transposed"}


@dataclass(frozen=True, eq=False)
class Task:
    """One task: its ``name``, the ``classes`` it holds, the domain ``transform`` its samples go
    through (None: as recorded), and its ``train_indices`` / ``test_indices`` into the base data
    set (sorted int64 arrays)."""

    name: str
    classes: Tuple[int, ...]
    transform: Transform
    train_indices: np.ndarray
    test_indices: np.ndarray


class TaskDataset(LabelledDataset):
    """The samples ``indices`` of ``dataset``, each passed through ``transform`` when read.

    A labelled data set of its own (``len``, ``[i]``, ``labels``, ``classes``, ``sensor_size``).
    If ``dataset`` declares ``duration_us``, so does the view, changed by the transform if it
    declares ``transformed_duration`` (e.g. :class:`streams.transforms.TimeScale`).
    """

    def __init__(self, dataset, indices: Sequence[int], transform: Transform = None):
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if len(indices) and (indices.min() < 0 or indices.max() >= n):
            raise IndexError(f"TaskDataset indices must be in [0, {n}), got range [{indices.min()}, {indices.max()}]")
        self.dataset = dataset
        self.indices = indices
        self.transform = transform
        self.labels = np.asarray(dataset.labels, dtype=np.int64)[indices]
        self.sensor_size = tuple(dataset.sensor_size)
        if getattr(dataset, "duration_us", None) is not None:
            self.duration_us = transformed_duration(transform, dataset.duration_us)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        events, label = self.dataset[int(self.indices[i])]
        if self.transform is not None:
            events = self.transform(events)
        return events, int(label)

    def __repr__(self) -> str:
        return f"TaskDataset({self.dataset!r}, {len(self)} samples, transform={self.transform!r})"


@dataclass(eq=False)
class TaskSequence:
    """Tasks learned in order, over one base data set.

    ``tasks``: the training tasks, in order; ``test_only``: extra test conditions that are
    never trained (the ``timescale:`` protocol: the one training task tested at every factor).
    Build one with :meth:`build`.
    """

    dataset: object
    protocol: Protocol
    tasks: List[Task]
    test_only: List[Task] = field(default_factory=list)
    seed: int = 0

    # ---- construction --------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        dataset,
        protocol: Union[str, Protocol],
        train_fraction: Union[float, int] = 0.8,
        seed: int = 0,
        domain_split: str = "shared",
    ) -> "TaskSequence":
        """Tasks of ``protocol`` over ``dataset`` (see the module docstring for the splits).

        ``train_fraction``: fraction of each class used for training (or the total number of
        training samples, as in :func:`streams.stratified_split`); ``seed`` seeds the split and the
        noise transforms; ``domain_split``: ``"shared"`` or ``"partition"``.
        """
        if isinstance(protocol, str):
            protocol = parse_protocol(protocol)
        if domain_split not in ("shared", "partition"):
            raise ProtocolError(f"domain_split must be 'shared' or 'partition', got {domain_split!r}")
        labels = np.asarray(dataset.labels, dtype=np.int64)
        if len(labels) != len(dataset):
            raise ProtocolError(f"{dataset!r}: {len(labels)} labels for {len(dataset)} samples")
        train_all, test_all = stratified_split(labels, train_fraction, seed)
        all_classes = tuple(int(c) for c in np.unique(labels))
        context = _Context(dataset, protocol.text, seed)
        test_only: List[Task] = []
        if protocol.kind == "class":
            groups = _class_groups(protocol, all_classes)
            transforms = _combined_transforms(protocol, len(groups), context)
            tasks = []
            for classes, (suffix, transform) in zip(groups, transforms):
                name = ",".join(str(c) for c in classes) + (f" {suffix}" if suffix else "")
                tasks.append(Task(name, classes, transform,
                                  train_all[np.isin(labels[train_all], classes)],
                                  test_all[np.isin(labels[test_all], classes)]))
        elif protocol.kind == "domain":
            variants = _domain_variants(protocol.domain[0], context, with_original=True)
            parts = (_deal(train_all, labels, len(variants), seed) if domain_split == "partition"
                     else [train_all] * len(variants))
            tasks = [Task(name, all_classes, transform, part, test_all)
                     for (name, transform), part in zip(variants, parts)]
        else:  # test-timescale: train once as recorded, test at every factor
            tasks = [Task("x1", all_classes, None, train_all, test_all)]
            item = DomainItem("timescale", protocol.test_factors, protocol.text)
            test_only = [Task(name, all_classes, transform, train_all[:0], test_all)
                         for name, transform in _domain_variants(item, context, with_original=False)]
        for task in tasks:
            for what, indices in (("training", task.train_indices), ("test", task.test_indices)):
                if len(indices) == 0:
                    raise ProtocolError(
                        f"protocol {protocol.text!r}: task {task.name!r} gets no {what} samples from "
                        f"{len(labels)} samples with train_fraction={train_fraction}; use more data or "
                        "another train_fraction."
                    )
        return cls(dataset, protocol, tasks, test_only, int(seed))

    # ---- views -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.tasks)

    @property
    def task_names(self) -> List[str]:
        return [task.name for task in self.tasks]

    @property
    def sensor_size(self):
        return tuple(self.dataset.sensor_size)

    def classes_seen(self, t: int) -> Tuple[int, ...]:
        """Sorted union of the classes of tasks ``0..t`` (what a class-incremental evaluation
        after task ``t`` covers)."""
        return tuple(sorted({c for task in self.tasks[: t + 1] for c in task.classes}))

    def train_dataset(self, t: int) -> TaskDataset:
        """Task ``t``'s training samples, transformed."""
        task = self.tasks[t]
        return TaskDataset(self.dataset, task.train_indices, task.transform)

    def test_dataset(self, t: Union[int, Task], indices: Optional[Sequence[int]] = None) -> TaskDataset:
        """Task ``t``'s test samples (or ``indices`` of the base data set), transformed. ``t`` is a
        position in ``tasks`` or a :class:`Task` (e.g. one of ``test_only``)."""
        task = t if isinstance(t, Task) else self.tasks[t]
        return TaskDataset(self.dataset, task.test_indices if indices is None else indices, task.transform)

    def probe_indices(self, k_per_task: int, seed: int = 0) -> List[np.ndarray]:
        """A small fixed probe set per task: ``k_per_task`` of its test samples (all of them if
        fewer), stratified by class, chosen with ``seed``; sorted base-data-set indices. Evaluate
        probe ``t`` with ``test_dataset(t, probes[t])`` along the stream for forgetting curves."""
        if int(k_per_task) != k_per_task or k_per_task < 1:
            raise ProtocolError(f"probe_indices: k_per_task must be a positive integer, got {k_per_task!r}")
        labels = np.asarray(self.dataset.labels, dtype=np.int64)
        probes = []
        for task in self.tasks:
            test = task.test_indices
            if k_per_task >= len(test):
                probes.append(test.copy())
                continue
            chosen, _ = stratified_split(labels[test], int(k_per_task), seed)
            probes.append(test[chosen])
        return probes

    def describe(self) -> List[dict]:
        """One row per task (then test-only conditions): name, classes, train and test sizes."""
        return [{"task": task.name, "classes": list(task.classes), "train": len(task.train_indices),
                 "test": len(task.test_indices), "test_only": task in self.test_only}
                for task in self.tasks + self.test_only]


# ---- building tasks from the protocol -----------------------------------------------------
@dataclass(frozen=True)
class _Context:
    dataset: object
    text: str
    seed: int

    @property
    def sensor_size(self) -> Tuple[int, int, int]:
        return tuple(int(v) for v in self.dataset.sensor_size)

    @property
    def duration_us(self) -> Optional[int]:
        duration = getattr(self.dataset, "duration_us", None)
        return None if duration is None else int(duration)


def _class_groups(protocol: Protocol, all_classes: Tuple[int, ...]) -> List[Tuple[int, ...]]:
    if protocol.split is not None:
        n_tasks, per_task = protocol.split
        if n_tasks * per_task > len(all_classes):
            raise ProtocolError(
                f"protocol {protocol.text!r}: bad token '{n_tasks}x{per_task}': needs {n_tasks * per_task} classes, "
                f"the data set has {len(all_classes)} {list(all_classes)}"
            )
        return [all_classes[i * per_task:(i + 1) * per_task] for i in range(n_tasks)]
    for group in protocol.class_groups:
        missing = [c for c in group if c not in all_classes]
        if missing:
            raise ProtocolError(
                f"protocol {protocol.text!r}: bad token '{','.join(map(str, group))}': class(es) {missing} are not "
                f"in the data set, whose classes are {list(all_classes)}"
            )
    return [tuple(group) for group in protocol.class_groups]


def _domain_transform(item: DomainItem, value: Optional[float], context: _Context, duration_us: Optional[int]):
    """The transform of one domain item value, for samples lasting ``duration_us`` (None: the
    recording's own span)."""
    sensor = context.sensor_size
    if item.kind == "timescale":
        return TimeScale(value, origin_us=None if duration_us is None else 0)
    if item.kind == "noise":
        return UniformNoise(sensor, value, seed=context.seed, duration_us=duration_us)
    try:
        if item.kind == "polarity":
            return PolaritySwap(sensor[2])
        return {"mirror": Mirror, "rotate180": Rotate180, "transpose": Transpose}[item.kind](sensor)
    except EventStreamError as error:  # the sensor does not allow it: name the token
        raise ProtocolError(f"protocol {context.text!r}: bad token {item.token!r}: {error}") from None


def _variant_name(item: DomainItem, value: Optional[float]) -> str:
    if item.kind == "timescale":
        return f"x{value:g}"
    if item.kind == "noise":
        return f"noise {value:g} Hz/px"
    return _BINARY_NAMES[item.kind]


def _domain_variants(item: DomainItem, context: _Context, with_original: bool) -> List[Tuple[str, Transform]]:
    """``(name, transform)`` per variant: one per value, or (original,) transformed for binary items."""
    if item.kind in BINARY_ITEMS:
        variant = (_variant_name(item, None), _domain_transform(item, None, context, context.duration_us))
        return [("original", None), variant] if with_original else [variant]
    return [(_variant_name(item, v), _domain_transform(item, v, context, context.duration_us)) for v in item.values]


def _combined_transforms(protocol: Protocol, n_tasks: int, context: _Context) -> List[Tuple[str, Transform]]:
    """Per class task: ``(name suffix, transform)`` from the protocol's domain items, in order."""
    names = [[] for _ in range(n_tasks)]
    chains = [[] for _ in range(n_tasks)]
    durations = [context.duration_us] * n_tasks
    for item in protocol.domain:
        values = [None] if item.kind in BINARY_ITEMS else list(item.values)
        if len(values) == 1:
            values = values * n_tasks
        elif len(values) != n_tasks:
            raise ProtocolError(
                f"protocol {protocol.text!r}: bad token {item.token!r}: {len(values)} values for {n_tasks} tasks; "
                "give one value (every task) or one per task"
            )
        for t, value in enumerate(values):
            transform = _domain_transform(item, value, context, durations[t])
            chains[t].append(transform)
            names[t].append(_variant_name(item, value))
            if durations[t] is not None:
                durations[t] = transformed_duration(transform, durations[t])
    out = []
    for t in range(n_tasks):
        chain = chains[t]
        transform = None if not chain else chain[0] if len(chain) == 1 else Compose(tuple(chain))
        out.append((" ".join(names[t]), transform))
    return out


def _deal(train: np.ndarray, labels: np.ndarray, n_parts: int, seed: int) -> List[np.ndarray]:
    """Deal each class's samples of ``train``, shuffled with ``seed``, into ``n_parts`` disjoint
    parts of (as nearly as possible) equal size; each part sorted."""
    rng = np.random.default_rng([seed, n_parts])
    parts: List[List[np.ndarray]] = [[] for _ in range(n_parts)]
    for cls in np.unique(labels[train]):
        members = rng.permutation(train[labels[train] == cls])
        for p, chunk in enumerate(np.array_split(members, n_parts)):
            parts[p].append(chunk)
    return [np.sort(np.concatenate(p)).astype(np.int64) for p in parts]


# ---- one continuous stream over the whole sequence ----------------------------------------
class SequenceDataset(LabelledDataset):
    """Every task's training samples in stream order, as one labelled data set.

    Item ``k`` is base sample ``dataset_index[k]`` under the transform of task ``task[k]``.
    It declares ``duration_us`` only when the base data set does and every task's transformed
    duration is the same.
    """

    def __init__(self, sequence: TaskSequence, task: np.ndarray, dataset_index: np.ndarray):
        self.sequence = sequence
        self.base = sequence.dataset
        self.task = np.asarray(task, dtype=np.int64)
        self.dataset_index = np.asarray(dataset_index, dtype=np.int64)
        self.transforms = [t.transform for t in sequence.tasks]
        self.labels = np.asarray(self.base.labels, dtype=np.int64)[self.dataset_index]
        self.sensor_size = tuple(self.base.sensor_size)
        base_duration = getattr(self.base, "duration_us", None)
        self.durations = (None if base_duration is None
                          else sorted({transformed_duration(t, base_duration) for t in self.transforms}))
        if self.durations is not None and len(self.durations) == 1:
            self.duration_us = self.durations[0]

    def __len__(self) -> int:
        return len(self.dataset_index)

    def __getitem__(self, k: int):
        events, label = self.base[int(self.dataset_index[k])]
        transform = self.transforms[int(self.task[k])]
        if transform is not None:
            events = transform(events)
        return events, int(label)


@dataclass(frozen=True, eq=False)
class SequenceStream:
    """The training samples of every task laid end to end in ONE :class:`LabelledStream`.

    The learner iterates ``stream`` (or this object); no task marker is in it. The side table
    says, for stream position ``k`` (``Segment.index``): ``task[k]`` (which task it belongs to)
    and ``dataset_index[k]`` (which base sample). ``task_starts[t]`` is the first position of
    task ``t``; ``task_starts[-1] == len(stream)``.
    """

    stream: LabelledStream
    task: np.ndarray
    dataset_index: np.ndarray
    task_starts: np.ndarray

    def __len__(self) -> int:
        return len(self.stream)

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.stream)

    def task_end(self, t: int) -> int:
        """Last stream position of task ``t``: evaluate ``R[t, :]`` once this sample is done."""
        return int(self.task_starts[t + 1]) - 1

    def task_of(self, position: int) -> int:
        """The task of stream position ``position``."""
        return int(self.task[position])


def sequence_stream(
    sequence: TaskSequence,
    *,
    epochs_per_task: int = 1,
    shuffle: bool = True,
    seed: int = 0,
    gap_us: int = 0,
    start_us: int = 0,
) -> SequenceStream:
    """Lay the training samples of ``sequence``'s tasks end to end in one continuous stream.

    Task ``t``'s samples come after all of task ``t-1``'s, played ``epochs_per_task`` times; if
    ``shuffle``, each (task, epoch) plays them in the order
    ``default_rng([seed, t, epoch]).permutation(train_indices)``. The network state is never
    reset and nothing in the stream marks a task boundary (samples only, with ``gap_us`` of
    silence after each, as everywhere). ``start_us`` continues an existing clock.

    Samples keep their own time origin (``align="zero"``), except for a data set with a fixed
    ``duration_us`` whose tasks change it differently (e.g. ``domain:timescale``): that stream has
    ``align="none"``, so each sample starts at its time 0 and ends 1 us after its last event.
    """
    if int(epochs_per_task) != epochs_per_task or epochs_per_task < 1:
        raise ProtocolError(f"epochs_per_task must be a positive integer, got {epochs_per_task!r}")
    task_ids, indices, starts = [], [], [0]
    for t, task in enumerate(sequence.tasks):
        for epoch in range(int(epochs_per_task)):
            order = task.train_indices
            if shuffle:
                order = np.random.default_rng([int(seed), t, epoch]).permutation(order)
            indices.append(order)
            task_ids.append(np.full(len(order), t, dtype=np.int64))
        starts.append(starts[-1] + len(task.train_indices) * int(epochs_per_task))
    task = np.concatenate(task_ids) if task_ids else np.zeros(0, np.int64)
    dataset_index = np.concatenate(indices).astype(np.int64) if indices else np.zeros(0, np.int64)
    data = SequenceDataset(sequence, task, dataset_index)
    varying = data.durations is not None and len(data.durations) > 1
    stream = LabelledStream(data, gap_us=gap_us, align="none" if varying else "zero", start_us=start_us, seed=seed)
    return SequenceStream(stream, task, dataset_index, np.asarray(starts, dtype=np.int64))
