"""UDPReceiver on loopback: delivery, time stamps, malformed input, and exact loss accounting."""
from __future__ import annotations

import math
import socket
import time

import numpy as np
import pytest

import streams
from streams import EventStreamError
from streams.live import DROP_NEWEST, DROP_OLDEST, UDPReceiver, encode_words, send_events

from .conftest import FakeClock, grid_events, wait_until

SENSOR = (34, 34, 2)
LOOPBACK = "127.0.0.1"


def drain(rx, n_expected, timeout_s=5.0):
    """Poll until ``n_expected`` events came out (bounded by ``timeout_s``)."""
    parts = []
    wait_until(lambda: parts.append(rx.poll()) or sum(map(len, parts)) >= n_expected, timeout_s, f"{n_expected} events")
    return np.concatenate(parts)


def test_events_arrive_in_order_and_intact():
    events = grid_events(3000, SENSOR)
    with UDPReceiver(LOOPBACK, 0, SENSOR) as rx:
        report = send_events(events, SENSOR, (LOOPBACK, rx.port), speed=math.inf)
        got = drain(rx, len(events))
        now = rx.now_us()
        counts = rx.counters()
    assert report["sent"] == 3000 and report["datagrams"] == math.ceil(3000 / 128)
    for field in ("x", "y", "p"):
        np.testing.assert_array_equal(got[field], events[field])
    assert 0 <= got["t"].min() and got["t"].max() <= now and np.all(np.diff(got["t"]) >= 0)
    assert counts["received"] == counts["delivered"] == 3000
    assert counts["datagrams"] == report["datagrams"]
    assert counts["rejected"] == counts["dropped_by_buffer"] == counts["dropped_by_kernel"] == 0


def test_arrival_time_on_the_injected_clock():
    clock = FakeClock(5_000_000_000)
    with UDPReceiver(LOOPBACK, 0, SENSOR, clock=clock) as rx:  # origin: 5 s on the fake clock
        clock.set(5_012_345_678)  # 12 345.678 us later
        send_events(grid_events(10, SENSOR), SENSOR, (LOOPBACK, rx.port), speed=math.inf)
        got = drain(rx, 10)
        assert rx.now_us() == 12_345
    assert got["t"].tolist() == [12_345] * 10


def test_sensor_timestamps_keep_their_spacing_across_the_32_bit_wrap():
    clock = FakeClock(0)
    times = np.array([2**32 - 30, 2**32 - 10, 2**32 + 5, 2**32 + 1_000_000])
    events = streams.make_events([1, 2, 3, 4], [1, 1, 1, 1], times, [0, 1, 0, 1])
    with UDPReceiver(LOOPBACK, 0, SENSOR, clock=clock) as rx:
        clock.set(7_000_000)  # the first datagram arrives at 7 000 us
        send_events(events[:2], SENSOR, (LOOPBACK, rx.port), speed=math.inf, with_timestamps=True)
        first = drain(rx, 2)
        send_events(events[2:], SENSOR, (LOOPBACK, rx.port), speed=math.inf, with_timestamps=True)
        second = drain(rx, 2)
    got = np.concatenate([first, second])["t"]
    assert got.tolist() == (7_000 + times - times[0]).tolist()


def test_arrival_mode_ignores_timestamp_words():
    clock = FakeClock(0)
    events = streams.make_events([1, 2], [1, 1], [123, 456_789], [0, 1])
    with UDPReceiver(LOOPBACK, 0, SENSOR, clock=clock, timestamps="arrival") as rx:
        clock.set(3_000_000)
        send_events(events, SENSOR, (LOOPBACK, rx.port), speed=math.inf, with_timestamps=True)
        assert drain(rx, 2)["t"].tolist() == [3_000, 3_000]


def test_malformed_datagrams_are_counted_not_raised():
    with UDPReceiver(LOOPBACK, 0, SENSOR) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        tx.sendto(b"\x01\x02\x03\x84\x05", (LOOPBACK, rx.port))              # not whole words: 2 events
        tx.sendto(np.full(200, 0x8001_0001, "<u4").tobytes(), (LOOPBACK, rx.port))  # 200 words > 128
        tx.sendto(encode_words(grid_events(5, SENSOR), SENSOR).tobytes(), (LOOPBACK, rx.port))
        got = drain(rx, 5)
        wait_until(lambda: rx.counters()["datagrams"] == 3, what="3 datagrams")
        counts = rx.counters()
    assert len(got) == 5
    assert counts["malformed"] == 2 and counts["rejected"] == 2 + 200


