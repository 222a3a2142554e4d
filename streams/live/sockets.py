"""Opening the UDP sockets of the live receivers."""
from __future__ import annotations

import socket
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
