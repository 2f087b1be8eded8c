"""The Azure Gateway Load Balancer data plane: two VXLAN tunnel interfaces, one bridge.

An Azure GWLB backend pool has exactly two tunnel interfaces, internal and
external, each a UDP port and a VNI (the vendor's defaults: 10800/800 and
10801/801, spec §4.2). The connector treats the pair as a bridge (spec §4.2
[I], check V1): a packet received on one interface leaves, after the
forwarding policy, on the *other* one, towards the load balancer that sent
it, the outer addresses reversed and the inner frame unchanged. VXLAN is
accepted only from the configured load-balancer sources (V2, the
AzureLoadBalancer address); anything else, malformed VXLAN, and a VNI that is
not its interface's, is dropped and counted by reason.

The policy (connector/core via `Steering`): every new flow is decided once and
written to the session log; a flow decided Direct (allowed) is bridged, a Drop
is dropped and counted, and ZIA, ECZPA or Local decisions cannot be honoured
by a bridge (the packet must go back to the load balancer), so those flows are
dropped and counted as `vxlan_not_bridgeable` (docs/decisions.md). The chained
traffic is internet traffic by design (a public load balancer's), so this
plane's core accepts public sources: that is the configured mode §2.5 allows.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network

from connector.core.model import Method
from connector.core.steering import Dropped, NewFlow, Steering, ToKernel
from connector.io import vxlan
from connector.io.ip_packet import PacketReject, read_packet
from connector.service.counters import Counters
from connector.service.dataplane import count_drop, segment_of
from connector.service.senders import SenderFilter

BATCH = 256
NOT_BRIDGEABLE = "vxlan_not_bridgeable"


def bridge_flow_log(log: Callable[[NewFlow], None]) -> Callable[[NewFlow], None]:
    """The session log of the bridge: a flow decided ZIA, ECZPA or Local is logged as
    dropped (`vxlan_not_bridgeable`), as it is, not as carried (spec F7)."""
    def logged(flow: NewFlow) -> None:
        if flow.dropped is None and flow.decision.method is not Method.DIRECT:
            flow = replace(flow, dropped=NOT_BRIDGEABLE)
        log(flow)
    return logged


@dataclass(frozen=True, slots=True)
class TunnelInterface:
    name: str  # internal | external
    port: int
    vni: int


class VxlanBridge:
    def __init__(self, steering: Steering, service_ip: IPv4Address,
                 interfaces: tuple[TunnelInterface, TunnelInterface],
                 sources: tuple[IPv4Network, ...], *, counters: Counters) -> None:
        self.steering, self.service_ip = steering, service_ip
        self.interfaces = interfaces
        self.sources = sources
        self.counters = counters
        self.up = False
        self._socks: dict[str, socket.socket] = {}
        self._senders = SenderFilter(sources)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for side in self.interfaces:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.setblocking(False)
            sock.bind((str(self.service_ip), side.port))
            self._socks[side.name] = sock
            loop.add_reader(sock.fileno(), self._on_readable, side)
        self.up = True

    async def stop(self) -> None:
        self.up = False
        loop = asyncio.get_running_loop()
        for sock in self._socks.values():
            loop.remove_reader(sock.fileno())
            sock.close()

    def _on_readable(self, side: TunnelInterface) -> None:
        sock = self._socks[side.name]
        now = time.monotonic()
        for _ in range(BATCH):
            try:
                data, peer = sock.recvfrom(65535)
            except BlockingIOError:
                return
            self.handle(side, data, peer, now)

    def handle(self, side: TunnelInterface, data: bytes, peer: tuple[str, int],
               now: float) -> None:
        if not self._senders.admits(peer[0]):
            self.counters.add("vxlan_rx_not_load_balancer")
            return
        packet = vxlan.parse(data)
        if isinstance(packet, vxlan.VxlanReject):
            self.counters.add("vxlan_rx_malformed")
            self.counters.add(f"vxlan_rx_malformed_{packet.reason}")
            return
        if packet.vni != side.vni:
            self.counters.add("vxlan_rx_foreign_vni")
            return
        self.counters.add(f"vxlan_rx_{side.name}")
        info = read_packet(packet.payload)
        if isinstance(info, PacketReject):
            self.counters.add("vxlan_rx_malformed")
            self.counters.add("vxlan_rx_malformed_inner")
            return
        if info.version == 6:
            count_drop(self.counters, Dropped("ipv6_no_path"))
            return
        action = self.steering.inbound(segment_of(info), b"", None, now)
        if isinstance(action, ToKernel) and action.decision.method is Method.DIRECT:
            self._bridge(side, packet, peer[0])
        elif isinstance(action, Dropped):
            count_drop(self.counters, action)
        else:
            count_drop(self.counters, Dropped(NOT_BRIDGEABLE))

    def _bridge(self, came_in: TunnelInterface, packet: vxlan.VxlanPacket,
                balancer: str) -> None:
        """Out of the other tunnel interface, back to the load balancer."""
        out = self.interfaces[1] if came_in is self.interfaces[0] else self.interfaces[0]
        frame = vxlan.build(out.vni, packet.ethernet, packet.payload)
        try:
            self._socks[out.name].sendto(frame, (balancer, out.port))
            self.counters.add(f"vxlan_tx_{out.name}")
        except OSError:
            self.counters.add("vxlan_tx_errors")

