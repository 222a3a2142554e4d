"""The SOURCE resolver: grammar, canonical text, data root, every kind of source, one sensor check."""
from pathlib import Path

import numpy as np
import pytest

import streams
from streams.events import make_events
from streams.sources import (LiveSource, SourceError, canonical_source, check_sensor, data_root, parse_source,
                             require_recorded, resolve_source)


def save(path, xs, ys, ts, ps, sensor=(8, 8, 2)):
    path.parent.mkdir(parents=True, exist_ok=True)
    return streams.save_events(path, make_events(xs, ys, ts, ps), sensor_size=sensor)


# --------------------------------------------------------------------------------------------
# grammar
# --------------------------------------------------------------------------------------------
def test_grammar_and_canonical_text(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert parse_source("synthetic").text == "synthetic:2000"
    assert parse_source("synthetic:30").n_samples == 30
    assert parse_source("nmnist:data/Train").text == f"nmnist:{tmp_path}/data/Train"
    assert parse_source("mnist:a.gz:b.gz").paths == (str(tmp_path / "a.gz"), str(tmp_path / "b.gz"))
    assert parse_source("nmnist:x", base_dir="/base").text == "nmnist:/base/x"
    (tmp_path / "rec.npz").write_bytes(b"")
    (tmp_path / "dir").mkdir()
    assert parse_source("rec.npz").kind == "recording" and parse_source("rec.npz").text == str(tmp_path / "rec.npz")
    assert parse_source("dir").kind == "folder"
    live = parse_source("udp://127.0.0.1:7777")
    assert (live.kind, live.host, live.port) == ("udp", "127.0.0.1", 7777)
    assert canonical_source(canonical_source("nmnist:rel")) == canonical_source("nmnist:rel")


@pytest.mark.parametrize("text, message", [
    ("", "empty data source"),
    ("synthetic:0", r"synthetic:N must be a whole number >= 1"),
    ("synthetic:abc", r"synthetic:N"),
    ("nmnist:", "give the folder"),
    ("mnist:only-one", "mnist:IMAGES:LABELS"),
    ("udp://host", "udp://HOST:PORT"),
    ("udp://host:70000", "1..65535"),
    ("imagenet:/x", "unknown data source 'imagenet:/x'"),
    ("no/such/file.bin", "no such file or folder"),
])
def test_malformed_sources_say_what_is_expected(text, message):
    with pytest.raises(SourceError, match=message):
        parse_source(text)


def test_source_errors_are_event_stream_errors():
    assert issubclass(SourceError, streams.EventStreamError)


# --------------------------------------------------------------------------------------------
# data root: argument > $STDPNET_DATA > ../shared/data relative to the working directory
# --------------------------------------------------------------------------------------------
def test_data_root_precedence(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "env").mkdir()
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "cwd").mkdir()
    monkeypatch.setenv("STDPNET_DATA", str(tmp_path / "env"))
    monkeypatch.chdir(tmp_path / "cwd")
    assert data_root(tmp_path / "a") == tmp_path / "a"
    assert data_root() == tmp_path / "env"
    monkeypatch.delenv("STDPNET_DATA")
    assert data_root() == tmp_path / "shared" / "data"  # ../shared/data from the working directory
    monkeypatch.chdir(tmp_path)
    assert data_root() is None  # never found from the package's own location
    assert data_root(tmp_path / "nope") is None


# --------------------------------------------------------------------------------------------
# kinds
# --------------------------------------------------------------------------------------------
def test_synthetic_source():
    s = resolve_source("synthetic:12", seed=3)
    assert (s.kind, len(s), s.sensor_size, s.labelled, s.n_classes) == ("synthetic", 12, (16, 16, 2), True, 4)
    assert np.array_equal(s.labels, streams.SyntheticBars(n_samples=12, seed=3).labels)
    assert resolve_source("synthetic:2", synthetic_sensor=(34, 34, 2)).sensor_size == (34, 34, 2)
    assert s.sample_ids is None


def test_folder_with_class_subfolders_is_labelled(tmp_path):
    for label, name in ((0, "cat"), (1, "dog"), (1, "dog2")):
        save(tmp_path / "d" / ("cats" if label == 0 else "dogs") / f"{name}.npz", [1], [2], [10], [1])
    s = resolve_source(str(tmp_path / "d"))
    assert s.kind == "folder" and s.labelled and s.sensor_size == (8, 8, 2)
    assert s.sample_ids == ["cats/cat.npz", "dogs/dog.npz", "dogs/dog2.npz"]
    assert s.labels.tolist() == [0, 1, 1] and s.dataset.class_names == ["cats", "dogs"]
    events, label = s.dataset[2]
    assert label == 1 and events["t"].tolist() == [10]


def test_integer_class_folders_keep_their_numbers(tmp_path):
    save(tmp_path / "d" / "10" / "a.npz", [0], [0], [0], [0])
    save(tmp_path / "d" / "2" / "b.npz", [0], [0], [0], [0])
    s = resolve_source(str(tmp_path / "d"))
    assert s.sample_ids == ["2/b.npz", "10/a.npz"] and s.labels.tolist() == [2, 10] and s.n_classes == 11


def test_folder_of_files_is_unlabelled(tmp_path):
    save(tmp_path / "d" / "a.npz", [0], [0], [0], [0])
    save(tmp_path / "d" / "b.npz", [1], [1], [5], [1])
    s = resolve_source(str(tmp_path / "d"))
    assert not s.labelled and s.labels.tolist() == [-1, -1] and s.n_classes == 0
    train, val = s.split(0.2)
    assert train.tolist() == [0, 1] and val.tolist() == []  # nothing to validate without labels


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(streams.EventStreamError, match="holds no recordings"):
        resolve_source(str(tmp_path / "d"))


