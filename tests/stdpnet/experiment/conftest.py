import numpy as np
import pytest

import streams
from stdpnet import checkpoint


def write_bars_folder(root, n, seed=3, labelled=True, start=0):
    """``n`` synthetic moving-bar samples saved as .npz recordings: ``root/<class>/s<i>.npz``
    (labelled) or ``root/s<i>.npz``; sample i is SyntheticBars(seed)[start + i]."""
    bars = streams.SyntheticBars(n_samples=start + n, seed=seed)
    for i in range(start, start + n):
        events, label = bars[i]
        folder = root / str(label) if labelled else root
        folder.mkdir(parents=True, exist_ok=True)
        streams.save_events(folder / f"s{i:04d}.npz", events, sensor_size=bars.sensor_size)
    return root


@pytest.fixture
def bars_folder(tmp_path):
    return lambda n, **kw: write_bars_folder(tmp_path / "bars", n, **kw)


def load_state(run_dir):
    return checkpoint.load(run_dir / "checkpoint.npz")


def flat_arrays(tree, prefix=""):
    """Every array of a nested state dict, by key path."""
    out = {}
    if isinstance(tree, dict):
        for k, v in tree.items():
            out.update(flat_arrays(v, f"{prefix}/{k}"))
    elif isinstance(tree, np.ndarray):
        out[prefix] = tree
    return out


def assert_same_learning(dir_a, dir_b):
    """Two runs' checkpoints hold the same network and readout, array by array."""
    a, b = load_state(dir_a), load_state(dir_b)
    fa, fb = flat_arrays({"network": a["network"], "readout": a["readout"]}), \
        flat_arrays({"network": b["network"], "readout": b["readout"]})
    assert fa.keys() == fb.keys()
    for key in fa:
        assert np.array_equal(fa[key], fb[key]), key
    assert a["network"]["now"] == b["network"]["now"]


class RecordedBar:
    """A bar that remembers what it was told (the interface tqdm offers)."""

    def __init__(self, total, desc, initial):
        self.total, self.initial, self.n, self.descs, self.closed = total, initial, initial, [desc], False

    def update(self, n=1):
        self.n += n

    def set_description(self, desc, refresh=True):
        self.descs.append(desc)

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        self.closed = True


def recorded_progress():
    """A :class:`Progress` keeping every bar and note, for checking what a user would see."""
    from stdpnet.experiment.loop import Progress

    class Recorded(Progress):
        enabled = True

        def __init__(self):
            self.bars, self.notes = [], []

        def bar(self, total, desc, *, initial=0, unit="sample", elapsed_only=False):
            self.bars.append(RecordedBar(total, desc, initial))
            return self.bars[-1]

        def note(self, line):
            self.notes.append(line)

    return Recorded()
