"""Readers: every sample file with pinned counts, and hand-made corrupt files."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

import streams
from streams import EVENT_DTYPE, EventStreamError, EventStreamWarning, read_events

# name -> (format, events, sensor size, first t, last t, OFF/ON counts); computed once, pinned.
SAMPLES = {
    "sample_nmnist.bin": ("nmnist", 4325, (34, 34, 2), 654, 311175, None),
    "sample.aedat4": ("aedat4", 111954, (320, 240, 2), 1605537493718345, 1605537494308262, None),
    "mnist_dvs_0_scale04_0001.aedat": ("aedat2", 15744, (128, 128, 2), 0, 2210588, (7874, 7870)),
    "prophesee_evt2_sample.raw": ("evt2", 539481, (640, 480, 2), 1317888, 1367888, None),
    # t = time_high << 12 | time_low (Prophesee); expelliarmus 1.1 ends at 11772513 (see streams.evt)
    "prophesee_evt3_sample.raw": ("evt3", 219596, (1280, 720, 2), 11718656, 11727457, None),
    "sample_ncars.dat": ("dat", 2009, (78, 42, 2), 0, 99952, None),
}


# --------------------------------------------------------------------------------------------
# Real sample files
# --------------------------------------------------------------------------------------------
@pytest.mark.data
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_file_pinned(samples_dir, name):
    fmt, count, size, first_t, last_t, polarity_counts = SAMPLES[name]
    path = samples_dir / name
    assert streams.detect_format(path) == fmt
    events, sensor_size = read_events(path)
    assert events.dtype == EVENT_DTYPE
    assert len(events) == count
    assert sensor_size == size
    assert events["t"][0] == first_t and events["t"][-1] == last_t
    assert np.all(np.diff(events["t"]) >= 0)
    W, H, P = size
    assert events["x"].min() >= 0 and events["x"].max() < W
    assert events["y"].min() >= 0 and events["y"].max() < H
    assert set(np.unique(events["p"])) <= set(range(P))
    if polarity_counts is not None:
        assert tuple(np.bincount(events["p"], minlength=2)) == polarity_counts


@pytest.mark.data
def test_nmnist_sample_matches_tonic(samples_dir):
    import tonic.io

    events, _ = read_events(samples_dir / "sample_nmnist.bin")
    reference = tonic.io.read_mnist_file(str(samples_dir / "sample_nmnist.bin"), dtype=EVENT_DTYPE)
    np.testing.assert_array_equal(events, reference)
    assert tuple(events[0]) == (7, 15, 654, 1)


@pytest.mark.data
def test_prophesee_dat_matches_expelliarmus(samples_dir):
    from expelliarmus import Wizard

    path = samples_dir / "sample_ncars.dat"
    events, _ = read_events(path)
    reference = Wizard(encoding="dat").read(str(path))
    for field in "xytp":
        np.testing.assert_array_equal(events[field], reference[field].astype(np.int64))


@pytest.mark.data
def test_aedat4_matches_tonic(samples_dir):
    import tonic.io

    path = samples_dir / "sample.aedat4"
    events, _ = read_events(path)
    reference = tonic.io.read_aedat4(str(path))  # field 'p' is the title of boolean field 'on'
    for field in "xytp":
        np.testing.assert_array_equal(events[field], reference[field].astype(np.int64))


@pytest.mark.data
def test_aedat2_coordinate_conventions(samples_dir):
    path = samples_dir / "mnist_dvs_0_scale04_0001.aedat"
    image, _ = streams.read_aedat2(path)
    jaer, _ = streams.read_aedat2(path, coordinates="jaer")
    raw, _ = streams.read_aedat2(path, coordinates="raw")
    np.testing.assert_array_equal(image["x"], 127 - raw["x"])  # jAER flips x
    np.testing.assert_array_equal(jaer["x"], image["x"])
    np.testing.assert_array_equal(jaer["y"], raw["y"])  # jAER: y = 0 at the bottom
    np.testing.assert_array_equal(image["y"], 127 - raw["y"])  # ours: row 0 at the top
    np.testing.assert_array_equal(image["p"], 1 - raw["p"])  # jAER: ON = address bit 0 clear
    np.testing.assert_array_equal(image["t"], raw["t"])


@pytest.mark.data
def test_sensor_size_override_and_ncars_size(samples_dir):
    events, size = read_events(samples_dir / "sample_ncars.dat", sensor_size=(120, 100, 2))
    assert size == (120, 100, 2) and len(events) == 2009
    with pytest.raises(EventStreamError, match="outside the sensor 50x30x2"):
        read_events(samples_dir / "sample_ncars.dat", sensor_size=(50, 30, 2))


# --------------------------------------------------------------------------------------------
# Hand-made files
# --------------------------------------------------------------------------------------------
def aedat2_bytes(x_raw, y_raw, bit0, t, header=b"#!AER-DAT2.0\r\n# made by a test\r\n") -> bytes:
    address = (np.asarray(y_raw) << 8) | (np.asarray(x_raw) << 1) | np.asarray(bit0)
    words = np.stack([address, np.asarray(t)], axis=1).astype(">i4")
    return header + words.tobytes()


def dat_bytes(x, y, t, p, header=b"% Data file containing Event2D events.\n% Version 2\n") -> bytes:
    packed = (np.asarray(p, np.uint32) << 28) | (np.asarray(y, np.uint32) << 14) | np.asarray(x, np.uint32)
    words = np.stack([np.asarray(t, np.uint32), packed], axis=1).astype("<u4")
    return header + bytes([0, 8]) + words.tobytes()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_handmade_nmnist_roundtrip(tmp_path, nmnist_bytes):
    path = write(tmp_path, "a.bin", nmnist_bytes([0, 33, 5], [1, 2, 33], [10, 20, 2**22 + 7], [1, 0, 1]))
    events, size = read_events(path)
    assert size == (34, 34, 2)
    assert events.tolist() == [(0, 1, 10, 1), (33, 2, 20, 0), (5, 33, 2**22 + 7, 1)]


def test_truncated_nmnist(tmp_path, nmnist_bytes):
    path = write(tmp_path, "cut.bin", nmnist_bytes([1, 2], [1, 2], [5, 6], [0, 1])[:-2])
    with pytest.raises(EventStreamError, match=r"cut\.bin: truncated.*not a multiple of 5"):
        read_events(path)
    with pytest.warns(EventStreamWarning, match="incomplete 3-byte record"):
        events, _ = read_events(path, on_bad="drop")
    assert events.tolist() == [(1, 1, 5, 0)]


def test_handmade_aedat2(tmp_path):
    path = write(tmp_path, "a.aedat", aedat2_bytes([0, 127, 3], [0, 5, 127], [0, 1, 1], [1, 2, 3]))
    events, size = read_events(path)
    assert size == (128, 128, 2)
    assert events.tolist() == [(127, 127, 1, 1), (0, 122, 2, 0), (124, 0, 3, 0)]


def test_aedat2_skips_sync_and_special_events(tmp_path):
    data = aedat2_bytes([1, 2, 3], [1, 2, 3], [0, 0, 0], [1, 2, 3])
    words = np.frombuffer(data[len(b"#!AER-DAT2.0\r\n# made by a test\r\n"):], dtype=">i4").copy()
    words[2] |= 0x8000  # external sync
    words[4] = np.int32(-(2**31)) | words[4]  # special event bit 31
    path = write(tmp_path, "sync.aedat", b"#!AER-DAT2.0\r\n" + words.tobytes())
    events, _ = read_events(path)
    assert events["t"].tolist() == [1]


def test_truncated_aedat2(tmp_path):
    path = write(tmp_path, "cut.aedat", aedat2_bytes([1, 2], [1, 2], [0, 1], [5, 6])[:-3])
    with pytest.raises(EventStreamError, match=r"cut\.aedat: truncated.*multiple of 8"):
        read_events(path)
    with pytest.warns(EventStreamWarning):
        events, _ = read_events(path, on_bad="drop")
    assert len(events) == 1


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("bad.aedat", b"hello\n" + bytes(16), r"bad\.aedat: corrupt header.*#!AER-DAT"),
        ("v3.aedat", b"#!AER-DAT3.1\r\n" + bytes(16), r"v3\.aedat: AEDAT version '3\.1' is not supported"),
        ("bad.aedat4", b"#!AER-DAT2.0\r\n" + bytes(16), r"bad\.aedat4: AEDAT version '2\.0'"),
        ("bad.raw", b"% date today\n% plugin_name x\n" + bytes(8), r"bad\.raw: corrupt or unknown \.raw header"),
        ("evt21.raw", b"% evt 2.1\n" + bytes(8), r"evt21\.raw: Prophesee encoding 'evt 2\.1' is not supported"),
        ("nohead.raw", bytes(8), r"nohead\.raw: corrupt header"),
        ("bad.dat", b"\x00\x08" + bytes(16), r"bad\.dat: corrupt header"),
        ("bad.npy", b"not numpy at all", r"bad\.npy: not a NumPy \.npy file"),
        ("bad.npz", b"not a zip", r"bad\.npz: not a NumPy \.npz"),
        ("data.csv", b"1,2,3,4\n", r"data\.csv: unknown extension '\.csv'"),
    ],
)
def test_bad_headers_and_extensions(tmp_path, name, data, message):
    path = write(tmp_path, name, data)
    with pytest.raises(EventStreamError, match=message):
        read_events(path)


def test_corrupt_aedat4_body(tmp_path):
    path = write(tmp_path, "junk.aedat4", b"#!AER-DAT4.0\r\n" + bytes(range(256)) * 4)
    with pytest.raises(EventStreamError, match=r"junk\.aedat4: the file ends inside its AEDAT4 header"):
        read_events(path)


@pytest.mark.parametrize("name", ["empty.bin", "empty.aedat", "empty.raw", "empty.dat", "empty.npz"])
def test_empty_file(tmp_path, name):
    path = write(tmp_path, name, b"")
    with pytest.raises(EventStreamError, match=rf"{name.replace('.', '[.]')}: empty file"):
        read_events(path)


def test_missing_file(tmp_path):
    with pytest.raises(EventStreamError, match=r"nothere\.bin: file not found"):
        read_events(tmp_path / "nothere.bin")
    with pytest.raises(EventStreamError, match="is a directory"):
        read_events(tmp_path)


def test_events_outside_sensor(tmp_path, nmnist_bytes):
    path = write(tmp_path, "wide.bin", nmnist_bytes([1, 40, 2, 50], [1, 1, 1, 1], [1, 2, 3, 4], [0, 0, 0, 0]))
    with pytest.raises(EventStreamError, match=r"wide\.bin: event 1 is outside the sensor 34x34x2 \(x=40"):
        read_events(path)
    with pytest.warns(EventStreamWarning, match=r"dropped 2 bad event"):
        events, _ = read_events(path, on_bad="drop")
    assert events["x"].tolist() == [1, 2]


def test_backwards_timestamps(tmp_path):
    path = write(tmp_path, "back.aedat", aedat2_bytes([1, 2, 3, 4], [1, 1, 1, 1], [0] * 4, [10, 20, 15, 30]))
    with pytest.raises(EventStreamError, match=r"back\.aedat: event 2 has timestamp 15 us, earlier than"):
        read_events(path)
    with pytest.warns(EventStreamWarning, match="dropped 1 bad event"):
        events, _ = read_events(path, on_bad="drop")
    assert events["t"].tolist() == [10, 20, 30]


def test_handmade_dat_and_truncation(tmp_path):
    path = write(tmp_path, "a.dat", dat_bytes([3, 300], [4, 200], [7, 9], [1, 0]))
    events, size = read_events(path)
    assert events.tolist() == [(3, 4, 7, 1), (300, 200, 9, 0)]
    assert size == (301, 201, 2)  # no geometry in the header: max + 1
    with_geometry = write(tmp_path, "g.dat", dat_bytes([3], [4], [7], [1], header=b"% Width 304\n% Height 240\n"))
    assert read_events(with_geometry)[1] == (304, 240, 2)
    cut = write(tmp_path, "cut.dat", dat_bytes([3, 4], [4, 5], [7, 9], [1, 0])[:-1])
    with pytest.raises(EventStreamError, match=r"cut\.dat: truncated"):
        read_events(cut)


@pytest.mark.data
def test_truncated_raw(tmp_path, samples_dir):
    data = (samples_dir / "prophesee_evt3_sample.raw").read_bytes()
    path = write(tmp_path, "cut.raw", data[:-1])
    with pytest.raises(EventStreamError, match=r"cut\.raw: truncated.*16-bit EVT3 words"):
        read_events(path)


@pytest.mark.data
def test_raw_sensor_size_sources(tmp_path, samples_dir):
    data = (samples_dir / "prophesee_evt2_sample.raw").read_bytes()
    body = data[data.index(b"% evt 2.0\n") + len(b"% evt 2.0\n"):]
    geometry = write(tmp_path, "geo.raw", b"% geometry 1000x500\n% evt 2.0\n" + body)
    assert read_events(geometry)[1] == (1000, 500, 2)
    unknown = write(tmp_path, "unknown.raw", b"% plugin_name mystery_cam\n% evt 2.0\n" + body)
    with pytest.raises(EventStreamError, match=r"unknown\.raw: cannot tell the sensor size.*sensor_size="):
        read_events(unknown)
    events, size = read_events(unknown, sensor_size=(640, 480, 2))
    assert len(events) == 539481 and size == (640, 480, 2)


def test_save_and_read_npz_npy(tmp_path):
    events = streams.make_events([1, 2], [3, 4], [5, 6], [0, 1])
    npz = streams.save_events(tmp_path / "e.npz", events, (10, 10, 2))
    assert streams.detect_format(npz) == "npz"
    loaded, size = read_events(npz)
    np.testing.assert_array_equal(loaded, events)
    assert size == (10, 10, 2)
    npy = streams.save_events(tmp_path / "e.npy", events)
    loaded, size = read_events(npy)
    np.testing.assert_array_equal(loaded, events)
    assert size == (3, 5, 2)  # no sensor size stored: max + 1
    with pytest.raises(EventStreamError, match="cannot keep sensor_size"):
        streams.save_events(tmp_path / "f.npy", events, (10, 10, 2))
    with pytest.raises(EventStreamError, match="outside the sensor"):
        streams.save_events(tmp_path / "g.npz", events, (2, 2, 2))


def test_npz_without_events_key(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, data=np.arange(3))
    with pytest.raises(EventStreamError, match=r"other\.npz: the \.npz file has no 'events' array"):
        read_events(path)


def test_on_bad_is_validated(tmp_path, nmnist_bytes):
    path = write(tmp_path, "a.bin", nmnist_bytes([1], [1], [1], [1]))
    with pytest.raises(ValueError, match="on_bad"):
        read_events(path, on_bad="ignore")


def test_as_events_accepts_field_titles():
    aedat_like = np.zeros(2, dtype=[("t", "<u8"), ("x", "<u2"), ("y", "<u2"), (("p", "on"), "?")])
    aedat_like["on"] = [True, False]
    assert streams.as_events(aedat_like)["p"].tolist() == [1, 0]


def test_header_struct_helper_consistency():
    # guard the test helpers themselves against silent layout mistakes
    assert struct.unpack(">ii", aedat2_bytes([1], [2], [1], [9], header=b""))[0] == (2 << 8) | (1 << 1) | 1
