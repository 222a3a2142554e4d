"""Opening the UDP sockets of the live receivers."""
from __future__ import annotations

import socket
import struct
import time
from typing import Optional

from ..events import EventStreamError

#: Linux: set the receive buffer beyond net.core.rmem_max (needs CAP_NET_ADMIN).
SO_RCVBUFFORCE = 33


def open_udp_socket(host: str, port: int, rcvbuf_bytes: Optional[int] = None, what: str = "events") -> socket.socket:
    """A non-blocking IPv4 UDP socket bound to ``(host, port)``, receive buffer enlarged.

    ``port=0`` picks a free port (``sock.getsockname()[1]`` tells which). Binding failures raise
    :class:`EventStreamError` saying how to fix them.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if rcvbuf_bytes:
            try:  # needs CAP_NET_ADMIN; otherwise the kernel caps the request at net.core.rmem_max
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, int(rcvbuf_bytes))
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(rcvbuf_bytes))
        sock.bind((host, int(port)))
    except OSError as exc:
        sock.close()
        raise EventStreamError(
            f"cannot listen for {what} on udp://{host}:{port}: {exc.strerror or exc}. Choose another port "
            "(0 picks a free one) or stop the program already bound to it; the host must be an address "
            "of this machine (0.0.0.0: all interfaces)."
        ) from exc
    sock.setblocking(False)
    return sock


#: Linux: the kernel stamps every datagram when it arrives (``CLOCK_REALTIME``, a ``timespec`` in
#: the ancillary data). Stamps taken by a Python thread after ``recv`` are late by however long the
#: thread waited for the interpreter lock (up to its 5 ms switch interval), and differently for the
#: event and label sockets: that misaligns labels and events by several ticks.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
TIMESTAMP_ANCILLARY_BYTES = socket.CMSG_SPACE(16)


def enable_kernel_timestamps(sock: socket.socket) -> bool:
    """Ask the kernel to stamp every datagram on arrival; False where it cannot."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        return True
    except OSError:
        return False


def realtime_to_monotonic_ns() -> int:
    """What to subtract from a ``CLOCK_REALTIME`` stamp to put it on ``time.monotonic_ns``'s base."""
    return time.time_ns() - time.monotonic_ns()


def kernel_stamp_ns(ancillary) -> Optional[int]:
    """The kernel's arrival stamp (realtime ns) in ``recvmsg``'s ancillary data, if any."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return sec * 1_000_000_000 + nsec
    return None


def kernel_clock_offset(sock: socket.socket, clock) -> Optional[int]:
    """The realtime-to-monotonic offset for :func:`arrival_ns`, with kernel stamps enabled on
    ``sock``; ``None`` (use the clock) when ``clock`` is not ``time.monotonic_ns`` (tests inject
    others) or the kernel cannot stamp."""
    if clock is time.monotonic_ns and enable_kernel_timestamps(sock):
        return realtime_to_monotonic_ns()
    return None


def arrival_ns(ancillary, offset_ns: Optional[int], now_ns: int) -> int:
    """A datagram's arrival on the monotonic base: the kernel's stamp when there is one (never later
    than ``now_ns``), else ``now_ns``."""
    stamp = kernel_stamp_ns(ancillary) if offset_ns is not None else None
    return now_ns if stamp is None else min(stamp - offset_ns, now_ns)
