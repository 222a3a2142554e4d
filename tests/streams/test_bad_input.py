"""Bad input gets a clear error and loses nothing (issue 12, the streams side).

* Fuzzing (hypothesis) of every reader format, starting from the real sample files: truncation at
  record boundaries and inside records and headers, random bytes, flipped bytes and bits. Every
  read ends in a clear error naming the file or a documented result; never another exception
  type, never a hang. Outcome counts are printed at the end of the run (see conftest.py); for a
  large counted run use ``python benchmarks/fuzz_readers.py``.
* Range checks before narrowing wherever events enter (make_events, as_events, .npy/.npz,
  LabelledStream), files cut inside their header, unreadable files.
* Absolute (epoch) timestamps, samples shorter than a tick, labels and class folders.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streams
from streams import EventStreamError, EventStreamWarning, LabelledStream, make_events, read_events, tick_chunks

from . import fuzzing

EPOCH_US = 1_700_000_000_000_000  # 2023-11-14 in microseconds since 1970, as AEDAT4 files count


# --------------------------------------------------------------------------------------------
# Fuzzing every reader
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def layouts(samples_dir):
    return {fmt: fuzzing.seed_layout(fmt, samples_dir) for fmt in fuzzing.FORMATS}


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def fuzz_one(fmt, layouts, fuzz_dir, data, on_bad=None):
    """Draw one mutation of ``fmt``'s seed file, read it, return ``(outcome, detail, mutation)``."""
    layout = layouts[fmt]
    mutation = fuzzing.draw_mutation(layout, lambda lo, hi: data.draw(st.integers(lo, hi)))
    if on_bad is None:
        on_bad = data.draw(st.sampled_from(["raise", "drop"]))
    path = fuzz_dir / f"fuzzed{fuzzing.SUFFIXES[fmt]}"
    path.write_bytes(mutation.apply(layout))
    try:
        with fuzzing.time_limit(20.0):
            outcome, detail = fuzzing.classify(path, on_bad)
    except fuzzing.Timeout as error:
        outcome, detail = fuzzing.HANG, str(error)
    fuzzing.record(fmt, outcome)
    return outcome, detail, mutation, on_bad


FUZZ_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.data
@pytest.mark.parametrize("fmt", fuzzing.FORMATS)
@settings(max_examples=30, **FUZZ_SETTINGS)
@given(data=st.data())
def test_fuzzed_file_gives_clear_error_or_documented_result(fmt, layouts, fuzz_dir, data):
    outcome, detail, mutation, on_bad = fuzz_one(fmt, layouts, fuzz_dir, data)
    assert outcome in fuzzing.GOOD_OUTCOMES, f"{fmt} {mutation} on_bad={on_bad}: {outcome}: {detail}"


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("fmt", fuzzing.FORMATS)
@settings(max_examples=600, **FUZZ_SETTINGS)
@given(data=st.data())
def test_fuzzed_file_many_examples(fmt, layouts, fuzz_dir, data):
    outcome, detail, mutation, on_bad = fuzz_one(fmt, layouts, fuzz_dir, data)
    assert outcome in fuzzing.GOOD_OUTCOMES, f"{fmt} {mutation} on_bad={on_bad}: {outcome}: {detail}"


