"""Run directories: lock, atomic files, disk-full saves, metadata, the stored split."""
import json
import os

import numpy as np
import pytest

import streams
from stdpnet.errors import RunDirError
from stdpnet.experiment.config import build_config
from stdpnet.experiment.rundir import CHECKPOINT_FILE, RunDir, StoredSplit, run_metadata


def test_create_writes_config_and_metadata_and_refuses_an_existing_run(tmp_path):
    cfg = build_config(data="synthetic:10")
    with RunDir.create(tmp_path / "r", cfg) as d:
        assert d.config() == cfg
        meta = d.meta()
        import numba
        import stdpnet

        assert (meta["stdpnet"], meta["numpy"], meta["numba"]) == (stdpnet.__version__, np.__version__, numba.__version__)
        assert "git_commit" in meta and "created" in meta
    with pytest.raises(RunDirError, match="already holds a run.*--resume"):
        RunDir.create(tmp_path / "r", cfg)


def test_a_locked_directory_is_refused_until_released(tmp_path):
    cfg = build_config(data="synthetic:10")
    first = RunDir.create(tmp_path / "r", cfg)
    with pytest.raises(RunDirError, match="in use by another run"):
        RunDir.open(tmp_path / "r")
    first.close()
    RunDir.open(tmp_path / "r").close()
    # reading without the lock is allowed while a run writes
    with RunDir.create(tmp_path / "s", cfg):
        assert RunDir.open(tmp_path / "s", lock=False).config() == cfg


def test_partial_tmp_files_are_removed_on_open(tmp_path):
    with RunDir.create(tmp_path / "r", build_config(data="synthetic:10")):
        pass
    (tmp_path / "r" / "checkpoint.npz.tmp").write_bytes(b"half a file")
    with RunDir.open(tmp_path / "r") as d:
        assert not (tmp_path / "r" / "checkpoint.npz.tmp").exists()
        assert d.config().data.source == "synthetic:10"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_keeps_the_last_checkpoint_intact(tmp_path):
    with RunDir.create(tmp_path / "r", build_config(data="synthetic:10")) as d:
        d.save_checkpoint({"a": np.arange(5)})
        before = (tmp_path / "r" / CHECKPOINT_FILE).read_bytes()
        # the temporary file of the next save writes to /dev/full: a real ENOSPC from the kernel
        os.symlink("/dev/full", tmp_path / "r" / (CHECKPOINT_FILE + ".tmp"))
        with pytest.raises(RunDirError, match="disk full.*previous one is intact"):
            d.save_checkpoint({"a": np.arange(10_000)})
        assert (tmp_path / "r" / CHECKPOINT_FILE).read_bytes() == before
        assert not os.path.lexists(tmp_path / "r" / (CHECKPOINT_FILE + ".tmp"))
        os.symlink("/dev/full", tmp_path / "r" / "metrics.json.tmp")
        with pytest.raises(RunDirError, match="disk full"):
            d.write_json("metrics.json", {"x": 1})


def test_a_damaged_json_file_is_a_clear_error(tmp_path):
    with RunDir.create(tmp_path / "r", build_config(data="synthetic:10")):
        pass
    (tmp_path / "r" / "config.json").write_text("{not json")
    with pytest.raises(RunDirError, match="config.json is damaged"):
        RunDir.open(tmp_path / "r").config()
    with pytest.raises(RunDirError, match="not a stdpnet run directory"):
        RunDir.open(tmp_path)


def test_stored_split_finds_named_samples_by_name(tmp_path, bars_folder):
    folder = bars_folder(12)
    src = streams.resolve_source(str(folder))
    train, val = src.split(0.25, seed=0)
    split = StoredSplit.of(src, train, val)
    assert split.train_ids == [src.sample_ids[i] for i in train]
    from .conftest import write_bars_folder

    write_bars_folder(folder, 8, start=12)
    now = streams.resolve_source(str(folder))
    located = StoredSplit.from_dict(json.loads(json.dumps(split.to_dict()))).indices_in(now)
    assert [now.sample_ids[i] for i in located.train] == split.train_ids
    assert [now.sample_ids[i] for i in located.val] == split.val_ids
    assert located.notes and "+8" in located.notes[0]


def test_stored_split_of_unnamed_samples_needs_the_same_data():
    src = streams.resolve_source("synthetic:20", seed=0)
    split = StoredSplit.of(src, *src.split(0.2))
    assert np.array_equal(split.indices_in(streams.resolve_source("synthetic:20", seed=0)).train, split.train)
    with pytest.raises(RunDirError, match="data changed"):
        split.indices_in(streams.resolve_source("synthetic:20", seed=1))  # other labels
    with pytest.raises(RunDirError, match="data changed"):
        split.indices_in(streams.resolve_source("synthetic:21", seed=0))


def test_run_metadata_is_json():
    meta = json.loads(json.dumps(run_metadata()))
    assert meta["python"] and isinstance(meta["argv"], list)
