"""Prophesee EVT 2.0 / 3.0 decoders on hand-made words, block splitting, and the .raw reader."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams import EventStreamError, EventStreamWarning, read_events
from streams.evt import EVT3_KNOWN_TYPES, DecoderState, decode_evt2, decode_evt3


def evt2_cd(polarity, x, y, t_low):
    return (polarity << 28) | (t_low << 22) | (x << 11) | y


def evt2_time_high(value):
    return (0x8 << 28) | value


def evt3(kind, payload):
    return (kind << 12) | payload


def rows(columns):
    return list(zip(*(c.tolist() for c in columns)))


def test_evt2_hand_made():
    words = [
        evt2_cd(1, 10, 20, 3),     # before any time high: base 0
        evt2_time_high(5),
        evt2_cd(1, 10, 20, 3),     # 5 << 6 | 3 = 323
        (0xA << 28) | 12345,       # external trigger: no pixel event
        evt2_cd(0, 1, 2, 63),      # 383
        evt2_time_high(6),
        evt2_cd(1, 2047, 2047, 0),  # 384, largest coordinates
    ]
    columns, state = decode_evt2(np.array(words, np.uint32))
    assert rows(columns) == [(10, 20, 3, 1), (10, 20, 323, 1), (1, 2, 383, 0), (2047, 2047, 384, 1)]
    assert (state.time_high, state.time_base_us, state.unknown) == (6, 6 << 6, 0)


def test_evt2_time_high_wraps_around():
    words = [evt2_time_high(2**28 - 1), evt2_cd(1, 0, 0, 1), evt2_time_high(0), evt2_cd(1, 0, 0, 1)]
    (x, y, t, p), state = decode_evt2(np.array(words, np.uint32))
    assert t.tolist() == [((2**28 - 1) << 6) | 1, (2**28 << 6) | 1]
    assert state.loops == 1


def test_evt3_hand_made():
    words = [
        evt3(0x0, 7),                    # y = 7
        evt3(0x8, 2), evt3(0x6, 5),      # t = 2 << 12 | 5 = 8197
        evt3(0x2, (1 << 11) | 100),      # one event x = 100, p = 1
        evt3(0x3, 200),                  # vector base x = 200, p = 0
        evt3(0x4, 0b100000000101),       # x = 200, 202, 211; base -> 212
        evt3(0x5, 0b10000001),           # x = 212, 219; base -> 220
        evt3(0x8, 2),                    # time high resent: time low stays 5
        evt3(0x2, 5),                    # x = 5, p = 0, t = 8197
        evt3(0x6, 4095), evt3(0x0, 8),   # t = 2 << 12 | 4095 = 12287, y = 8
        evt3(0xE, 0), evt3(0xF, 0xABC),  # "others" + continued: skipped
        evt3(0x5, 0b1),                  # x = 220 (base after the VECT_8), p = 0
        evt3(0x8, 3), evt3(0x6, 0),      # t = 3 << 12 = 12288
        evt3(0x3, (1 << 11) | 10), evt3(0x4, 0b1 | (1 << 11)),  # x = 10, 21 with p = 1
    ]
    columns, state = decode_evt3(np.array(words, np.uint16))
    assert rows(columns) == [
        (100, 7, 8197, 1), (200, 7, 8197, 0), (202, 7, 8197, 0), (211, 7, 8197, 0),
        (212, 7, 8197, 0), (219, 7, 8197, 0), (5, 7, 8197, 0), (220, 8, 12287, 0),
        (10, 8, 12288, 1), (21, 8, 12288, 1),
    ]
    assert (state.y, state.vector_x, state.vector_p, state.time_low, state.unknown) == (8, 22, 1, 0, 0)


def test_evt3_time_high_wraps_around():
    words = [evt3(0x8, 4095), evt3(0x6, 4095), evt3(0x2, 1), evt3(0x8, 0), evt3(0x6, 0), evt3(0x2, 1)]
    (x, y, t, p), state = decode_evt3(np.array(words, np.uint16))
    assert t.tolist() == [2**24 - 1, 2**24]
    assert state.loops == 1
    # a small step back is not a wrap (the next check, for time order, reports it)
    (_, _, t, _), _ = decode_evt3(np.array([evt3(0x8, 50), evt3(0x2, 1), evt3(0x8, 40), evt3(0x2, 1)], np.uint16))
    assert t.tolist() == [50 << 12, 40 << 12]


def test_unknown_words_are_counted():
    words = np.array([evt3(0x2, 1), evt3(0x1, 0), evt3(0x9, 0), evt3(0x2, 2)], np.uint16)
    columns, state = decode_evt3(words)
    assert columns[0].tolist() == [1, 2]
    assert (state.unknown, state.first_unknown, state.first_unknown_type) == (2, 1, 0x1)
    _, state = decode_evt3(words[2:], state)  # positions are absolute across blocks
    assert (state.unknown, state.first_unknown) == (3, 1)
    _, state2 = decode_evt2(np.array([evt2_cd(1, 0, 0, 0), 0x3 << 28], np.uint32))
    assert (state2.unknown, state2.first_unknown, state2.first_unknown_type) == (1, 1, 0x3)


evt3_words = st.lists(
    st.tuples(st.sampled_from(EVT3_KNOWN_TYPES), st.integers(0, 0xFFF)).map(lambda w: evt3(*w)),
    min_size=1, max_size=80,
)


@settings(max_examples=80, deadline=None)
@given(words=evt3_words, cuts=st.lists(st.integers(0, 80), max_size=5), evt2=st.booleans())
def test_blocks_decode_like_the_whole(words, cuts, evt2):
    """Any split into blocks, with the state carried over, decodes to the same events."""
    if evt2:
        array = (np.array(words, np.uint32) << 16) | np.array(words[::-1], np.uint32)
        decode = decode_evt2
    else:
        array = np.array(words, np.uint16)
        decode = decode_evt3
    whole, whole_state = decode(array)
    edges = sorted({0, len(array), *[min(c, len(array)) for c in cuts]})
    parts, state = [], DecoderState()
    for a, b in zip(edges, edges[1:]):
        columns, state = decode(array[a:b], state)
        parts.append(columns)
    for k in range(4):
        np.testing.assert_array_equal(np.concatenate([p[k] for p in parts]), whole[k])
    assert state == whole_state


# --------------------------------------------------------------------------------------------
# The .raw reader
# --------------------------------------------------------------------------------------------
HEADER3 = b"% evt 3.0\n% geometry 640x480\n"


def raw_file(tmp_path, name, header, words, dtype):
    path = tmp_path / name
    path.write_bytes(header + np.asarray(words, dtype).tobytes())
    return path


def test_raw_reader_unknown_word_and_cut_tail(tmp_path):
    words = [evt3(0x0, 3), evt3(0x8, 1), evt3(0x6, 0), evt3(0x2, 10), evt3(0xD, 0), evt3(0x6, 1), evt3(0x2, 11)]
    path = raw_file(tmp_path, "bad.raw", HEADER3, words, np.uint16)
    offset = len(HEADER3) + 2 * 4
    with pytest.raises(EventStreamError, match=rf"bad\.raw: corrupt EVT3 data: word 4 \(byte {offset}\) has unknown type 0xD"):
        read_events(path)
    with pytest.warns(EventStreamWarning, match=r"bad\.raw: skipped 1 EVT3 word\(s\) of unknown type"):
        events, size = read_events(path, on_bad="drop")
    assert events.tolist() == [(10, 3, 4096, 0), (11, 3, 4097, 0)] and size == (640, 480, 2)
    cut = tmp_path / "cut.raw"
    cut.write_bytes(path.read_bytes()[:-3])  # one whole word and a half less
    with pytest.raises(EventStreamError, match=r"cut\.raw: truncated or corrupt: 11 data bytes .*16-bit EVT3 words"):
        read_events(cut)
    with pytest.warns(EventStreamWarning):
        events, _ = read_events(cut, on_bad="drop")
    assert events.tolist() == [(10, 3, 4096, 0)]


def test_raw_reader_evt2_outside_geometry(tmp_path):
    words = [evt2_time_high(1), evt2_cd(1, 700, 5, 0), evt2_cd(1, 5, 5, 1)]
    path = raw_file(tmp_path, "wide.raw", b"% evt 2.0\n% geometry 640x480\n", words, np.uint32)
    with pytest.raises(EventStreamError, match=r"wide\.raw: event 0 is outside the sensor 640x480x2 \(x=700"):
        read_events(path)
    huge = raw_file(tmp_path, "huge.raw", b"% evt 2.0\n% geometry 99999x480\n", words, np.uint32)
    with pytest.raises(EventStreamError, match=r"huge\.raw: sensor size in the file header: sensor width 99999"):
        read_events(huge)


@pytest.mark.data
def test_sample_files_match_expelliarmus(samples_dir):
    from expelliarmus import Wizard

    for name, encoding, same_t in [("prophesee_evt2_sample.raw", "evt2", True),
                                   ("prophesee_evt3_sample.raw", "evt3", False)]:
        events, _ = read_events(samples_dir / name)
        reference = Wizard(encoding=encoding).read(str(samples_dir / name))
        for field in "xyp" + ("t" if same_t else ""):
            np.testing.assert_array_equal(events[field], reference[field].astype(np.int64))
    # EVT 3.0 time: expelliarmus adds 4096 us per time_low decrease on top of time_high; the
    # sample has 11 decreases, of which 2 are time_high steps: its span is 11 * 4096 us longer
    assert events["t"][-1] - events["t"][0] + 11 * 4096 == reference["t"][-1] - reference["t"][0]


def test_data_starting_with_a_percent_byte_is_not_header(tmp_path):
    """Without '% end', the header ends at the first byte that is not '%'; a first word whose low
    byte is 0x25 ('%') is still data (it holds control bytes before its newline byte)."""
    words = [evt3(0x8, 0x025), evt3(0x6, 1), evt3(0x0, 3), evt3(0x2, 10)]  # bytes 25 80 01 60 03 00 0a 20
    path = raw_file(tmp_path, "percent.raw", HEADER3, words, np.uint16)
    events, _ = read_events(path)
    assert events.tolist() == [(10, 3, (0x025 << 12) | 1, 0)]
