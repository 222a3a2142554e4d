"""The backprop baselines' frames in the continual protocol: one fixed observation window."""
import numpy as np
import pytest

pytest.importorskip("jax")

import streams  # noqa: E402
from streams.tasks import TaskSequence  # noqa: E402
from stdpnet.backprop import count_frames  # noqa: E402
from stdpnet.experiment.continual_backprop import _arrays, observation_window_us  # noqa: E402


def test_frames_cover_a_fixed_window_so_slowed_recordings_are_cut():
    # the window is the longest training recording (last event + 1 us); a recording slowed x4
    # shows only its events before that window ends, one sped up x0.5 all of them
    data = streams.SyntheticBars(n_samples=20, seed=0)
    seq = TaskSequence.build(data, "timescale:0.5,1,4", train_fraction=0.8, seed=0)
    window = observation_window_us([seq.train_dataset(0)])
    train = seq.train_dataset(0)
    assert window == max(int(train[i][0]["t"].max()) + 1 for i in range(len(train)))
    by_name = {t.name: t for t in seq.test_only}
    for name, factor in (("x0.5", 0.5), ("x4", 4.0)):
        ds = seq.test_dataset(by_name[name])
        x, _ = _arrays(ds, "counts", None, window)
        for i in range(len(ds)):
            events, _ = ds[i]
            kept = events[events["t"] < window]
            np.testing.assert_array_equal(x[i], count_frames(kept, data.sensor_size))
            if factor < 1:
                assert len(kept) == len(events)
        assert factor < 1 or x.sum() < sum(len(ds[i][0]) for i in range(len(ds))) * 0.5
    bins, _ = _arrays(seq.test_dataset(by_name["x4"]), "bins", 5, window)
    assert bins.shape[1] == 5 and bins[:, :, ...].sum() == x.sum()
