"""DNS the connector sends through a ZIA tunnel (spec §6.4: ZIA DNS control).

An allowed query whose forwarding decision is ZIA is not sent from a socket: it
is wrapped in an IPv4/UDP packet from the service address to the resolver the
workload asked, and carried by the tunnel to the ZIA edge, which resolves it or
blocks it. The answer comes back down the tunnel addressed to the service
address; it is matched to the waiting query by source port.
"""

from __future__ import annotations

import asyncio
import random
import time
from ipaddress import IPv4Address

from connector.core.tunnel_health import TunnelHealth
from connector.io.ip_build import udp_packet, udp_payload
from connector.io.ip_packet import PacketInfo, read_packet
from connector.service.zia_tunnel import ZiaTunnels

PORTS = range(20000, 60000)


class ZiaDns:
    def __init__(self, tunnels: ZiaTunnels, health: TunnelHealth, source: IPv4Address,
                 timeout_s: float = 2.0) -> None:
        self.tunnels, self.health = tunnels, health
        self.source = source
        self.timeout_s = timeout_s
        self._waiting: dict[int, asyncio.Future[bytes]] = {}
        self._rng = random.Random()

    async def query(self, wire: bytes, server: IPv4Address, gateway: str) -> bytes | None:
        """The answer, or None when no edge is alive or none answered in time."""
        address = self.health.active(gateway, time.monotonic())
        if address is None:
            return None
        port = self._free_port()
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[port] = future
        try:
            self.tunnels.send(address, udp_packet(self.source, port, server, 53, wire))
            return await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(port, None)

    def is_mine(self, packet: bytes) -> bool:
        """True (and consumed) when `packet` answers one of our queries."""
        info = read_packet(packet)
        if not isinstance(info, PacketInfo) or info.dst != self.source or info.proto != 17:
            return False
        future = self._waiting.get(info.dport)
        if future is not None and not future.done():
            future.set_result(udp_payload(packet))
        return True

    def _free_port(self) -> int:
        while True:
            port = self._rng.choice(PORTS)
            if port not in self._waiting:
                return port
