"""The connector's side of its ZIA tunnels: keepalives, liveness, packets both ways.

One UDP socket on the service address talks to every configured ZIA gateway
address. Keepalives go out every `zia_keepalive_s`; they and their answers feed
`TunnelHealth`, which the forwarding core asks (fail-close/fail-open) and which
picks the address each flow uses (F5). Frames from anyone who is not a
configured gateway, and frames that do not decode, are dropped and counted.
State changes are events (`zia.gateway_up`, `zia.gateway_down`); an address's death
and a change of transport are also told to `on_paths_changed` (the GENEVE fast path
takes its ZIA flows back to user space then).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from ipaddress import IPv4Address

from connector.core.tunnel_health import TunnelHealth, choose_transport
from connector.io import zia_frame
from connector.io.events import EventLog
from connector.io.trust import TrustFolder
from connector.io.zia_frame import Frame, FrameReject, FrameType
from connector.service.counters import Counters
from connector.service.zia_tls import TlsLink

ZIA_TUNNEL_PORT = zia_frame.ZIA_TUNNEL_PORT


class ZiaTunnels:
    def __init__(self, health: TunnelHealth, source: IPv4Address, tunnel_id: int, *,
                 events: EventLog, counters: Counters, on_packet: Callable[[bytes], None],
                 transport: str = "udp", trust: TrustFolder | None = None) -> None:
        self.health = health
        self.source = source
        self.tunnel_id = tunnel_id
        self.events, self.counters = events, counters
        self.on_packet = on_packet
        self.transport = transport
        self.trust = trust
        self._sock: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None
        self._seq = 0
        self._alive: set[IPv4Address] = set()
        self._peers = {str(a) for a in health.addresses()}
        self._links: dict[IPv4Address, TlsLink] = {}
        self._udp_acked: dict[IPv4Address, float] = {}
        self._udp_unanswered: dict[IPv4Address, int] = {}
        self._using: dict[IPv4Address, str] = {}
        self._udp_peers: dict[IPv4Address, tuple[str, int]] = {}
        self.on_paths_changed: list[Callable[[], None]] = []

    async def start(self) -> None:
        if not self._peers:
            return
        if self.transport != "tls":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.bind((str(self.source), ZIA_TUNNEL_PORT))
            self._sock = sock
            asyncio.get_running_loop().add_reader(sock.fileno(), self._on_readable)
        if self.transport != "udp" and self.trust is not None:
            for address in self.health.addresses():
                link = TlsLink(address, self.source, self.trust, on_frame=self._on_tls_frame,
                               counters=self.counters, on_state=self._on_tls_state)
                link.start()
                self._links[address] = link
        self._task = asyncio.create_task(self._keepalives())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        for link in self._links.values():
            link.stop()
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()

    def send(self, address: IPv4Address, packet: bytes) -> None:
        self._seq = seq = (self._seq + 1) & 0xFFFFFFFF
        data = zia_frame.data_frame(self.tunnel_id, seq, packet)
        if self._links and self.transport_for(address, time.monotonic()) == "tls":
            self._links[address].send(data)
        else:
            self._send_udp(data, address)
        self.counters.add("zia_tx_packets")

    def udp_to(self, address: IPv4Address, now: float) -> bool:
        """Do `address`'s frames go by this tunnel's UDP socket now (not TLS)?"""
        return self._sock is not None and self.transport_for(address, now) == "udp"

    def transport_for(self, address: IPv4Address, now: float) -> str:
        link = self._links.get(address)
        if link is None:
            return "udp"
        return choose_transport(self.transport, self._udp_acked.get(address),
                                self._udp_unanswered.get(address, 0), link.connected, now,
                                self.health.timing)

    async def _keepalives(self) -> None:
        while True:
            self._seq = (self._seq + 1) & 0xFFFFFFFF
            for address in self.health.addresses():
                frame = Frame(FrameType.KEEPALIVE, self.tunnel_id, self._seq)
                if self._sock is not None:
                    self._sendto(frame, address)
                    self._udp_unanswered[address] = self._udp_unanswered.get(address, 0) + 1
                if address in self._links:
                    self._links[address].send(zia_frame.encode(frame))
                self.health.asked(address)
            now = time.monotonic()
            self._note_deaths(now)
            self._note_transports(now)
            await asyncio.sleep(self.health.timing.interval_s)

    def _note_transports(self, now: float) -> None:
        changed = False
        for address in self._links:
            chosen = self.transport_for(address, now)
            if self._using.get(address) != chosen:
                self._using[address] = chosen
                self.events.emit("zia.transport", address=str(address), transport=chosen)
                changed = True
        if changed:
            self._paths_changed()

    def _note_deaths(self, now: float) -> None:
        died = False
        for address in list(self._alive):
            if not self.health.alive(address, now):
                self._alive.discard(address)
                self.events.emit("zia.gateway_down", address=str(address))
                died = True
        if died:
            self._paths_changed()

    def _paths_changed(self) -> None:
        for told in self.on_paths_changed:
            told()

    def _sendto(self, frame: Frame, address: IPv4Address) -> None:
        self._send_udp(zia_frame.encode(frame), address)

    def _send_udp(self, data: bytes, address: IPv4Address) -> None:
        if self._sock is None:
            return
        if (peer := self._udp_peers.get(address)) is None:  # one per configured address
            peer = self._udp_peers[address] = (str(address), ZIA_TUNNEL_PORT)
        try:
            self._sock.sendto(data, peer)
        except OSError:
            self.counters.add("zia_tx_errors")

    def _on_readable(self) -> None:
        assert self._sock is not None
        for _ in range(256):
            try:
                data, (host, _port) = self._sock.recvfrom(65535)
            except BlockingIOError:
                return
            self._receive(data, host, "udp")

    def _on_tls_state(self, address: IPv4Address, up: bool) -> None:
        self.events.emit("zia.tls_link", address=str(address), state="up" if up else "down")

    def _on_tls_frame(self, data: bytes, address: IPv4Address) -> None:
        self._receive(data, str(address), "tls")

    def _receive(self, data: bytes, host: str, via: str) -> None:
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
            now = time.monotonic()
            if via == "udp":
                self._udp_acked[address] = now
                self._udp_unanswered[address] = 0
            if self.health.acked(address, now):
                self._alive.add(address)
                self.events.emit("zia.gateway_up", address=host, tunnel=self.tunnel_id)
