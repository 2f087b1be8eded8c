"""Queries the connector itself sends: to an upstream resolver, a DNS gateway, or (the
control plane) the management resolvers.

They leave from the address the caller names: the service address for the
data plane (spec §6.4 Direct: SNAT to the service IP), the management address
for the connector's own names (§1.1). UDP first; a truncated answer (TC=1) is
retried over TCP. A silent server ends in `UpstreamTimeout`.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from ipaddress import IPv4Address

import dns.flags
import dns.message

from connector.errors import ConnectorError

DEFAULT_TIMEOUT_S = 2.0  # how long a forwarded query waits for its server


class UpstreamTimeout(ConnectorError):
    def __init__(self, server: IPv4Address, timeout_s: float) -> None:
        self.server = server
        super().__init__(f"no answer from {server} within {timeout_s:g} s")


async def query(wire: bytes, server: IPv4Address, source: IPv4Address, *,
                tcp: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S,
                port: int = 53) -> bytes:
    try:
        if not tcp:
            answer = await asyncio.wait_for(_udp(wire, server, source, port), timeout_s)
            if not _truncated(answer):
                return answer
        return await asyncio.wait_for(_tcp(wire, server, source, port), timeout_s)
    except (TimeoutError, OSError) as exc:
        raise UpstreamTimeout(server, timeout_s) from exc


async def _udp(wire: bytes, server: IPv4Address, source: IPv4Address, port: int) -> bytes:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.bind((str(source), 0))
        await loop.sock_sendto(sock, wire, (str(server), port))
        while True:
            data, peer = await loop.sock_recvfrom(sock, 65535)
            if peer[0] == str(server) and data[:2] == wire[:2]:
                return data


async def _tcp(wire: bytes, server: IPv4Address, source: IPv4Address, port: int) -> bytes:
    reader, writer = await asyncio.open_connection(str(server), port,
                                                   local_addr=(str(source), 0))
    try:
        writer.write(struct.pack("!H", len(wire)) + wire)
        await writer.drain()
        (length,) = struct.unpack("!H", await reader.readexactly(2))
        return await reader.readexactly(length)
    finally:
        writer.close()


def _truncated(wire: bytes) -> bool:
    try:
        return bool(dns.message.from_wire(wire).flags & dns.flags.TC)
    except Exception:  # noqa: BLE001 - an unparsable answer is passed on as it is
        return False
