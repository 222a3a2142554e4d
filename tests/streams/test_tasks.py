"""Task sequences: class sets, splits, probes, domain transforms, and the one continuous stream."""
from __future__ import annotations

import numpy as np
import pytest

import streams
from streams import (
    Mirror,
    PolaritySwap,
    ProtocolError,
    TaskDataset,
    TaskSequence,
    TimeScale,
    Transpose,
    UniformNoise,
    make_events,
    sequence_stream,
    tick_chunks,
)
from streams.transforms import Compose

W, H = 6, 4


class ToyRecordings(streams.LabelledDataset):
    """``per_class`` recordings of each of ``n_classes`` classes; recording ``i`` has 3 events at
    absolute times ``100 i + (0, 10, 30)`` us, at pixels that depend on ``i``."""

    def __init__(self, n_classes=10, per_class=5, sensor_size=(W, H, 2), duration_us=None):
        self.labels = np.repeat(np.arange(n_classes), per_class).astype(np.int64)
        self.sensor_size = sensor_size
        if duration_us is not None:
            self.duration_us = duration_us
        self.reads = 0

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        self.reads += 1
        width, height, polarities = self.sensor_size
        t = [0, 10, 30] if hasattr(self, "duration_us") else [100 * i, 100 * i + 10, 100 * i + 30]
        x = [i % width, (i + 1) % width, (i + 2) % width]
        y = [i % height, 0, height - 1]
        return make_events(x, y, t, [0, (polarities - 1), i % polarities]), int(self.labels[i])


@pytest.fixture
def toy():
    return ToyRecordings()


def check_split(sequence, dataset):
    """Every task's train and test sets are disjoint, of its classes only, and no test sample of
    any task is trained in any task."""
    labels = dataset.labels
    all_train = np.concatenate([t.train_indices for t in sequence.tasks])
    all_test = np.concatenate([t.test_indices for t in sequence.tasks])
    assert not np.isin(all_test, all_train).any()
    for task in sequence.tasks:
        assert set(labels[task.train_indices]) == set(task.classes)
        assert set(labels[task.test_indices]) == set(task.classes)
        assert np.all(np.diff(task.train_indices) > 0) and np.all(np.diff(task.test_indices) > 0)


