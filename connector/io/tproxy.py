"""Transparent sockets: receive DNS addressed to any destination, answer as that destination.

The kernel path diverts UDP/TCP port 53 arriving on the service interface to
the listener with nftables `tproxy` (spec §6.4: a ZPA name sent to any
resolver is intercepted). The listener learns each query's original
destination (IP_ORIGDSTADDR for UDP, getsockname for TCP) and replies from it.
"""

from __future__ import annotations

import socket
import struct
from functools import lru_cache
from ipaddress import IPv4Address

IP_TRANSPARENT = 19
IP_RECVORIGDSTADDR = 20
IP_ORIGDSTADDR = 20
SOL_IP = 0
Address = tuple[str, int]


# The DNS listener's queue: a neighbour's flood that its per-source limit admits (1,000
# a second and a burst) filled the default 208 KiB in a scheduling stall of a few hundred
# ms, and the questions of other clients queued behind it were lost (seen as RcvbufErrors
# in the lab's flood test); as the GENEVE plane's socket, 4 MiB (the kernel caps it at
# net.core.rmem_max).
LISTENER_BUFFER = 4 << 20


def udp_listener(addr: IPv4Address, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, LISTENER_BUFFER)
    sock.setsockopt(SOL_IP, IP_TRANSPARENT, 1)
    sock.setsockopt(SOL_IP, IP_RECVORIGDSTADDR, 1)
    sock.setblocking(False)
    sock.bind((str(addr), port))
    return sock


def tcp_listener(addr: IPv4Address, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(SOL_IP, IP_TRANSPARENT, 1)
    sock.setblocking(False)
    sock.bind((str(addr), port))
    sock.listen(512)
    return sock


def recv_query(sock: socket.socket) -> tuple[bytes, Address, Address] | None:
    """(data, client, original destination), or None when nothing is waiting."""
    try:
        data, ancillary, _, client = sock.recvmsg(65535, socket.CMSG_SPACE(16))
    except BlockingIOError:
        return None
    for level, kind, payload in ancillary:
        if level == SOL_IP and kind == IP_ORIGDSTADDR:
            return data, client, _original(payload[2:8])
    return data, client, sock.getsockname()


@lru_cache(maxsize=1024)
def _original(port_and_address: bytes) -> Address:
    """sockaddr_in's port and address as (text, port): the same few resolvers each time."""
    port, raw = struct.unpack("!H4s", port_and_address)
    return socket.inet_ntoa(raw), port


class ReplySockets:
    """One transparent socket per answering address, kept: a reply costs one sendto.

    Bounded: past `limit` addresses (queries to many resolvers) all are closed and
    made again as needed. The sockets never receive: their receive buffer is the
    smallest the kernel allows, and the kernel path diverts port 53 to the listener.
    """

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._by_source: dict[Address, socket.socket] = {}

    def send(self, data: bytes, source: Address, client: Address) -> None:
        sock = self._by_source.get(source)
        if sock is None:
            if len(self._by_source) >= self.limit:
                self.close()
            sock = self._by_source[source] = _reply_socket(source)
        # Not contextlib.suppress: this runs per answer, and a bare try costs nothing.
        try:  # noqa: SIM105
            sock.sendto(data, client)
        except OSError:
            pass  # a full buffer or an unreachable client: lost, as on the wire; it retries

    def close(self) -> None:
        for sock in self._by_source.values():
            sock.close()
        self._by_source.clear()


def _reply_socket(source: Address) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
    sock.setsockopt(SOL_IP, IP_TRANSPARENT, 1)
    sock.setblocking(False)
    sock.bind(source)
    return sock