@pytest.mark.parametrize("on_full", [DROP_OLDEST, DROP_NEWEST])
def test_exact_accounting_under_overload(on_full):
    """sent = received + rejected + dropped_by_buffer + 128 x dropped_by_kernel, with every term > 0."""
    big = (64, 64, 2)  # the sender's sensor: some of its events lie outside the receiver's 34 x 34
    rng = np.random.default_rng(0)
    per_datagram = 128

    def burst(n_datagrams):
        n = n_datagrams * per_datagram
        return streams.make_events(rng.integers(0, 40, n), rng.integers(0, 34, n), np.arange(n), rng.integers(0, 2, n))

    sent = datagrams_sent = 0
    rx = UDPReceiver(LOOPBACK, 0, SENSOR, buffer_events=1000, on_full=on_full, rcvbuf_bytes=4096)
    address = (LOOPBACK, rx.port)
    try:
        # 1. nobody reads yet: the kernel's tiny queue overflows
        report = send_events(burst(60), big, address, speed=math.inf)
        sent, datagrams_sent = sent + report["sent"], datagrams_sent + report["datagrams"]
        rx.start()
        # 2. a consumer that does not poll: the thread keeps reading, the 1000-event ring overflows
        for _ in range(30):
            report = send_events(burst(1), big, address, speed=math.inf)
            sent, datagrams_sent = sent + report["sent"], datagrams_sent + report["datagrams"]
            time.sleep(0.002)
        # 3. drain, then one probe datagram: it carries the kernel's final drop count
        wait_until(lambda: rx.counters()["datagrams"] > 0, what="the first datagram")
        delivered = len(rx.poll())
        report = send_events(burst(1), big, address, speed=math.inf)
        sent, datagrams_sent = sent + report["sent"], datagrams_sent + report["datagrams"]
        accounted = lambda c: c["datagrams"] + c["dropped_by_kernel"] == datagrams_sent  # noqa: E731
        wait_until(lambda: accounted(rx.counters()), what="every datagram read or counted as dropped")
        delivered += len(rx.poll())
        counts = rx.counters()
    finally:
        rx.stop()
    assert counts["dropped_by_kernel"] > 0 and counts["dropped_by_buffer"] > 0 and counts["rejected"] > 0
    assert counts["received"] == counts["delivered"] == delivered
    assert sent == counts["received"] + counts["rejected"] + counts["dropped_by_buffer"] + per_datagram * counts["dropped_by_kernel"]


def test_port_in_use_says_how_to_fix_it():
    with UDPReceiver(LOOPBACK, 0, SENSOR) as rx:
        with pytest.raises(EventStreamError, match="Choose another port"):
            UDPReceiver(LOOPBACK, rx.port, SENSOR)


def test_stop_closes_the_socket_and_keeps_the_buffer():
    rx = UDPReceiver(LOOPBACK, 0, SENSOR).start()
    send_events(grid_events(7, SENSOR), SENSOR, (LOOPBACK, rx.port), speed=math.inf)
    wait_until(lambda: rx.counters()["buffered"] == 7, what="7 buffered events")
    rx.stop()
    assert len(rx.poll()) == 7
    with UDPReceiver(LOOPBACK, rx.port, SENSOR):  # the port is free again
        pass
    with pytest.raises(EventStreamError, match="stopped"):
        rx.start()


def test_a_failing_receiver_thread_is_reported_by_poll():
    calls = []

    def clock_that_breaks():  # the origin reading works; stamping the first datagram fails
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("clock broke")
        return 0

    with UDPReceiver(LOOPBACK, 0, SENSOR, clock=clock_that_breaks) as rx:
        send_events(grid_events(3, SENSOR), SENSOR, (LOOPBACK, rx.port), speed=math.inf)
        errors = []

        def poll_fails():
            try:
                rx.poll()
            except EventStreamError as error:
                errors.append(str(error))
            return bool(errors)

        wait_until(poll_fails, what="poll() to report the failed thread")
    assert "receiver thread failed" in errors[0] and "clock broke" in errors[0]


def test_drain_says_until_when_the_input_is_complete():
    clock = FakeClock(0)
    with UDPReceiver(LOOPBACK, 0, SENSOR, clock=clock) as rx:
        clock.set(5_000_000)
        send_events(grid_events(5, SENSOR), SENSOR, (LOOPBACK, rx.port), speed=math.inf)
        wait_until(lambda: rx.counters()["buffered"] == 5, what="5 events")
        clock.set(6_000_000)
        wait_until(lambda: rx.drain(0)[1] == 6_000, what="the receiver thread to pass 6 ms")
        events, until = rx.drain(max_events=2)
        assert events["t"].tolist() == [5_000, 5_000] and until == 5_000  # 3 more wait: complete up to them
        events, until = rx.drain()
        assert len(events) == 3 and until == 6_000