def test_one_recording_whole_or_in_windows(tmp_path):
    # events at 100, 900, 1000, 2500, 2999 us: windows of 1000 us from the first event (100)
    path = save(tmp_path / "r.npz", [0, 1, 2, 3, 4], [0, 0, 0, 0, 0], [100, 900, 1000, 2500, 2999], [0, 1, 0, 1, 0])
    whole = resolve_source(str(path))
    assert whole.kind == "recording" and len(whole) == 1 and not whole.labelled
    assert len(whole.dataset[0][0]) == 5
    w = resolve_source(str(path), window_us=1000)
    assert len(w) == 3 and w.dataset.duration_us == 1000
    parts = [w.dataset[i][0] for i in range(3)]
    # [100, 1100): 100, 900, 1000; [1100, 2100): none; [2100, 3100): 2500, 2999 -- each relative to its start
    assert [p["t"].tolist() for p in parts] == [[0, 800, 900], [], [400, 899]]
    stream = streams.LabelledStream(w.dataset)
    assert [seg.duration_us for seg in stream] == [1000, 1000, 1000]


def test_a_dataset_object_from_python():
    class TonicLike:  # the tonic protocol: len, [i] -> (events, target), sensor_size, targets
        sensor_size = (8, 8, 2)
        targets = [3, 1]

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return make_events([i], [i], [i * 10], [1]), self.targets[i]

    s = resolve_source(TonicLike())
    assert s.kind == "dataset" and s.labelled and s.labels.tolist() == [3, 1] and s.sensor_size == (8, 8, 2)
    assert s.dataset[1][0]["x"].tolist() == [1]
    with pytest.raises(SourceError, match="no sensor_size"):
        resolve_source(object.__new__(type("NoSensor", (), {"__len__": lambda s: 0, "__getitem__": lambda s, i: 0})))


def test_live_source_is_recognised_and_refused_elsewhere():
    live = resolve_source("udp://localhost:9000")
    assert isinstance(live, LiveSource) and (live.host, live.port) == ("localhost", 9000)
    with pytest.raises(SourceError, match="used by `stdpnet live`.*not by `stdpnet train`"):
        require_recorded(live, "train")


@pytest.mark.data
def test_nmnist_folder_and_plain_folder_agree(data_dir):
    a = resolve_source(f"nmnist:{data_dir / 'nmnist' / 'Train'}")
    b = resolve_source(str(data_dir / "nmnist" / "Train"))
    assert a.text == b.text and a.kind == b.kind == "nmnist" and len(a) == 800
    assert a.sample_ids[:1] == ["0/" + Path(a.dataset.paths[0]).name]
    assert a.fingerprint() == b.fingerprint()


def test_split_is_stratified_seeded_and_capped():
    s = resolve_source("synthetic:40", seed=0)
    train, val = s.split(0.25, seed=1)
    assert len(train) == 30 and len(val) == 10 and not set(train) & set(val)
    # stratified: each class gives a quarter of its samples, within one (largest remainders)
    assert np.abs(np.bincount(s.labels[val], minlength=4) - np.bincount(s.labels) / 4).max() < 1
    again = s.split(0.25, seed=1)
    assert np.array_equal(again[0], train)
    capped = s.split(0.25, seed=1, max_train=7, max_val=3)
    assert len(capped[0]) == 7 and set(capped[0]) <= set(train) and len(capped[1]) == 3
    with pytest.raises(SourceError, match=r"\[0, 1\)"):
        s.split(1.0)


def test_fingerprint_changes_with_the_data():
    a, b = resolve_source("synthetic:20", seed=0), resolve_source("synthetic:20", seed=1)
    assert a.fingerprint() == resolve_source("synthetic:20", seed=0).fingerprint()
    assert a.fingerprint()["labels_sha256"] != b.fingerprint()["labels_sha256"]


def test_one_sensor_check_names_what_fits():
    check_sensor((34, 34, 2), (34, 34, 2))
    with pytest.raises(SourceError) as e:
        check_sensor((16, 16, 2), (34, 34, 2), source="synthetic:10", network="34x34x2-8C5",
                     fits={"synthetic": (16, 16, 2), "nmnist": (34, 34, 2)})
    msg = str(e.value)
    assert "has sensor 16x16x2" in msg and "expects 34x34x2" in msg and "--net synthetic" in msg
    with pytest.raises(SourceError, match="no preset fits"):
        check_sensor((5, 5, 1), (34, 34, 2))


def test_skip_bad_records_and_empties_the_bad_sample(tmp_path):
    save(tmp_path / "d" / "0" / "a.npz", [0], [0], [0], [0])
    (tmp_path / "d" / "0" / "b.bin").write_bytes(b"\x00" * 7)  # a truncated N-MNIST record
    ds = streams.SkipBad(streams.RecordingFolder(tmp_path / "d"))
    assert len(ds[0][0]) == 1 and ds.skipped == {}
    events, label = ds[1]
    assert len(events) == 0 and label == 0 and list(ds.skipped) == [1] and "b.bin" in ds.skipped[1]
    # in a stream the skipped sample is left out: no time, no tick, no sample for a readout
    assert [seg.dataset_index for seg in streams.LabelledStream(ds)] == [0]
