"""AEDAT4 container checks before the ``aedat`` decoder is called, partial reads of cut files."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from streams import EventStreamError, EventStreamWarning, read_events
from streams.aedat4 import MAGIC, check_container

pytestmark = pytest.mark.data

HEADER_END = 2334  # magic (14) + IOHeader length (4) + IOHeader (2316 bytes) of sample.aedat4


@pytest.fixture(scope="module")
def sample(samples_dir):
    return (samples_dir / "sample.aedat4").read_bytes()


def packet_starts(data: bytes):
    starts, position = [], HEADER_END
    while position < 945243:  # the file data table starts there
        starts.append(position)
        position += 8 + struct.unpack_from("<I", data, position + 4)[0]
    return starts


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_sample_container(samples_dir, sample):
    container = check_container(samples_dir / "sample.aedat4")
    assert (container.compression, container.packets_start, container.packets_end) == ("LZ4", HEADER_END, 945243)
    assert container.n_packets == len(packet_starts(sample)) == 118 and container.cut_at == -1


def test_cut_between_packets_raises_or_reads_the_whole_packets(tmp_path, samples_dir, sample):
    full, _ = read_events(samples_dir / "sample.aedat4")
    starts = packet_starts(sample)
    path = write(tmp_path, "cut.aedat4", sample[: starts[10] + 5])  # 10 whole packets and a bit
    with pytest.raises(EventStreamError, match=r"cut\.aedat4: truncated or corrupt AEDAT4 file: the file ends "
                                               r"at byte \d+, before the file data table.*on_bad='drop'"):
        read_events(path)
    with pytest.warns(EventStreamWarning, match=r"read the 10 whole packet\(s\) before it"):
        partial, size = read_events(path, on_bad="drop")
    assert size == (320, 240, 2) and 0 < len(partial) < len(full)
    np.testing.assert_array_equal(partial, full[: len(partial)])  # a prefix of the recording


def test_corrupt_packet_payload_is_a_decoder_error(tmp_path, sample):
    data = bytearray(sample)
    first = packet_starts(sample)[0]
    data[first + 8: first + 40] = bytes(range(32))  # LZ4 frame garbage, framing intact
    path = write(tmp_path, "payload.aedat4", bytes(data))
    with pytest.raises(EventStreamError, match=r"payload\.aedat4: cannot decode AEDAT4 file \(RuntimeError: .*\); it is corrupt"):
        read_events(path)


def ioheader_variant(sample: bytes, patch) -> bytes:
    header = bytearray(sample[18:HEADER_END])
    patch(header)
    return sample[:18] + bytes(header) + sample[HEADER_END:]


@pytest.mark.parametrize("name, patch, message", [
    ("root.aedat4", lambda h: h.__setitem__(slice(0, 4), struct.pack("<I", 10**6)), r"IOHeader root offset 1000000"),
    ("vtable.aedat4", lambda h: h.__setitem__(slice(struct.unpack_from("<I", h, 0)[0], struct.unpack_from("<I", h, 0)[0] + 4),
                                              struct.pack("<i", -(10**6))), r"vtable offset"),
    ("utf8.aedat4", lambda h: h.__setitem__(slice(60, 62), b"\xff\xfe"), r"stream description is not UTF-8"),
])
def test_corrupt_ioheader_never_reaches_the_decoder(tmp_path, sample, name, patch, message):
    path = write(tmp_path, name, ioheader_variant(sample, patch))
    with pytest.raises(EventStreamError, match=rf"{name.replace('.', '[.]')}: corrupt AEDAT4 header: .*{message}"):
        read_events(path)


def test_ioheader_length_beyond_the_file(tmp_path, sample):
    path = write(tmp_path, "length.aedat4", MAGIC + struct.pack("<I", 2**31) + sample[18:1000])
    with pytest.raises(EventStreamError, match=r"length\.aedat4: the file ends inside its AEDAT4 header \(the IOHeader needs 2147483648"):
        read_events(path)


def test_description_that_aborts_the_raw_decoder_is_refused_first(tmp_path, sample):
    """Byte 281 of sample.aedat4 set to 0xC4 makes the stream description invalid UTF-8; given such
    a file, aedat 2.3 panics during cleanup and aborts the whole process (SIGABRT: "panic in a
    destructor during cleanup"), which no except clause can catch. Our check refuses it first.
    Read in a worker process, so a regression shows as a crash instead of killing pytest."""
    from . import fuzzing

    data = bytearray(sample)
    data[281] = 0xC4
    path = write(tmp_path, "abort.aedat4", bytes(data))
    with fuzzing.GuardedReader(timeout_s=60) as reader:
        outcome, detail = reader.classify(path)
    assert outcome == fuzzing.CLEAR_ERROR, detail
    assert "abort.aedat4: corrupt AEDAT4 header: the stream description is not UTF-8" in detail
