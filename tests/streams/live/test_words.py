"""aestream / spif event words: hand-computed layouts, round trips, malformed datagrams."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import streams
from streams import EventStreamError
from streams.live import decode_words, encode_words
from streams.live.words import decode_slots

SENSOR = (34, 34, 2)


def test_word_layout_by_hand():
    events = streams.make_events([1, 2, 33], [3, 4, 5], [10, 20, 30], [0, 1, 1])
    words = encode_words(events, SENSOR)
    # bit 31: no timestamp; x << 16; p << 15; y
    assert words.tolist() == [0x8000_0000 | 1 << 16 | 3, 0x8000_0000 | 2 << 16 | 1 << 15 | 4, 0x8000_0000 | 33 << 16 | 1 << 15 | 5]
    assert words.tobytes()[:4] == bytes([3, 0, 1, 0x80])  # little-endian, as aestream writes on x86
    paired = encode_words(events, SENSOR, with_timestamps=True)
    assert paired.tolist() == [1 << 16 | 3, 10, 2 << 16 | 1 << 15 | 4, 20, 33 << 16 | 1 << 15 | 5, 30]


def test_decode_stamps_arrival_or_keeps_timestamp_words():
    events = streams.make_events([1, 2], [3, 4], [10, 2**32 + 20], [0, 1])
    plain, rejected = decode_words(encode_words(events, SENSOR).tobytes(), SENSOR, arrival_us=777)
    assert rejected == 0
    assert plain[["x", "y", "p"]].tolist() == [(1, 3, 0), (2, 4, 1)]
    assert plain["t"].tolist() == [777, 777]
    stamped, rejected = decode_words(encode_words(events, SENSOR, with_timestamps=True).tobytes(), SENSOR, 777)
    assert rejected == 0 and stamped["t"].tolist() == [10, 20]  # 32-bit words: 2**32 + 20 wraps to 20


@st.composite
def sensor_and_events(draw):
    width = draw(st.integers(1, 1 << 15))
    height = draw(st.integers(1, 1 << 15))
    polarities = draw(st.sampled_from([1, 2]))
    n = draw(st.integers(0, 128))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    events = streams.make_events(
        rng.integers(0, width, n), rng.integers(0, height, n),
        np.sort(rng.integers(0, 2**32, n)), rng.integers(0, polarities, n),
    )
    return (width, height, polarities), events


@settings(max_examples=200, deadline=None)
@given(sensor_and_events(), st.booleans())
def test_round_trip_is_exact(case, with_timestamps):
    sensor, events = case
    if with_timestamps:  # aestream's paired form: at most 64 events in a 128-word datagram
        events = events[:64]
    words = encode_words(events, sensor, with_timestamps)
    decoded, rejected = decode_words(words.tobytes(), sensor, arrival_us=5)
    assert rejected == 0
    for field in ("x", "y", "p"):
        np.testing.assert_array_equal(decoded[field], events[field])
    np.testing.assert_array_equal(decoded["t"], events["t"] if with_timestamps else 5)


def test_batch_decoding_equals_one_datagram_at_a_time():
    rng = np.random.default_rng(1)
    datagrams = []
    for i in range(20):
        n = int(rng.integers(0, 129))
        events = streams.make_events(rng.integers(0, 40, n), rng.integers(0, 40, n), np.arange(n), rng.integers(0, 2, n))
        payload = encode_words(events, (40, 40, 2), with_timestamps=i % 3 == 0)[:128].tobytes()
        datagrams.append(payload[: len(payload) - (i % 7 == 0)])  # some truncated mid-word
    slots = np.zeros((len(datagrams), 128), "<u4")
    for row, payload in zip(slots, datagrams):
        row.view(np.uint8)[: len(payload)] = np.frombuffer(payload, np.uint8)
    arrival = np.arange(len(datagrams)) * 100
    batch = decode_slots(slots, np.array([len(d) for d in datagrams]), arrival, SENSOR)
    singles = [decode_words(d, SENSOR, arrival_us=a) for d, a in zip(datagrams, arrival)]
    expected = np.concatenate([events for events, _ in singles])
    np.testing.assert_array_equal(batch.events, expected)
    assert batch.n_rejected == sum(r for _, r in singles) > 0
    np.testing.assert_array_equal(batch.datagram, np.repeat(np.arange(len(datagrams)), [len(e) for e, _ in singles]))


@pytest.mark.parametrize(
    "payload, rejected",
    [
        (b"\x01\x02\x03\x84\x05", 2),  # 5 bytes, bit 31 set: not whole words; ceil(5 / 4) events
        (b"\x01\x02\x03\x04\x05", 1),  # 5 bytes, bit 31 clear (paired form): ceil(5 / 8) events
        (np.full(129, 0x8000_0001, "<u4").tobytes(), 129),   # 129 words: more than a datagram may hold
        (np.array([1 << 16, 7, 2 << 16], "<u4").tobytes(), 2),  # paired form with an odd word count
        (b"", 0),                                            # empty: nothing to decode, nothing wrong
    ],
)
def test_malformed_datagrams_are_rejected_whole_and_counted(payload, rejected):
    events, n_rejected = decode_words(payload, SENSOR)
    assert len(events) == 0
    assert n_rejected == rejected


def test_out_of_sensor_and_mixed_words_are_rejected_one_by_one():
    big = (64, 64, 2)
    events = streams.make_events([0, 40, 5, 3], [0, 1, 50, 3], [0, 0, 0, 0], [1, 0, 0, 1])
    decoded, rejected = decode_words(encode_words(events, big).tobytes(), SENSOR)
    assert rejected == 2  # x = 40 and y = 50 lie outside 34 x 34
    assert decoded[["x", "y", "p"]].tolist() == [(0, 0, 1), (3, 3, 1)]
    mixed = encode_words(events[:1], SENSOR).tolist() + [5 << 16 | 6]  # second word lacks bit 31
    decoded, rejected = decode_words(np.array(mixed, "<u4").tobytes(), SENSOR)
    assert rejected == 1 and len(decoded) == 1
    one_polarity, rejected = decode_words(encode_words(events[[0, 3]], big).tobytes(), (34, 34, 1))
    assert rejected == 2 and len(one_polarity) == 0  # polarity 1 on a one-polarity sensor


def test_encoding_refuses_what_the_word_cannot_say():
    with pytest.raises(EventStreamError, match="outside the sensor 34x34x2"):
        encode_words(streams.make_events([34], [0], [0], [0]), SENSOR)
    with pytest.raises(ValueError, match="15 bits"):
        encode_words(streams.make_events([0], [0], [0], [0]), (40_000, 10, 2))
