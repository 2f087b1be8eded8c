"""The connector's side of its ZIA tunnels: keepalives, liveness, packets both ways.

One UDP socket on the service address talks to every configured ZIA gateway
address. Keepalives go out every `zia_keepalive_s`; answers feed
`TunnelHealth`, which the forwarding core asks (fail-close/fail-open) and which
picks the address each flow uses (F5). Frames from anyone who is not a
configured gateway, and frames that do not decode, are dropped and counted.
State changes are events (`zia.gateway_up`, `zia.gateway_down`).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from ipaddress import IPv4Address

from connector.core.tunnel_health import TunnelHealth
from connector.io import zia_frame
from connector.io.events import EventLog
from connector.io.zia_frame import Frame, FrameReject, FrameType
from connector.service.counters import Counters

ZIA_TUNNEL_PORT = zia_frame.ZIA_TUNNEL_PORT


class ZiaTunnels:
    def __init__(self, health: TunnelHealth, source: IPv4Address, tunnel_id: int, *,
                 events: EventLog, counters: Counters,
                 on_packet: Callable[[bytes], None]) -> None:
        self.health = health
        self.source = source
        self.tunnel_id = tunnel_id
        self.events, self.counters = events, counters
        self.on_packet = on_packet
        self._sock: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None
        self._seq = 0
        self._alive: set[IPv4Address] = set()
        self._peers = {str(a) for a in health.addresses()}

    async def start(self) -> None:
        if not self._peers:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind((str(self.source), ZIA_TUNNEL_PORT))
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._on_readable)
        self._task = asyncio.create_task(self._keepalives())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()

    def send(self, address: IPv4Address, packet: bytes) -> None:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        self._sendto(Frame(FrameType.DATA, self.tunnel_id, self._seq, packet), address)
        self.counters.add("zia_tx_packets")

    async def _keepalives(self) -> None:
        while True:
            self._seq = (self._seq + 1) & 0xFFFFFFFF
            for address in self.health.addresses():
                self._sendto(Frame(FrameType.KEEPALIVE, self.tunnel_id, self._seq), address)
            self._note_deaths(time.monotonic())
            await asyncio.sleep(self.health.timing.interval_s)

    def _note_deaths(self, now: float) -> None:
        for address in list(self._alive):
            if not self.health.alive(address, now):
                self._alive.discard(address)
                self.events.emit("zia.gateway_down", address=str(address))

    def _sendto(self, frame: Frame, address: IPv4Address) -> None:
        if self._sock is None:
            return
        try:
            self._sock.sendto(zia_frame.encode(frame), (str(address), ZIA_TUNNEL_PORT))
        except OSError:
            self.counters.add("zia_tx_errors")

    def _on_readable(self) -> None:
        assert self._sock is not None
        for _ in range(256):
            try:
                data, (host, _port) = self._sock.recvfrom(65535)
            except BlockingIOError:
                return
            self._receive(data, host)

    def _receive(self, data: bytes, host: str) -> None:
        if host not in self._peers:
            self.counters.add("zia_rx_not_a_gateway")
            return
        frame = zia_frame.decode(data)
        if isinstance(frame, FrameReject):
            self.counters.add(f"zia_rx_malformed_{frame.reason}")
            return
        if frame.type is FrameType.DATA:
            self.counters.add("zia_rx_packets")
            self.on_packet(frame.payload)
        elif frame.type is FrameType.KEEPALIVE_ACK:
            address = IPv4Address(host)
            if self.health.acked(address, time.monotonic()):
                self._alive.add(address)
                self.events.emit("zia.gateway_up", address=host)
