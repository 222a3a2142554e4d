"""LabelledStream: order, labels, gaps, alignment, time scaling, transforms, epochs."""
from __future__ import annotations

import numpy as np
import pytest

import streams
from streams import EventStreamError, LabelledStream, Segment, make_events


class ListDataset:
    """A labelled data set from a list of (events, label) pairs."""

    sensor_size = (8, 8, 2)

    def __init__(self, samples):
        self.samples = samples
        self.labels = np.array([label for _, label in samples])
        self.reads = []

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        self.reads.append(i)
        return self.samples[i]


def recording(times, x0=0):
    n = len(times)
    return make_events(np.arange(n) % 8 + x0 % 8, np.zeros(n, int), times, np.arange(n) % 2)


@pytest.fixture
def three_recordings():
    # absolute timestamps, like a real recording: sample 0 lasts 301 us, sample 1 51 us, sample 2 1 us
    return ListDataset([
        (recording([1000, 1100, 1300]), 7),
        (recording([50, 100]), 3),
        (recording([5]), 9),
    ])


def test_zero_alignment_and_gaps(three_recordings):
    segments = list(LabelledStream(three_recordings, gap_us=10))
    assert [s.index for s in segments] == [0, 1, 2]
    assert [s.label for s in segments] == [7, 3, 9]
    assert [(s.t_start, s.t_end) for s in segments] == [(0, 301), (311, 362), (372, 373)]
    assert segments[0].events["t"].tolist() == [0, 100, 300]
    assert segments[1].events["t"].tolist() == [311, 361]
    assert segments[2].events["t"].tolist() == [372]
    assert [s.dataset_index for s in segments] == [0, 1, 2]
    np.testing.assert_array_equal(segments[0].events["x"], three_recordings.samples[0][0]["x"])


def test_align_none_keeps_recorded_times(three_recordings):
    segments = list(LabelledStream(three_recordings, align="none"))
    assert [(s.t_start, s.t_end) for s in segments] == [(0, 1301), (1301, 1402), (1402, 1408)]
    assert segments[1].events["t"].tolist() == [1351, 1401]


def test_indices_order_and_laziness(three_recordings):
    stream = LabelledStream(three_recordings, indices=[2, 0, 2])
    assert len(stream) == 3
    iterator = iter(stream)
    first = next(iterator)
    assert three_recordings.reads == [2]  # only the first sample has been read
    assert (first.label, first.dataset_index, first.index) == (9, 2, 0)
    rest = list(iterator)
    assert [s.dataset_index for s in rest] == [0, 2]
    assert [s.index for s in rest] == [1, 2]


def test_dataset_duration_is_used():
    bars = streams.SyntheticBars(n_samples=5, duration_us=20_000)
    segments = list(LabelledStream(bars, gap_us=1000))
    assert [s.t_start for s in segments] == [0, 21_000, 42_000, 63_000, 84_000]
    assert all(s.duration_us == 20_000 for s in segments)
    for s, i in zip(segments, range(5)):
        np.testing.assert_array_equal(s.events["t"] - s.t_start, bars[i][0]["t"])  # origin 0, not first event
        assert s.label == bars.labels[i]


def test_fixed_time_scale(three_recordings):
    segments = list(LabelledStream(three_recordings, time_scale=0.5))
    assert segments[0].events["t"].tolist() == [0, 50, 150]
    assert segments[0].t_end == 151  # ceil(301 * 0.5)
    assert segments[1].t_start == 151 and segments[1].events["t"].tolist() == [151, 176]
    assert all(s.time_scale == 0.5 for s in segments)


def test_random_time_scale_per_sample():
    bars = streams.SyntheticBars(n_samples=50, duration_us=10_000)
    stream = LabelledStream(bars, time_scale=(0.1, 1.9), seed=2)
    segments = list(stream)
    scales = np.array([s.time_scale for s in segments])
    assert scales.min() >= 0.1 and scales.max() <= 1.9 and scales.std() > 0.2
    assert [s.duration_us for s in segments] == [int(np.ceil(10_000 * k)) for k in scales]
    for s in segments:
        assert s.events["t"].min() >= s.t_start and s.events["t"].max() < s.t_end
    again = [s.time_scale for s in LabelledStream(bars, time_scale=(0.1, 1.9), seed=2)]
    assert again == scales.tolist()
    with pytest.raises(ValueError, match="time_scale"):
        LabelledStream(bars, time_scale=(1.0, 0.5))


