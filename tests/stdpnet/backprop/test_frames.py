"""Event samples to count images and time bins (numpy only: runs without JAX)."""
import numpy as np
import pytest

import streams
from stdpnet.backprop import frames
from stdpnet.errors import ParameterError, SourceError
from streams.events import make_events

SENSOR = (4, 3, 2)  # W, H, P


def sample():
    # (x, y, t, p): two events at (1, 2, p=1), one at (3, 0, p=0), one at (0, 0, p=1)
    return make_events([1, 3, 1, 0], [2, 0, 2, 0], [0, 10, 55, 99], [1, 0, 1, 1])


def test_count_frames_by_hand():
    frame = frames.count_frames(sample(), SENSOR)
    expected = np.zeros((2, 3, 4), np.float32)
    expected[1, 2, 1] = 2
    expected[0, 0, 3] = 1
    expected[1, 0, 0] = 1
    assert frame.dtype == np.float32
    np.testing.assert_array_equal(frame, expected)


def test_time_bins_by_hand_over_the_sample_span():
    # span = max t + 1 = 100 us, 4 bins of 25 us: t = 0, 10 -> bin 0; 55 -> bin 2; 99 -> bin 3
    bins = frames.time_bins(sample(), SENSOR, 4)
    assert bins.shape == (4, 2, 3, 4)
    assert bins[0, 1, 2, 1] == 1 and bins[0, 0, 0, 3] == 1
    assert bins[2, 1, 2, 1] == 1 and bins[3, 1, 0, 0] == 1
    assert bins.sum() == 4
    np.testing.assert_array_equal(bins.sum(axis=0), frames.count_frames(sample(), SENSOR))


def test_time_bins_fixed_duration_drops_late_events():
    bins = frames.time_bins(sample(), SENSOR, 2, duration_us=60)  # bins [0, 30), [30, 60)
    assert bins[0].sum() == 2 and bins[1].sum() == 1  # t = 99 is outside the window
    assert bins[1, 1, 2, 1] == 1


def test_window_selects_and_shifts_time():
    frame = frames.count_frames(sample(), SENSOR, window_us=(10, 60))
    assert frame.sum() == 2 and frame[0, 0, 3] == 1 and frame[1, 2, 1] == 1
    bins = frames.time_bins(sample(), SENSOR, 2, window_us=(10, 60))  # [10, 35), [35, 60)
    assert bins[0, 0, 0, 3] == 1 and bins[1, 1, 2, 1] == 1 and bins.sum() == 2


def test_time_scale_stretches_recordings():
    stretched = frames.scale_time(sample(), 2.0)
    np.testing.assert_array_equal(stretched["t"], [0, 20, 110, 198])
    # count images ignore time; bins over the sample's own span stretch with it; a fixed window does not
    np.testing.assert_array_equal(frames.count_frames(sample(), SENSOR, time_scale=2.0),
                                  frames.count_frames(sample(), SENSOR))
    np.testing.assert_array_equal(frames.time_bins(sample(), SENSOR, 4, time_scale=2.0),
                                  frames.time_bins(sample(), SENSOR, 4))
    fixed = frames.time_bins(sample(), SENSOR, 4, duration_us=100, time_scale=2.0)
    assert fixed.sum() == 2  # t' = 110 and 198 fall outside [0, 100)


def test_events_outside_the_sensor_name_the_problem():
    bad = make_events([4], [0], [0], [0])
    with pytest.raises(SourceError, match=r"event 0 \(x=4, y=0, p=0\) lies outside the sensor"):
        frames.count_frames(bad, SENSOR)


def test_bad_arguments_raise_parameter_errors():
    with pytest.raises(ParameterError, match="n_bins"):
        frames.time_bins(sample(), SENSOR, 0)
    with pytest.raises(ParameterError, match="window_us"):
        frames.count_frames(sample(), SENSOR, window_us=(5, 5))
    with pytest.raises(ParameterError, match="kind"):
        frames.dataset_arrays(streams.SyntheticBars(n_samples=2), kind="frames")
    with pytest.raises(ParameterError, match="n_bins"):
        frames.dataset_arrays(streams.SyntheticBars(n_samples=2), kind="bins")


def test_dataset_arrays_match_per_sample_functions():
    data = streams.SyntheticBars(n_samples=6, seed=3)
    x, y = frames.dataset_arrays(data, [4, 1], kind="counts")
    assert x.shape == (2, 2, 16, 16) and y.tolist() == [data[4][1], data[1][1]]
    np.testing.assert_array_equal(x[0], frames.count_frames(data[4][0], data.sensor_size))
    xb, _ = frames.dataset_arrays(data, [4], kind="bins", n_bins=5)
    # SyntheticBars declares duration_us: its bins span the whole 50 ms of every sample
    np.testing.assert_array_equal(xb[0], frames.time_bins(data[4][0], data.sensor_size, 5, data.duration_us))
    np.testing.assert_array_equal(xb[0].sum(axis=0), x[0])
