"""The UDP sender: batches and due times on a fake clock, datagram layout, labels, real-time pacing."""
from __future__ import annotations

import math
import socket

import numpy as np
import pytest

import streams
from streams.live import LabelReceiver, UDPReceiver, decode_mark, encode_words, send_events, send_stream
from streams.live.sender import parse_address

from .conftest import FakeClock, grid_events, wait_until

SENSOR = (34, 34, 2)
LOOPBACK = "127.0.0.1"


@pytest.fixture
def sink():
    """A plain UDP socket standing in for aestream's receiver: read back raw datagrams."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOPBACK, 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


def read_datagrams(sock, n):
    return [sock.recv(4096) for _ in range(n)]


def events_at(times, sensor=SENSOR):
    n = len(times)
    return streams.make_events(np.arange(n) % sensor[0], np.arange(n) % sensor[1], times, np.arange(n) % 2)


@pytest.mark.parametrize(
    "speed, batches, sleeps_us",
    [
        # due times (us of wall time) = t / speed; batches = events due in the same wall millisecond;
        # the sender sleeps until the last event of each batch is due (no sleep when already due)
        (1.0, [[0, 500], [1500, 1600], [5000]], [500, 1100, 3400]),     # due 0 500 | 1500 1600 | 5000
        (2.0, [[0, 500, 1500, 1600], [5000]], [800, 1700]),             # due 0 250 750 800 | 2500
        (0.5, [[0], [500], [1500, 1600], [5000]], [1000, 2200, 6800]),  # due 0 | 1000 | 3000 3200 | 10000
    ],
)
def test_batches_leave_when_their_last_event_falls_due(sink, speed, batches, sleeps_us):
    events = events_at([0, 500, 1500, 1600, 5000])
    clock = FakeClock(10**9)
    report = send_events(events, SENSOR, sink.getsockname(), speed, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == pytest.approx(np.array(sleeps_us) * 1e-6)
    assert report["batches"] == report["datagrams"] == len(batches)
    assert report["sent"] == 5 and report["late_batches"] == 0
    assert report["stream_s"] == pytest.approx(0.005) and report["wall_s"] == pytest.approx(0.005 / speed)
    received = read_datagrams(sink, len(batches))
    words = encode_words(events, SENSOR)
    sizes = [len(b) for b in batches]
    assert received == [words[a:a + n].tobytes() for a, n in zip(np.cumsum([0] + sizes[:-1]), sizes)]


def test_slabs_share_one_schedule(sink):
    events = events_at([0, 500, 1500, 1600, 5000])
    clock = FakeClock(0)
    report = send_events(iter([events[:3], events[3:]]), SENSOR, sink.getsockname(), clock=clock, sleep=clock.sleep)
    # as one array: due 500 | 1600 | 5000 us; the slab boundary splits the middle batch in two
    assert clock.sleeps == pytest.approx([0.0005, 0.001, 0.0001, 0.0034])
    assert report["sent"] == 5 and report["datagrams"] == 4
    with pytest.raises(streams.EventStreamError, match="sorted by time"):
        send_events(iter([events[3:], events[:3]]), SENSOR, sink.getsockname(), clock=clock, sleep=clock.sleep)


def test_a_slow_sender_is_late_but_skips_nothing(sink):
    clock = FakeClock(0)
    asked = []
    slow_sleep = lambda s: asked.append(s) or clock.sleep(s + 0.005)  # noqa: E731  every wake-up 5 ms late
    report = send_events(events_at([0, 1000, 2000, 3000]), SENSOR, sink.getsockname(), clock=clock, sleep=slow_sleep)
    # batch 1 (due 1 ms) wakes at 6 ms; batches 2 and 3 are then 4 and 3 ms late and go at once
    assert report["sent"] == 4 and report["batches"] == 4
    assert report["late_batches"] == 2 and report["max_lag_s"] == pytest.approx(0.004)
    assert asked == pytest.approx([0.001])


@pytest.mark.parametrize("with_timestamps, per_datagram", [(False, 128), (True, 64)])
def test_datagrams_hold_at_most_128_words(sink, with_timestamps, per_datagram):
    events = grid_events(300, SENSOR)
    report = send_events(events, SENSOR, sink.getsockname(), speed=math.inf, with_timestamps=with_timestamps)
    n = math.ceil(300 / per_datagram)
    assert report["datagrams"] == n
    received = read_datagrams(sink, n)
    assert [len(d) for d in received[:-1]] == [512] * (n - 1)
    assert b"".join(received) == encode_words(events, SENSOR, with_timestamps).tobytes()


def test_labelled_stream_sends_marks_on_the_side_port(sink):
    bars = streams.SyntheticBars(n_samples=3, duration_us=4000)
    stream = streams.LabelledStream(bars, gap_us=1000)
    with UDPReceiver(LOOPBACK, 0, stream.sensor_size) as rx, LabelReceiver(LOOPBACK, 0, origin_ns=rx.origin_ns) as labels:
        report = send_stream(stream, stream.sensor_size, (LOOPBACK, rx.port), (LOOPBACK, labels.port), speed=math.inf)
        wait_until(lambda: labels.counters()["received"] == 6, what="6 marks")
        marks = labels.poll()
        n_events = sum(len(s.events) for s in stream)
        wait_until(lambda: rx.counters()["received"] == n_events, what="every event")
    segments = list(stream)
    expected = []
    for s in segments:
        expected += [(s.t_start, s.label, s.index), (s.t_end, -1, -1)]  # every sample is followed by a gap
    assert list(zip(marks["t_stream"].tolist(), marks["label"].tolist(), marks["index"].tolist())) == expected
    assert report["marks"] == 6 and report["sent"] == n_events
    assert labels.counters()["missing"] == labels.counters()["rejected"] == 0


def test_mark_format():
    assert decode_mark(b"LBL 1500 7 42") == (1500, 7, 42)
    assert decode_mark(b"LBL 1500 -1 -1\n") == (1500, -1, -1)
    assert decode_mark(b"LBL 1500 seven 42") is None
    assert decode_mark(b"\x80\x00\x00\x01") is None


def test_addresses():
    assert parse_address("udp://10.0.0.2:3333") == ("10.0.0.2", 3333)
    assert parse_address(("localhost", "3334")) == ("localhost", 3334)
    with pytest.raises(ValueError, match="host:port"):
        parse_address("3333")


def test_pacing_at_real_time_within_10_ms_over_1_s():
    events = grid_events(20_000, SENSOR, t_step_us=50)  # 1 s of stream time, 20 k events/s
    with UDPReceiver(LOOPBACK, 0, SENSOR) as rx:
        report = send_events(events, SENSOR, (LOOPBACK, rx.port), speed=1.0)
        got = rx.poll()
        wait_until(lambda: len(got) + rx.counters()["buffered"] == len(events), what="every event")
        got = np.concatenate([got, rx.poll()])
    stream_us = events["t"] - events["t"][0]
    arrival_us = got["t"] - got["t"][0]
    # no drift: arrival time against stream time has slope 1 within 1 % (10 ms over the second)
    slope = np.polyfit(stream_us, arrival_us, 1)[0]
    assert abs(slope - 1) < 0.01
    # and little jitter: each event leaves with its 1 ms batch, so the typical event arrives within
    # 2 ms of the typical delay (single stalls, and the total duration, are at the mercy of the
    # machine's other load: sender and receiver share this process and its GIL here)
    delay_us = arrival_us - stream_us
    assert np.median(np.abs(delay_us - np.median(delay_us))) <= 2_000
    assert abs(report["wall_s"] - stream_us[-1] * 1e-6) < 0.05


def test_label_receiver_counts_garbage_and_missing_marks():
    with LabelReceiver(LOOPBACK, 0) as labels, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for payload in (b"LBL 0 3 0", b"hello", b"LBL 900 4 1", b"LBL 5000 2 4", b"LBL 6000 -1 -1"):
            tx.sendto(payload, (LOOPBACK, labels.port))
        wait_until(lambda: labels.counters()["received"] == 4, what="4 marks")
        marks = labels.poll()
        counts = labels.counters()
    assert marks["index"].tolist() == [0, 1, 4, -1] and marks["label"].tolist() == [3, 4, 2, -1]
    assert counts["rejected"] == 1 and counts["missing"] == 2  # indices 2 and 3 never came
    assert np.all(np.diff(marks["t"]) >= 0)


def test_send_command_plays_a_seeded_shuffled_subset_with_labels(capsys):
    """``stdpnet send SOURCE --max-samples 4 --shuffle 3``: the first 4 samples of seed 3's
    permutation, in that order, every event and every sample's label mark."""
    import json

    from stdpnet.cli import main
    from stdpnet.cli.live import send_order

    source = streams.resolve_source("synthetic:20")
    order = np.random.default_rng(3).permutation(20)[:4]
    assert send_order(20, 4, 3).tolist() == order.tolist() and send_order(5).tolist() == [0, 1, 2, 3, 4]
    n_events = sum(len(source.dataset[int(i)][0]) for i in order)
    with UDPReceiver(LOOPBACK, 0, source.sensor_size) as rx, LabelReceiver(LOOPBACK, 0, origin_ns=rx.origin_ns) as labels:
        assert main(["send", "synthetic:20", f"udp://{LOOPBACK}:{rx.port}", "--label-port", str(labels.port),
                     "--max-samples", "4", "--shuffle", "3", "--speed", "inf", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        wait_until(lambda: rx.counters()["received"] == n_events, what="every event")
        wait_until(lambda: labels.counters()["received"] == report["marks"], what="every mark")
        marks = labels.poll()
    assert report["sent"] == n_events
    sample_marks = marks[marks["label"] >= 0]
    assert sample_marks["label"].tolist() == source.labels[order].tolist()