def test_plain_callable_transform(three_recordings):
    def keep_even_x(events):
        return events[events["x"] % 2 == 0]

    segments = list(LabelledStream(three_recordings, transform=keep_even_x))
    assert segments[0].events["t"].tolist() == [0, 300]
    assert segments[0].t_end == 301  # the window comes from the sample as read


def test_transform_output_is_sorted_and_windowed(three_recordings):
    def reverse_and_shift(events):
        shifted = events[::-1].copy()
        shifted["t"] += 200
        return shifted

    segment = next(iter(LabelledStream(three_recordings, transform=reverse_and_shift)))
    assert segment.events["t"].tolist() == [200, 300]  # sorted; the event moved past t_end dropped


@pytest.mark.data
def test_tonic_transforms(nmnist_train):
    import tonic.transforms as T

    dataset = streams.NMNISTFolder(nmnist_train).subset([0, 400])
    plain = list(LabelledStream(dataset))
    denoised = list(LabelledStream(dataset, transform=T.Denoise(filter_time=10_000)))
    for p, d in zip(plain, denoised):
        assert 0 < len(d.events) < len(p.events)
        assert (d.t_start, d.t_end) == (p.t_start, p.t_end)
        # every denoised event is one of the original events
        original = set(map(tuple, p.events[["x", "y", "t", "p"]].tolist()))
        assert set(map(tuple, d.events[["x", "y", "t", "p"]].tolist())) <= original
    downsample = T.Downsample(spatial_factor=0.5)
    halved = list(LabelledStream(dataset, transform=downsample, sensor_size=(17, 17, 2)))
    assert halved[0].events["x"].max() <= 16
    np.testing.assert_array_equal(halved[0].events["x"], plain[0].events["x"] // 2)
    np.testing.assert_array_equal(halved[0].events["t"], plain[0].events["t"])


def test_epochs_and_shuffle():
    bars = streams.SyntheticBars(n_samples=6, duration_us=1000)
    repeated = list(LabelledStream(bars, epochs=2))
    assert [s.dataset_index for s in repeated] == [0, 1, 2, 3, 4, 5] * 2
    assert [s.index for s in repeated] == list(range(12))
    shuffled = LabelledStream(bars, epochs=3, shuffle=True, seed=1)
    orders = [shuffled.order(e).tolist() for e in range(3)]
    assert all(sorted(o) == list(range(6)) for o in orders)
    assert len({tuple(o) for o in orders}) > 1
    assert [s.dataset_index for s in shuffled] == sum(orders, [])
    assert [s.dataset_index for s in shuffled] == [s.dataset_index for s in shuffled]  # replayable


def test_bad_samples_are_reported():
    unsorted = ListDataset([(recording([5, 3]), 0)])
    with pytest.raises(EventStreamError, match="sample 0 of ListDataset: events are not sorted"):
        list(LabelledStream(unsorted))
    negative = ListDataset([(recording([-5, 3]), 0)])
    with pytest.raises(EventStreamError, match="outside"):
        list(LabelledStream(negative, align="none"))
    with pytest.raises(ValueError, match="align"):
        LabelledStream(negative, align="first")
    with pytest.raises(IndexError):
        LabelledStream(negative, indices=[1])


def test_empty_sample_takes_no_time():
    dataset = ListDataset([(recording([]), 1), (recording([4]), 2)])
    segments = list(LabelledStream(dataset, gap_us=3))
    assert [(s.t_start, s.t_end, len(s.events)) for s in segments] == [(0, 0, 0), (3, 4, 1)]
    assert isinstance(segments[0], Segment)