@pytest.mark.data
@pytest.mark.parametrize("fmt", fuzzing.FORMATS)
def test_every_record_boundary_cut_is_handled(fmt, layouts, fuzz_dir):
    """Truncation at (about 32 evenly spread) record boundaries, inside the header and 1 byte
    into a record: a clear error or a documented result, in both on_bad modes."""
    layout = layouts[fmt]
    boundaries = layout.boundaries
    picks = sorted(set(boundaries[:: max(1, len(boundaries) // 32)]) | {boundaries[0], boundaries[-1]})
    cuts = picks + [b + 1 for b in picks[:-1]] + list(range(1, layout.header_end, max(1, layout.header_end // 16)))
    for cut in cuts:
        path = fuzz_dir / f"cut{fuzzing.SUFFIXES[fmt]}"
        path.write_bytes(layout.data[:cut])
        for on_bad in ("raise", "drop"):
            outcome, detail = fuzzing.classify(path, on_bad)
            fuzzing.record(fmt, outcome)
            assert outcome in fuzzing.GOOD_OUTCOMES, f"{fmt} cut at {cut} on_bad={on_bad}: {outcome}: {detail}"


@pytest.mark.data
def test_guarded_worker_sees_no_crash_or_hang(samples_dir, tmp_path):
    """A few cases per format in a separate process: a native crash or a hang would be counted."""
    counts, failures = fuzzing.run_report(samples_dir, tmp_path, cases_per_format=8, seed=12, timeout_s=60)
    assert not failures, failures[:3]
    assert sum(sum(row.values()) for row in counts.values()) == 8 * len(fuzzing.FORMATS)


def test_guarded_worker_reports_a_crash_and_a_hang(tmp_path):
    """The worker harness itself: a process killed by a signal mid-read is a crash, a silent one
    a hang, and the reader recovers with a fresh worker after either."""
    segfault = "import os, sys; sys.stdin.readline(); os.kill(os.getpid(), 11)"
    with fuzzing.GuardedReader(timeout_s=5, command=[sys.executable, "-c", segfault]) as reader:
        assert reader.classify(tmp_path / "x.bin") == (fuzzing.CRASH, "worker died: signal 11 (SIGSEGV)")
        assert reader.classify(tmp_path / "x.bin")[0] == fuzzing.CRASH  # restarted, crashed again
    silent = "import sys, time; sys.stdin.readline(); time.sleep(60)"
    with fuzzing.GuardedReader(timeout_s=1, command=[sys.executable, "-c", silent]) as reader:
        assert reader.classify(tmp_path / "x.bin") == (fuzzing.HANG, "no answer within 1 s")


# --------------------------------------------------------------------------------------------
# Range checks before narrowing
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("x, y, t, p, message", [
    ([40000], [1], [5], [1], r"field 'x' of event 0 is 40000, outside the int16 range"),
    ([1, 2], [1, -40000], [5, 6], [1, 0], r"field 'y' of event 1 is -40000"),
    ([1], [1], [2**63], [1], r"field 't' of event 0 is 9223372036854775808, outside the int64 range"),
    ([1], [1], [np.nan], [1], r"field 't' of event 0 is nan, not a finite number"),
    ([1], [1], [np.inf], [1], r"field 't' of event 0 is inf"),
    ([1.5], [1], [5], [1], r"field 'x' of event 0 is 1.5, not a whole number"),
    ([1], [1], [0.25], [1], r"field 't' .* not a whole number.*microseconds"),
    ([1], [1], [5], [300], r"field 'p' of event 0 is 300, outside the int8 range"),
    ([1], [1], ["5"], [1], r"field 't' has type <U1, not a number"),
    ([1], [1], [5 + 1j], [1], r"field 't' has type complex128"),
    ([[1]], [1], [5], [1], r"x must be a 1-D sequence"),
    ([1, 2], [1], [5], [1], r"equal lengths, got 2, 1, 1, 1"),
])
def test_make_events_checks_before_narrowing(x, y, t, p, message):
    with pytest.raises(EventStreamError, match=message):
        make_events(x, y, t, p)


def test_make_events_keeps_valid_extremes():
    events = make_events([0, 32767], [-32768, 5], [-(2**63), 2**63 - 1], [True, False])
    assert events.tolist() == [(0, -32768, -(2**63), 1), (32767, 5, 2**63 - 1, 0)]
    floats = make_events(np.array([3.0]), np.array([4.0]), np.array([1e15]), np.array([1.0]))
    assert floats.tolist() == [(3, 4, 10**15, 1)]


def test_as_events_names_wrong_fields_and_types():
    renamed = np.zeros(2, dtype=[("x", "<i4"), ("y", "<i4"), ("ts", "<i8"), ("pol", "i1")])
    with pytest.raises(EventStreamError, match=r"src: .*lacks field\(s\) \['t', 'p'\].*'ts' -> 't', 'pol' -> 'p'"):
        streams.as_events(renamed, "src")
    with pytest.raises(EventStreamError, match=r"src: expected a structured array.*plain int64 array of shape \(3, 4\)"):
        streams.as_events(np.zeros((3, 4), np.int64), "src")
    nested = np.zeros(2, dtype=[("x", "<i2", (2,)), ("y", "<i2"), ("t", "<i8"), ("p", "i1")])
    with pytest.raises(EventStreamError, match=r"field 'x' has the nested type"):
        streams.as_events(nested, "src")
    wide = np.zeros(3, dtype=[("x", "<u2"), ("y", "<u2"), ("t", "<u8"), ("p", "?")])
    wide["x"][2] = 40000  # aedat's uint16 x beyond int16
    with pytest.raises(EventStreamError, match=r"src: field 'x' of event 2 is 40000"):
        streams.as_events(wide, "src")


def save_npy(path, array):
    np.save(path, array, allow_pickle=False)
    return path


def test_npy_with_bad_values_or_fields(tmp_path):
    floats = np.zeros(3, dtype=[("x", "<f8"), ("y", "<f8"), ("t", "<f8"), ("p", "<f8")])
    floats["t"] = [1.0, 2.5, 3.0]
    with pytest.raises(EventStreamError, match=r"floats\.npy: field 't' of event 1 is 2\.5, not a whole number"):
        read_events(save_npy(tmp_path / "floats.npy", floats))
    floats["t"] = [1.0, np.nan, 3.0]
    with pytest.raises(EventStreamError, match=r"nan\.npy: field 't' of event 1 is nan"):
        read_events(save_npy(tmp_path / "nan.npy", floats))
    big = np.zeros(2, dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
    big["x"] = [1, 70000]
    with pytest.raises(EventStreamError, match=r"big\.npy: field 'x' of event 1 is 70000"):
        read_events(save_npy(tmp_path / "big.npy", big))
    with pytest.raises(EventStreamError, match=r"plain\.npy: expected a 1-D structured array"):
        read_events(save_npy(tmp_path / "plain.npy", np.zeros((5, 4))))
    named = np.zeros(2, dtype=[("x", "<i2"), ("y", "<i2"), ("timestamp", "<i8"), ("p", "i1")])
    with pytest.raises(EventStreamError, match=r"named\.npy: .*'timestamp' -> 't'"):
        read_events(save_npy(tmp_path / "named.npy", named))
    np.savez(tmp_path / "obj.npz", events=np.array([{"x": 1}], dtype=object))
    with pytest.raises(EventStreamError, match=r"obj\.npz.*Python objects"):
        read_events(tmp_path / "obj.npz")
    np.savez(tmp_path / "size.npz", events=make_events([1], [1], [1], [1]), sensor_size=np.array([34.5, 34, 2]))
    with pytest.raises(EventStreamError, match=r"size\.npz \(array 'sensor_size'\): a sensor size is three whole numbers"):
        read_events(tmp_path / "size.npz")


def test_npy_header_must_announce_exactly_the_data(tmp_path):
    events = make_events(np.arange(10) % 5, np.zeros(10, int), np.arange(10), np.zeros(10, int))
    data = io.BytesIO()
    np.save(data, events)
    raw = data.getvalue()
    # a flipped digit in the shape that would make numpy silently read fewer events
    header_end = len(raw) - events.nbytes
    shrunk = raw[:header_end].replace(b"(10,)", b"(9,) ") + raw[header_end:]
    (tmp_path / "shrunk.npy").write_bytes(shrunk)
    with pytest.raises(EventStreamError, match=r"shrunk\.npy: the NumPy header announces 9 events \(117 bytes\) but 130"):
        read_events(tmp_path / "shrunk.npy")
    (tmp_path / "cut.npy").write_bytes(raw[:-20])
    with pytest.raises(EventStreamError, match=r"cut\.npy: the NumPy header announces 10 events"):
        read_events(tmp_path / "cut.npy")
    with pytest.warns(EventStreamWarning, match=r"cut\.npy: truncated \.npy file: read the 8 whole events of 10"):
        partial, _ = read_events(tmp_path / "cut.npy", on_bad="drop")
    np.testing.assert_array_equal(partial, events[:8])


def test_labelled_stream_checks_what_the_dataset_returns():
    class Returns:
        sensor_size = (8, 8, 2)

        def __init__(self, events, label):
            self.item = (events, label)

        def __len__(self):
            return 1

        def __getitem__(self, i):
            return self.item

    good = make_events([1], [1], [5], [1])
    floats = np.zeros(1, dtype=[("x", "<f8"), ("y", "<f8"), ("t", "<f8"), ("p", "<f8")])
    floats["x"] = 1.5
    cases = [
        (Returns(floats, 0), r"sample 0 of Returns: field 'x' of event 0 is 1\.5"),
        (Returns(make_events([9], [1], [5], [1]), 0), r"sample 0 of Returns: event 0 \(x=9, y=1, p=1\) is outside the stream's sensor 8x8x2"),
        (Returns(good, 2.5), r"sample 0 of Returns: label 2\.5 is not a class number"),
        (Returns(good, None), r"label None is not a class number"),
        (Returns(good, -2), r"label -2 is not a class number"),
        (Returns(good, "3"), r"label '3' is not a class number"),
        (Returns(np.zeros((2, 4)), 0), r"sample 0 of Returns: expected a structured array"),
    ]
    for dataset, message in cases:
        with pytest.raises(EventStreamError, match=message):
            list(LabelledStream(dataset))
    assert next(iter(LabelledStream(Returns(good, np.int64(3))))).label == 3
    assert next(iter(LabelledStream(Returns(good, 4.0)))).label == 4
    assert next(iter(LabelledStream(Returns(good, -1)))).label == -1  # unlabelled


# --------------------------------------------------------------------------------------------
# Files cut inside their header, unreadable files
# --------------------------------------------------------------------------------------------
@pytest.mark.data
@pytest.mark.parametrize("name, cut, message", [
    ("prophesee_evt2_sample.raw", 60, r"ends inside its Prophesee \.raw header"),
    ("prophesee_evt3_sample.raw", 11, r"ends inside its Prophesee \.raw header"),
    ("mnist_dvs_0_scale04_0001.aedat", 100, r"ends inside its AEDAT 2\.0 header"),
    ("mnist_dvs_0_scale04_0001.aedat", 216, r"ends inside its AEDAT 2\.0 header"),  # at the last header line's end
    ("mnist_dvs_0_scale04_0001.aedat", 5, r"ends inside its AEDAT header"),
    ("sample.aedat4", 10, r"ends inside its AEDAT header"),
    ("sample.aedat4", 16, r"ends inside its AEDAT4 header"),
    ("sample.aedat4", 500, r"ends inside its AEDAT4 header \(the IOHeader needs 2316 bytes"),
    ("sample_ncars.dat", 30, r"ends inside its Prophesee \.dat header"),
])
def test_cut_inside_header_is_an_error(samples_dir, tmp_path, name, cut, message):
    path = tmp_path / name
    path.write_bytes((samples_dir / name).read_bytes()[:cut])
    for on_bad in ("raise", "drop"):
        with pytest.raises(EventStreamError, match=rf"{path.name.replace('.', '[.]')}: .*{message}"):
            read_events(path, on_bad=on_bad)


def test_complete_header_without_data_is_an_empty_recording(tmp_path):
    """A header that says it is complete, then no event: zero events, not an error."""
    aedat2 = tmp_path / "empty.aedat"
    aedat2.write_bytes(b"#!AER-DAT2.0\r\n# made by a test\r\n#End Of ASCII Header\r\n")
    events, size = read_events(aedat2)
    assert len(events) == 0 and size == (128, 128, 2)
    raw = tmp_path / "empty.raw"
    raw.write_bytes(b"% evt 3.0\n% geometry 640x480\n% end\n")
    events, size = read_events(raw)
    assert len(events) == 0 and size == (640, 480, 2)
    dat = tmp_path / "empty.dat"
    dat.write_bytes(b"% Width 304\n% Height 240\n" + bytes([12, 8]))
    events, size = read_events(dat)
    assert len(events) == 0 and size == (304, 240, 2)
    npy = streams.save_events(tmp_path / "empty.npy", make_events([], [], [], []))
    assert len(read_events(npy)[0]) == 0


def test_cut_npy_header_is_an_error(tmp_path):
    data = io.BytesIO()
    np.save(data, make_events([1], [1], [1], [1]))
    for cut in (3, 9, 40):
        path = tmp_path / f"cut{cut}.npy"
        path.write_bytes(data.getvalue()[:cut])
        with pytest.raises(EventStreamError, match=rf"cut{cut}\.npy: .*(header|NumPy)"):
            read_events(path)


@pytest.mark.parametrize("suffix", [".bin", ".aedat", ".aedat4", ".raw", ".dat", ".npy", ".npz"])
def test_random_bytes_name_the_file(tmp_path, suffix):
    rng = np.random.default_rng(len(suffix))
    for i in range(20):
        path = tmp_path / f"noise{i}{suffix}"
        path.write_bytes(rng.integers(0, 256, int(rng.integers(1, 3000)), dtype=np.uint8).tobytes())
        for on_bad in ("raise", "drop"):
            outcome, detail = fuzzing.classify(path, on_bad)
            assert outcome in fuzzing.GOOD_OUTCOMES, f"{path.name} {on_bad}: {outcome}: {detail}"


def test_directory_pipe_and_corrupt_npz(tmp_path):
    (tmp_path / "folder.bin").mkdir()
    with pytest.raises(EventStreamError, match=r"folder\.bin: is a directory"):
        read_events(tmp_path / "folder.bin")
    os.mkfifo(tmp_path / "pipe.bin")  # opening it for reading would block: it must never be opened
    with pytest.raises(EventStreamError, match=r"pipe\.bin: not a regular file"):
        read_events(tmp_path / "pipe.bin")
    good = streams.save_events(tmp_path / "good.npz", make_events([1, 2], [1, 2], [1, 2], [0, 1]), (4, 4, 2))
    data = good.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(EventStreamError, match=r"cut\.npz: cannot load the \.npz file: corrupt or truncated"):
        read_events(tmp_path / "cut.npz")
    flipped = bytearray(data)
    flipped[data.index(b"\x93NUMPY") + 150] ^= 0xFF  # inside the events' bytes: CRC mismatch
    (tmp_path / "crc.npz").write_bytes(bytes(flipped))
    with pytest.raises(EventStreamError, match=r"crc\.npz: cannot load the \.npz file.*CRC"):
        read_events(tmp_path / "crc.npz")


_READ_AS_NOBODY = """
import json, os, sys
import streams  # imported before dropping privileges: the interpreter lives under /root
os.setgid(65534); os.setuid(65534)
try:
    streams.read_events(sys.argv[1])
    print(json.dumps(["result", ""]))
except streams.EventStreamError as error:
    print(json.dumps(["EventStreamError", str(error)]))
except Exception as error:
    print(json.dumps([type(error).__name__, str(error)]))
"""


def test_unreadable_file_is_a_clear_error(nmnist_bytes):
    folder = Path(tempfile.mkdtemp(prefix="stdpnet-perm-"))
    try:
        folder.chmod(0o755)
        path = folder / "locked.bin"
        path.write_bytes(nmnist_bytes([1], [1], [1], [1]))
        path.chmod(0)
        if os.geteuid() != 0:
            with pytest.raises(EventStreamError, match=r"locked\.bin: cannot read the file: Permission denied"):
                read_events(path)
            return
        # root reads anything: read as user 'nobody' in a child process instead
        repo = Path(__file__).resolve().parents[2]
        env = dict(os.environ, PYTHONPATH=str(repo))
        answer = subprocess.run([sys.executable, "-c", _READ_AS_NOBODY, str(path)], env=env,
                                capture_output=True, text=True, timeout=120)
        kind, message = json.loads(answer.stdout.strip().splitlines()[-1])
        assert kind == "EventStreamError", (kind, message, answer.stderr[-500:])
        assert "locked.bin: cannot read the file: Permission denied" in message
    finally:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()


# --------------------------------------------------------------------------------------------
# Absolute timestamps
# --------------------------------------------------------------------------------------------
class Recordings:
    """A labelled data set of hand-made recordings."""

    sensor_size = (8, 8, 2)

    def __init__(self, *samples):
        self.samples = list(samples)
        self.labels = np.array([label for _, label in self.samples])

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


def recording(times):
    n = len(times)
    return make_events(np.arange(n) % 8, np.zeros(n, int), times, np.arange(n) % 2)


def test_epoch_timestamps_are_rebased_to_the_first_event():
    dataset = Recordings((recording([EPOCH_US, EPOCH_US + 2500, EPOCH_US + 4000]), 3),
                         (recording([EPOCH_US + 10**9, EPOCH_US + 10**9 + 1200]), 5))
    segments = list(LabelledStream(dataset, gap_us=100))
    assert [(s.t_start, s.t_end) for s in segments] == [(0, 4001), (4101, 5302)]
    assert segments[0].events["t"].tolist() == [0, 2500, 4000]
    assert segments[1].events["t"].tolist() == [4101, 5301]
    chunks = list(tick_chunks(segments, dt_us=1000))
    assert sum(c.n_ticks for c in chunks) == 6  # 5.3 ms of stream, not decades
    labels = np.concatenate([c.label for c in chunks])
    assert labels.tolist() == [3, 3, 3, 3, 3, 5]


def test_epoch_timestamps_given_raw_are_refused_quickly():
    dataset = Recordings((recording([EPOCH_US, EPOCH_US + 2500]), 3))
    with fuzzing.time_limit(10.0):
        with pytest.raises(EventStreamError, match=r"stream segment 0 \(label 3\): 1700000000000000 us "
                                                   r"\(53\.9 years\) without any event.*absolute.*align='zero'"):
            next(tick_chunks(LabelledStream(dataset, align="none"), dt_us=1000))
        raw = [streams.Segment(0, 1, EPOCH_US, EPOCH_US + 10, recording([EPOCH_US, EPOCH_US + 5]))]
        with pytest.raises(EventStreamError, match=r"1700000000000000 us .* 1700000000000 empty ticks"):
            list(tick_chunks(raw, dt_us=1000))
        # a corrupt event far after the others inside one sample: the same check
        spike = [streams.Segment(0, 1, 0, 10**13, recording([0, 5, 10**13 - 1]))]
        with pytest.raises(EventStreamError, match=r"up to t = 9999999999999 us"):
            list(tick_chunks(spike, dt_us=1000))


def test_long_silence_limit_is_adjustable():
    quiet = [streams.Segment(0, 1, 0, 5000, recording([0, 4999]))]
    with pytest.raises(EventStreamError, match=r"4999 us .* without any event"):
        list(tick_chunks(quiet, dt_us=1000, max_gap_us=4000))
    assert sum(c.n_ticks for c in tick_chunks(quiet, dt_us=1000, max_gap_us=5000)) == 5
    assert sum(c.n_ticks for c in tick_chunks(quiet, dt_us=1000, max_gap_us=None)) == 5


# --------------------------------------------------------------------------------------------
# No sample vanishes
# --------------------------------------------------------------------------------------------
def test_sample_shorter_than_a_tick_owns_a_tick():
    # 0: 2.3 ms; 1: 300 us inside tick 2 (holds no tick start); 2: empty; 3: one event
    dataset = Recordings((recording([0, 1000, 2299]), 7), (recording([0, 299]), 4),
                         (recording([]), 9), (recording([0]), 2))
    plain = list(LabelledStream(dataset))  # laid out without knowing the tick
    assert [(s.t_start, s.t_end) for s in plain] == [(0, 2300), (2300, 2600), (2600, 2600), (2600, 2601)]
    with pytest.raises(EventStreamError, match=r"stream segment 1 \(label 4\): its interval \[2300, 2600\) us "
                                               r"holds no tick start at dt_us=1000.*LabelledStream\(\.\.\., dt_us=1000\)"):
        list(tick_chunks(plain, dt_us=1000))
    segments = list(LabelledStream(dataset, dt_us=1000))
    # sample 1 is delayed to the next tick boundary, the empty sample lasts 1 us on a boundary
    assert [(s.t_start, s.t_end) for s in segments] == [(0, 2300), (3000, 3300), (4000, 4001), (5000, 5001)]
    assert segments[1].events["t"].tolist() == [3000, 3299]
    chunks = list(tick_chunks(segments, dt_us=1000))
    label = np.concatenate([c.label for c in chunks])
    sample = np.concatenate([c.sample for c in chunks])
    assert label.tolist() == [7, 7, 7, 4, 9, 2]
    assert sample.tolist() == [0, 0, 0, 1, 2, 3]
    # the short sample's events are in the tick that carries its label
    events = np.concatenate([c.events for c in chunks])
    assert [e["t"] for e in events if 3000 <= e["t"] < 4000] == [3000, 3299]
    # given the stream itself, tick_chunks lays it out with its dt_us: the same chunks
    again = list(tick_chunks(LabelledStream(dataset), dt_us=1000))
    assert np.concatenate([c.label for c in again]).tolist() == label.tolist()
    np.testing.assert_array_equal(np.concatenate([c.events for c in again]), events)


@settings(max_examples=60, deadline=None)
@given(
    durations=st.lists(st.integers(0, 3000), min_size=1, max_size=8),
    gap=st.integers(0, 1500),
    dt=st.integers(1, 2500),
    origin=st.sampled_from([0, 12345, EPOCH_US]),
)
def test_no_sample_vanishes_property(durations, gap, dt, origin):
    """Every sample of any length (empty included) owns >= 1 tick carrying its label, whether the
    stream was given dt_us or tick_chunks filled it in, and every event reaches exactly one tick."""
    samples = []
    for k, duration in enumerate(durations):
        times = [] if duration == 0 else sorted({origin, origin + duration - 1, origin + duration // 2})
        samples.append((recording(times), k % 10))
    dataset = Recordings(*samples)
    stream = LabelledStream(dataset, gap_us=gap, dt_us=None if len(durations) % 2 else dt)  # both ways
    chunks = list(tick_chunks(stream, dt_us=dt))
    sample = np.concatenate([c.sample for c in chunks])
    label = np.concatenate([c.label for c in chunks])
    assert set(sample[sample >= 0].tolist()) == set(range(len(durations)))
    for k in range(len(durations)):
        assert set(label[sample == k].tolist()) == {k % 10}
    assert sum(len(c.events) for c in chunks) == sum(len(e) for e, _ in samples)


# --------------------------------------------------------------------------------------------
# Labels and class folders
# --------------------------------------------------------------------------------------------
def nmnist_folder(root: Path, folders, nmnist_bytes) -> Path:
    for name in folders:
        (root / name).mkdir(parents=True)
        (root / name / "00001.bin").write_bytes(nmnist_bytes([1, 2], [3, 4], [10, 20], [0, 1]))
    return root


@pytest.mark.parametrize("odd", ["10", "07", "x"])
def test_class_folders_must_be_single_digits(tmp_path, nmnist_bytes, odd):
    root = nmnist_folder(tmp_path / "Train", ["0", "7", odd], nmnist_bytes)
    with pytest.raises(EventStreamError, match=rf"Train/{odd}: not an N-MNIST class folder: class folders are named 0 to 9"):
        streams.NMNISTFolder(root)


def test_hidden_folders_and_other_files_are_ignored(tmp_path, nmnist_bytes):
    root = nmnist_folder(tmp_path / "Train", ["3", ".ipynb_checkpoints"], nmnist_bytes)
    (root / "README.txt").write_text("notes")
    (root / "3" / "notes.txt").write_text("not a recording")
    dataset = streams.NMNISTFolder(root)
    assert len(dataset) == 1 and dataset.classes == [3]


def test_only_odd_folders_is_not_an_nmnist_folder(tmp_path, nmnist_bytes):
    root = nmnist_folder(tmp_path / "Train", ["07", "10"], nmnist_bytes)
    with pytest.raises(EventStreamError, match=r"not an N-MNIST folder.*\(07, 10\) are not class folders"):
        streams.NMNISTFolder(root)


def test_on_bad_skip_lists_skipped_files(tmp_path, nmnist_bytes):
    root = nmnist_folder(tmp_path / "Train", ["1", "2"], nmnist_bytes)
    (root / "1" / "00002.bin").write_bytes(nmnist_bytes([1], [1], [5], [0])[:-2])  # truncated
    (root / "2" / "00002.bin").write_bytes(nmnist_bytes([40], [1], [5], [0]))       # outside 34x34
    (root / "2" / "00003.bin").write_bytes(b"")                                     # empty
    with pytest.raises(EventStreamError, match="truncated"):
        streams.NMNISTFolder(root)[1]
    with pytest.warns(EventStreamWarning, match=r"skipped 3 of 5 recording\(s\).*see dataset\.skipped"):
        dataset = streams.NMNISTFolder(root, on_bad="skip")
    assert [p.relative_to(root).as_posix() for p in dataset.paths] == ["1/00001.bin", "2/00001.bin"]
    assert dataset.labels.tolist() == [1, 2]
    skipped = {s.path.relative_to(root).as_posix(): s.reason for s in dataset.skipped}
    assert set(skipped) == {"1/00002.bin", "2/00002.bin", "2/00003.bin"}
    assert "truncated" in skipped["1/00002.bin"]
    assert "outside the sensor 34x34x2" in skipped["2/00002.bin"]
    assert "empty file" in skipped["2/00003.bin"]
    assert all(isinstance(s, streams.SkippedFile) for s in dataset.skipped)
    with pytest.warns(EventStreamWarning):
        info = streams.describe(root, on_bad="skip")
    assert info["samples"] == 2 and len(info["skipped"]) == 3


def test_on_bad_skip_with_nothing_readable(tmp_path):
    (tmp_path / "T" / "0").mkdir(parents=True)
    (tmp_path / "T" / "0" / "a.bin").write_bytes(b"\x01\x02")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStreamWarning)
        with pytest.raises(EventStreamError, match=r"none of the 1 recordings can be read"):
            streams.NMNISTFolder(tmp_path / "T", on_bad="skip")


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def test_mnist_labels_outside_the_class_range(tmp_path):
    (tmp_path / "i.idx").write_bytes(idx_bytes(np.zeros((3, 28, 28), np.uint8), 0x08))
    (tmp_path / "l.idx").write_bytes(idx_bytes(np.array([1, 12, 3], np.uint8), 0x08))
    with pytest.raises(EventStreamError, match=r"l\.idx: label 1 is 12, outside the classes 0\.\.9"):
        streams.MNISTImages(tmp_path / "i.idx", tmp_path / "l.idx")
    assert streams.MNISTImages(tmp_path / "i.idx", tmp_path / "l.idx", n_classes=13).labels.tolist() == [1, 12, 3]


def test_idx_cut_inside_its_dimensions(tmp_path):
    (tmp_path / "cut.idx").write_bytes(idx_bytes(np.zeros((2, 3, 4), np.uint8), 0x08)[:9])
    with pytest.raises(EventStreamError, match=r"cut\.idx: truncated IDX file: the header announces 3 dimensions"):
        streams.read_idx(tmp_path / "cut.idx")
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b" + bytes(30))
    with pytest.raises(EventStreamError, match=r"bad\.gz: cannot decompress gzip IDX file"):
        streams.read_idx(tmp_path / "bad.gz")


int64 = st.integers(-(2**63), 2**63 - 1)


@settings(max_examples=150, deadline=None)
@given(
    samples=st.lists(st.tuples(st.lists(int64, max_size=4), st.integers(-3, 12)), min_size=1, max_size=4),
    align=st.sampled_from(["zero", "none"]),
    scale=st.sampled_from([1.0, 0.5, 1.9]),
    dt=st.sampled_from([1, 1000, 10**9]),
    with_dt=st.booleans(),
)
def test_hostile_timestamps_give_a_clear_error_or_valid_ticks(samples, align, scale, dt, with_dt):
    """Any int64 timestamps and labels: the stream and the tick cutter raise EventStreamError or
    give gap-free ticks holding every event once (never an overflow or another exception).
    Silences are capped at 1000 ticks so that a valid stream stays small enough to check."""
    dataset = Recordings(*[(recording(sorted(times)), label) for times, label in samples])
    stream = LabelledStream(dataset, align=align, time_scale=scale, dt_us=dt if with_dt else None)
    with fuzzing.time_limit(20.0):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # e.g. numpy's "invalid value encountered in cast"
                chunks = list(tick_chunks(stream, dt_us=dt, max_ticks=10**6, max_gap_us=1000 * dt))
        except EventStreamError:
            return
    expected = 0 if not chunks else chunks[0].start_tick
    for chunk in chunks:
        assert chunk.start_tick == expected
        expected += chunk.n_ticks
        k = chunk.start_tick + np.repeat(np.arange(chunk.n_ticks), np.diff(chunk.offsets))
        assert np.array_equal(chunk.events["t"] // dt, k)
    assert sum(len(c.events) for c in chunks) == sum(len(times) for times, _ in samples)