def test_split_5x2_class_sets_and_stratified_split(toy):
    sequence = TaskSequence.build(toy, "split:5x2", train_fraction=0.8, seed=0)
    assert [t.classes for t in sequence.tasks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    assert sequence.task_names == ["0,1", "2,3", "4,5", "6,7", "8,9"]
    assert all(t.transform is None for t in sequence.tasks)
    check_split(sequence, toy)
    for task in sequence.tasks:  # 5 per class: 4 train, 1 test
        assert len(task.train_indices) == 8 and len(task.test_indices) == 2
        members = np.flatnonzero(np.isin(toy.labels, task.classes))
        assert np.array_equal(np.sort(np.concatenate([task.train_indices, task.test_indices])), members)
    assert sequence.classes_seen(0) == (0, 1) and sequence.classes_seen(2) == (0, 1, 2, 3, 4, 5)
    assert [row["train"] for row in sequence.describe()] == [8] * 5


def test_other_splits_and_explicit_classes(toy):
    assert [t.classes for t in TaskSequence.build(toy, "split:2x5").tasks] == [(0, 1, 2, 3, 4), (5, 6, 7, 8, 9)]
    assert [t.classes for t in TaskSequence.build(toy, "split:10x1").tasks] == [(c,) for c in range(10)]
    assert [t.classes for t in TaskSequence.build(toy, "split:2x2").tasks] == [(0, 1), (2, 3)]
    sequence = TaskSequence.build(toy, "classes:0,1,2/3,4,5/6,7,8,9")
    assert [t.classes for t in sequence.tasks] == [(0, 1, 2), (3, 4, 5), (6, 7, 8, 9)]
    check_split(sequence, toy)
    reordered = TaskSequence.build(toy, "classes:9,3/0")
    assert [t.classes for t in reordered.tasks] == [(9, 3), (0,)]


def test_splits_are_seeded(toy):
    a = TaskSequence.build(toy, "split:5x2", seed=1)
    b = TaskSequence.build(toy, "split:5x2", seed=1)
    c = TaskSequence.build(toy, "split:5x2", seed=2)
    assert all(np.array_equal(x.train_indices, y.train_indices) for x, y in zip(a.tasks, b.tasks))
    assert any(not np.array_equal(x.train_indices, y.train_indices) for x, y in zip(a.tasks, c.tasks))


def test_protocol_does_not_fit_the_data_set(toy):
    with pytest.raises(ProtocolError, match="'6x2'.*needs 12 classes"):
        TaskSequence.build(toy, "split:6x2")
    with pytest.raises(ProtocolError, match=r"'0,11'.*\[11\]"):
        TaskSequence.build(toy, "classes:0,11/2")
    with pytest.raises(ProtocolError, match="'transpose'.*not square"):
        TaskSequence.build(toy, "domain:transpose")
    with pytest.raises(ProtocolError, match="'polarity'.*nothing to swap"):
        TaskSequence.build(ToyRecordings(sensor_size=(W, H, 1)), "domain:polarity")
    with pytest.raises(ProtocolError, match="'timescale=0.5,2,4': 3 values for 2 tasks"):
        TaskSequence.build(toy, "split:2x2+timescale=0.5,2,4")
    with pytest.raises(ProtocolError, match="no test samples"):
        TaskSequence.build(ToyRecordings(per_class=1), "split:5x2")
    with pytest.raises(ProtocolError, match="domain_split"):
        TaskSequence.build(toy, "domain:mirror", domain_split="random")


def test_binary_domain_protocols_give_original_then_transformed(toy):
    expected = {"polarity": (PolaritySwap, "polarity swapped"), "mirror": (Mirror, "mirrored"),
                "rotate180": (streams.Rotate180, "rotated 180")}
    for item, (kind, name) in expected.items():
        sequence = TaskSequence.build(toy, f"domain:{item}")
        assert sequence.task_names == ["original", name]
        assert sequence.tasks[0].transform is None and isinstance(sequence.tasks[1].transform, kind)
        assert all(t.classes == tuple(range(10)) for t in sequence.tasks)
        assert np.array_equal(sequence.tasks[0].train_indices, sequence.tasks[1].train_indices)  # shared
        assert np.array_equal(sequence.tasks[0].test_indices, sequence.tasks[1].test_indices)
    square = TaskSequence.build(ToyRecordings(sensor_size=(5, 5, 2)), "domain:transpose")
    assert isinstance(square.tasks[1].transform, Transpose)


def test_domain_items_are_applied_exactly_to_task_samples(toy):
    sequence = TaskSequence.build(toy, "domain:mirror")
    train = sequence.train_dataset(1)
    i = int(sequence.tasks[1].train_indices[3])
    events, label = train[3]
    raw, raw_label = toy[i]
    assert label == raw_label
    assert events["x"].tolist() == (W - 1 - raw["x"]).tolist()
    assert events["y"].tolist() == raw["y"].tolist() and events["t"].tolist() == raw["t"].tolist()
    original, _ = sequence.train_dataset(0)[3]
    assert np.array_equal(original, raw)


def test_valued_domain_protocols(toy):
    sequence = TaskSequence.build(toy, "domain:timescale=0.25,0.5,1,2,4")
    assert sequence.task_names == ["x0.25", "x0.5", "x1", "x2", "x4"]
    assert [t.transform for t in sequence.tasks] == [TimeScale(f) for f in (0.25, 0.5, 1, 2, 4)]
    events, _ = sequence.test_dataset(3)[0]  # x2, relative to the recording's first event
    raw, _ = toy[int(sequence.tasks[3].test_indices[0])]
    t0 = raw["t"][0]
    assert (events["t"] - t0).tolist() == [0, 20, 60]
    noisy = TaskSequence.build(toy, "domain:noise=0,50000", seed=7)
    assert noisy.task_names == ["noise 0 Hz/px", "noise 50000 Hz/px"]
    assert noisy.tasks[1].transform == UniformNoise((W, H, 2), 50000.0, seed=7)
    events, _ = noisy.train_dataset(1)[0]
    assert len(events) > 3  # 5e4 Hz * 24 px * 31 us = 37 events expected


def test_fixed_duration_data_sets_scale_from_zero_and_announce_the_duration():
    data = ToyRecordings(duration_us=1000)
    sequence = TaskSequence.build(data, "domain:timescale=0.5,2")
    assert sequence.tasks[0].transform == TimeScale(0.5, origin_us=0)
    assert [sequence.train_dataset(t).duration_us for t in range(2)] == [500, 2000]
    events, _ = sequence.train_dataset(1)[0]
    assert events["t"].tolist() == [0, 20, 60]
    noisy = TaskSequence.build(data, "domain:noise=100")
    assert noisy.tasks[0].transform.duration_us == 1000
    # a combination: noise after x2 fills the stretched sample
    combined = TaskSequence.build(data, "split:2x2+timescale=2+noise=100")
    transform = combined.tasks[0].transform
    assert isinstance(transform, Compose) and transform.transforms[1].duration_us == 2000
    assert combined.train_dataset(0).duration_us == 2000


def test_domain_partition_gives_disjoint_balanced_training_sets(toy):
    shared = TaskSequence.build(toy, "domain:timescale=0.5,1")
    parted = TaskSequence.build(toy, "domain:timescale=0.5,1", domain_split="partition")
    a, b = (t.train_indices for t in parted.tasks)
    assert not np.isin(a, b).any()
    assert np.array_equal(np.sort(np.concatenate([a, b])), shared.tasks[0].train_indices)
    assert np.bincount(toy.labels[a]).tolist() == [2] * 10 and np.bincount(toy.labels[b]).tolist() == [2] * 10


def test_class_tasks_under_domain_items(toy):
    sequence = TaskSequence.build(toy, "split:5x2+timescale=0.5")
    assert sequence.task_names[0] == "0,1 x0.5"
    assert all(t.transform == TimeScale(0.5) for t in sequence.tasks)
    per_task = TaskSequence.build(toy, "split:2x2+timescale=0.5,2")
    assert [t.transform for t in per_task.tasks] == [TimeScale(0.5), TimeScale(2.0)]
    mirrored = TaskSequence.build(toy, "classes:0/1+mirror")
    assert all(isinstance(t.transform, Mirror) for t in mirrored.tasks)
    assert mirrored.task_names == ["0 mirrored", "1 mirrored"]
    both = TaskSequence.build(toy, "split:2x2+mirror+noise=5")
    assert both.tasks[0].transform == Compose((Mirror((W, H, 2)), UniformNoise((W, H, 2), 5.0, seed=0)))


def test_test_only_timescale_protocol(toy):
    sequence = TaskSequence.build(toy, "timescale:0.5,1,2")
    assert len(sequence) == 1 and sequence.tasks[0].transform is None and sequence.task_names == ["x1"]
    assert [t.name for t in sequence.test_only] == ["x0.5", "x1", "x2"]
    for condition in sequence.test_only:
        assert len(condition.train_indices) == 0
        assert np.array_equal(condition.test_indices, sequence.tasks[0].test_indices)
    events, _ = sequence.test_dataset(sequence.test_only[2])[0]
    assert (events["t"] - events["t"][0]).tolist() == [0, 20, 60]
    assert [row["test_only"] for row in sequence.describe()] == [False, True, True, True]


def test_probe_indices_are_small_fixed_and_stratified():
    data = ToyRecordings(per_class=20)
    sequence = TaskSequence.build(data, "split:5x2", seed=0)
    probes = sequence.probe_indices(2, seed=0)
    assert len(probes) == 5
    for probe, task in zip(probes, sequence.tasks):
        assert len(probe) == 2 and np.isin(probe, task.test_indices).all()
        assert sorted(data.labels[probe].tolist()) == list(task.classes)  # one per class
    assert all(np.array_equal(a, b) for a, b in zip(probes, sequence.probe_indices(2, seed=0)))
    assert any(not np.array_equal(a, b) for a, b in zip(probes, sequence.probe_indices(2, seed=5)))
    everything = sequence.probe_indices(100)
    assert all(np.array_equal(p, t.test_indices) for p, t in zip(everything, sequence.tasks))
    with pytest.raises(ProtocolError, match="k_per_task"):
        sequence.probe_indices(0)


def test_task_dataset_view():
    data = ToyRecordings()
    view = TaskDataset(data, [3, 7], Mirror((W, H, 2)))
    assert len(view) == 2 and view.labels.tolist() == [0, 1] and view.classes == [0, 1]
    events, label = view[1]
    assert label == 1 and events["x"].tolist() == (W - 1 - data[7][0]["x"]).tolist()
    assert not hasattr(view, "duration_us")
    with pytest.raises(IndexError):
        TaskDataset(data, [50])


# ---- the one continuous stream --------------------------------------------------------------
def test_sequence_stream_order_labels_and_side_table(toy):
    sequence = TaskSequence.build(toy, "split:5x2", seed=0)
    run = sequence_stream(sequence, seed=3, gap_us=5)
    segments = list(run)
    assert len(segments) == len(run) == 40
    assert run.task_starts.tolist() == [0, 8, 16, 24, 32, 40]
    assert run.task.tolist() == np.repeat(np.arange(5), 8).tolist()
    assert [run.task_end(t) for t in range(5)] == [7, 15, 23, 31, 39]
    for t, task in enumerate(sequence.tasks):
        block = slice(run.task_starts[t], run.task_starts[t + 1])
        assert sorted(run.dataset_index[block].tolist()) == task.train_indices.tolist()
        assert {s.label for s in segments[block]} == set(task.classes)
    for k, segment in enumerate(segments):
        assert segment.index == k and run.task_of(k) == run.task[k]
        assert segment.label == toy.labels[run.dataset_index[k]]
    # shuffled within each task, seeded
    first = run.dataset_index[:8]
    assert first.tolist() == np.random.default_rng([3, 0, 0]).permutation(sequence.tasks[0].train_indices).tolist()


def test_sequence_stream_is_one_unbroken_stream(toy):
    sequence = TaskSequence.build(toy, "split:5x2", seed=0)
    run = sequence_stream(sequence, shuffle=False, gap_us=5, start_us=1000)
    assert isinstance(run.stream, streams.LabelledStream)
    segments = list(run)
    assert segments[0].t_start == 1000
    for previous, segment in zip(segments, segments[1:]):  # no reset, no marker: only the usual gap
        assert segment.t_start == previous.t_end + 5
    assert run.dataset_index.tolist() == np.concatenate([t.train_indices for t in sequence.tasks]).tolist()
    for segment in segments:  # each sample as recorded, shifted to its place
        raw, _ = toy[int(run.dataset_index[segment.index])]
        assert (segment.events["t"] - segment.t_start).tolist() == (raw["t"] - raw["t"][0]).tolist()
        assert segment.duration_us == 31
    chunks = list(tick_chunks(run.stream, dt_us=10))
    owners = np.concatenate([c.sample for c in chunks])
    assert set(owners[owners >= 0].tolist()) == set(range(len(run)))


def test_sequence_stream_applies_each_task_transform(toy):
    sequence = TaskSequence.build(toy, "domain:mirror", seed=0)
    run = sequence_stream(sequence, shuffle=False)
    n = len(sequence.tasks[0].train_indices)
    assert run.task_starts.tolist() == [0, n, 2 * n]
    segments = list(run)
    for k in (0, n):  # the same recording, as recorded then mirrored
        assert run.dataset_index[k] == run.dataset_index[0]
    assert segments[n].events["x"].tolist() == (W - 1 - segments[0].events["x"]).tolist()
    assert segments[n].events["y"].tolist() == segments[0].events["y"].tolist()


def test_sequence_stream_epochs_per_task_and_determinism(toy):
    sequence = TaskSequence.build(toy, "split:5x2", seed=0)
    run = sequence_stream(sequence, epochs_per_task=2, seed=1)
    assert run.task_starts.tolist() == [0, 16, 32, 48, 64, 80]
    block = run.dataset_index[:16]
    assert sorted(block.tolist()) == sorted(sequence.tasks[0].train_indices.tolist() * 2)
    assert block[:8].tolist() != block[8:].tolist()  # each epoch reshuffled
    again = sequence_stream(TaskSequence.build(toy, "split:5x2", seed=0), epochs_per_task=2, seed=1)
    assert all(np.array_equal(a.events, b.events) and a.t_start == b.t_start for a, b in zip(run, again))
    with pytest.raises(ProtocolError, match="epochs_per_task"):
        sequence_stream(sequence, epochs_per_task=0)


def test_sequence_stream_with_fixed_durations():
    data = ToyRecordings(duration_us=1000)
    equal = sequence_stream(TaskSequence.build(data, "split:5x2"), shuffle=False)
    assert equal.stream.dataset.duration_us == 1000 and equal.stream.align == "zero"
    assert all(s.duration_us == 1000 for s in equal)
    varying = sequence_stream(TaskSequence.build(data, "domain:timescale=0.5,2"), shuffle=False)
    assert not hasattr(varying.stream.dataset, "duration_us") and varying.stream.align == "none"
    segments = list(varying)
    first_x2 = int(varying.task_starts[1])
    assert (segments[0].events["t"] - segments[0].t_start).tolist() == [0, 5, 15]
    assert (segments[first_x2].events["t"] - segments[first_x2].t_start).tolist() == [0, 20, 60]


@pytest.mark.data
def test_nmnist_split_5x2(nmnist_train):
    data = streams.NMNISTFolder(nmnist_train)
    sequence = TaskSequence.build(data, "split:5x2", seed=0)
    check_split(sequence, data)
    assert sum(len(t.train_indices) + len(t.test_indices) for t in sequence.tasks) == len(data)
    run = sequence_stream(sequence, seed=0)
    boundary = int(run.task_starts[1])
    segments = [s for s, _ in zip(run, range(boundary + 2))]
    assert {s.label for s in segments[:boundary]} == {0, 1}
    assert {s.label for s in segments[boundary:]} <= {2, 3}
    assert all(b.t_start == a.t_end for a, b in zip(segments, segments[1:]))
