"""The GENEVE data plane: load-balancer packets in, verdicts carried out, replies back.

I/O only; every choice is `Steering`'s. Inbound GENEVE (UDP 6081 on the
service address, from the configured load-balancer networks) is parsed and
checked (G1); its inner packet is steered: Direct and DNS go into the kernel
through the TUN device (nftables SNATs Direct to the service address, the DNS
divert hands port 53 to the listener), ZIA goes into the tunnel, drops are
counted by reason. Replies come back from the TUN (the kernel routes a
GENEVE flow's replies there by connection mark) or from a ZIA tunnel, and leave
with the flow's own GENEVE header towards the load balancer that sent it (G2).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network

from connector.core.fast_lane import kernel_may_carry
from connector.core.flows import Canonical, canonical
from connector.core.memo import remember
from connector.core.model import FlowKey
from connector.core.steering import (
    Dropped,
    NewFlow,
    Segment,
    Steering,
    ToGeneve,
    ToKernel,
    ToRouted,
    ToZia,
)
from connector.io import geneve, host
from connector.io.events import EventLog
from connector.io.fast_path import FastKey, FastPath, FastPathError, FastTotals, ZiaTarget
from connector.io.geneve import GENEVE_PORT, GeneveReject
from connector.io.geneve_tuns import LocationTun, location_tuns
from connector.io.ip_packet import PacketInfo, PacketReject, read_packet
from connector.io.tun import TunDevice
from connector.service.counters import Counters
from connector.service.fast_flows import FastFlows
from connector.service.senders import SenderFilter
from connector.service.zia_tunnel import ZiaTunnels

BATCH = 512
KNOWN_FLOWS = 65536  # validated (header, flow) identities kept; cleared when full
IPV6_RULE = "IPv6 Not Carried"


class GeneveDataPlane:
    def __init__(self, steering: Steering, service_ip: IPv4Address,
                 sources: tuple[IPv4Network, ...], *, counters: Counters,
                 events: EventLog, tunnels: ZiaTunnels | None = None,
                 routed_write: Callable[[bytes], None] | None = None,
                 locations: dict[int, str] | None = None,
                 fast_path_on: str | None = None) -> None:
        self.steering = steering
        self.fast_path_on = fast_path_on  # the service interface, when the kernel may carry
        self.fast: FastFlows | None = None
        # GWLB endpoint (the ENI option's value) -> its sub-location; others: ours ("")
        self.locations = locations or {}
        # one TUN per location: the kernel tracks each location's flows apart
        self.tuns = location_tuns(self.locations.values())
        self._tun_of = {tun.location: tun for tun in self.tuns}
        self.service_ip = service_ip
        self.sources = sources
        self.counters, self.events = counters, events
        self.tunnels = tunnels
        self.routed_write = routed_write  # replies of routed flows
        self.up = False
        self._sock: socket.socket | None = None
        self._tuns: dict[str, TunDevice] = {}  # location ("" the own) -> its TUN
        self._senders = SenderFilter(sources)
        # fast_view identity -> its validated flow, with the flow table's key for it
        self._known: dict[bytes, tuple[FlowKey, Canonical]] = {}
        self._ipv6_logged: dict[tuple[int, str, str, int, int], bool] = {}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for tun in self.tuns:
            self._tuns[tun.location] = device = TunDevice(tun.name)
            host.add_tun_return_route(tun.name, tun.mark, tun.table, tun.mask)
            loop.add_reader(device.fd, self._on_tun, tun)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.setblocking(False)
        sock.bind((str(self.service_ip), GENEVE_PORT))
        self._sock = sock
        loop.add_reader(sock.fileno(), self._on_geneve)
        if self.fast_path_on is not None:
            self._start_fast_path(self.fast_path_on)
        self.up = True

    def _start_fast_path(self, interface: str) -> None:
        """The kernel fast path if this host gives it; else user space carries all, as
        without it, and the event and counter say why."""
        try:
            path = FastPath(interface)
        except FastPathError as exc:
            self.counters.add("geneve_fast_path_unavailable")
            self.events.emit("dataplane.fast_path", state="unavailable", interface=interface,
                             reason=str(exc))
            return
        self.fast = FastFlows(path, self.steering.flows, self.counters, self.steering.workloads)
        if self.tunnels is not None:
            self.tunnels.on_paths_changed.append(self._zia_paths_changed)
        self.events.emit("dataplane.fast_path", state="on", interface=interface)

    async def stop(self) -> None:
        self.up = False
        loop = asyncio.get_running_loop()
        if self.fast is not None:
            self.fast.close()
            self.fast = None
        if self._sock is not None:
            loop.remove_reader(self._sock.fileno())
            self._sock.close()
        for device in self._tuns.values():
            loop.remove_reader(device.fd)
            device.close()
        self._tuns.clear()
        for tun in self.tuns:
            host.remove_tun_return_route(tun.mark, tun.table, tun.mask)

    # inbound --------------------------------------------------------------------------
    def _on_geneve(self) -> None:
        assert self._sock is not None
        now = time.monotonic()  # one reading per burst: flow times need no finer grain
        for _ in range(BATCH):
            try:
                data, peer = self._sock.recvfrom(65535)
            except BlockingIOError:
                return
            self.handle_geneve(data, peer, now)

    def handle_geneve(self, data: bytes, peer: tuple[str, int], now: float | None = None
                      ) -> None:
        if not self._senders.admits(peer[0]):
            self.counters.add("geneve_rx_not_load_balancer")
            return
        now = time.monotonic() if now is None else now
        view = geneve.fast_view(data)
        if view is not None and (known := self._known.get(view.identity)) is not None:
            # a flow whose header and inner packet were validated before
            self.counters.add("geneve_rx_packets")
            seg = Segment(known[0], view.total, view.tcp_flags, view.seq, view.ack, known[1])
            action = self.steering.inbound(seg, data[:view.header_len], peer, now)
            self._carry_out(action, data[view.header_len:], known[0].location)
            if self.fast is not None:  # e.g. a TCP flow that has just completed
                self._offer_to_kernel(action, known[0], data[:view.header_len], peer)
            return
        self._handle_in_full(data, peer, view, now)

    def _handle_in_full(self, data: bytes, peer: tuple[str, int],
                        view: geneve.FastView | None, now: float) -> None:
        packet = geneve.parse(data)
        if isinstance(packet, GeneveReject):
            self.counters.add("geneve_rx_malformed")
            self.counters.add(f"geneve_rx_malformed_{packet.reason}")
            return
        info = read_packet(packet.payload)
        if isinstance(info, PacketReject) or geneve.protocol_of(packet.payload) != packet.protocol:
            self.counters.add("geneve_rx_malformed")
            self.counters.add("geneve_rx_malformed_inner")
            return
        self.counters.add("geneve_rx_packets")
        if info.version == 6:
            self.counters.add("geneve_rx_ipv6")
            self._drop(Dropped("ipv6_no_path"))
            self._log_ipv6_drop(info)
            return
        location = self.locations.get(packet.options.eni_id, "")
        if self.locations and not location:
            self.counters.add("geneve_rx_unmapped_endpoint")
        seg = segment_of(info, location)
        if view is not None:  # valid, so its later packets may take the short way
            remember(self._known, view.identity, (seg.key, canonical(seg.key)), KNOWN_FLOWS)
        action = self.steering.inbound(seg, packet.header, peer, now)
        self._carry_out(action, packet.payload, location)
        if self.fast is not None:
            self._offer_to_kernel(action, seg.key, packet.header, peer)

    def _offer_to_kernel(self, action: ToKernel | ToZia | ToGeneve | Dropped, flow: FlowKey,
                         header: bytes, peer: tuple[str, int]) -> None:
        """The flow's next packets to the kernel's fast path, if it may carry them."""
        assert self.fast is not None
        if not kernel_may_carry(action, flow, self.steering.flows):
            return
        zia = None
        if isinstance(action, ToZia):
            if self.tunnels is None or not self.tunnels.udp_to(action.address,
                                                                time.monotonic()):
                return  # TLS, or no UDP socket: the tunnel is user space's
            zia = ZiaTarget(self.tunnels.source, action.address, self.tunnels.tunnel_id)
        key = FastKey(IPv4Address(peer[0]), self.service_ip, peer[1], header,
                      flow.src, flow.dst, flow.sport, flow.dport, flow.proto)
        self.fast.install(flow, key, self._tun_of[flow.location], zia)

    def _zia_paths_changed(self) -> None:
        """An edge died or a transport changed: ZIA flows are user space's again, which
        keeps or moves each at its next packet (and offers it back)."""
        if self.fast is not None:
            self.fast.forget_zia()

    def _log_ipv6_drop(self, info: PacketInfo) -> None:
        """IPv6 inside GENEVE has no path here (docs/decisions.md): each such flow gets
        one session-log record, as every dropped flow does (F7); bounded memory."""
        flow = (info.proto, str(info.src), str(info.dst), info.sport, info.dport)
        if flow in self._ipv6_logged:
            return
        remember(self._ipv6_logged, flow, True, 4096)
        self.events.emit("flow.new", proto=info.proto, src=flow[1], dst=flow[2],
                         sport=info.sport, dport=info.dport, method="DROP",
                         rule=IPV6_RULE, reason="IPv6 inside GENEVE has no path",
                         gateway=None, dropped="ipv6_no_path")

    def _carry_out(self, action: ToKernel | ToZia | ToGeneve | Dropped, payload: bytes,
                   location: str) -> None:
        if isinstance(action, ToKernel):  # into the kernel by the location's own TUN
            if not self._tuns[location].write(payload):
                self.counters.add("tun_tx_errors")
        elif isinstance(action, ToZia) and self.tunnels is not None:
            self.tunnels.send(action.address, payload)
        elif isinstance(action, Dropped):
            self._drop(action)

    def _drop(self, action: Dropped) -> None:
        count_drop(self.counters, action)

    # outbound -------------------------------------------------------------------------
    def _on_tun(self, tun: LocationTun) -> None:
        drain(self._tuns[tun.location], lambda packet: self.return_packet(packet, tun.location))

    def return_packet(self, packet: bytes, location: str = "") -> None:
        """A reply from the kernel (by the TUN of the `location` its connection came
        from) or from a ZIA tunnel (no location): back to its load balancer, or dropped."""
        seg = ipv4_segment(packet, self.counters, "return_malformed", location)
        if seg is None:
            return
        action = self.steering.outbound(seg, time.monotonic())
        if isinstance(action, Dropped):
            self._drop(action)
            return
        if isinstance(action, ToRouted):
            if self.routed_write is not None:
                self.routed_write(packet)
            return
        assert self._sock is not None
        try:
            self._sock.sendto(action.header + packet, action.peer)
            self.counters.add("geneve_tx_packets")
        except OSError:
            self.counters.add("geneve_tx_errors")

    def fold(self) -> None:
        """What the kernel fast path carried, into the flow table and the counters."""
        if self.fast is not None:
            self.fast.fold()

    def carried_direct(self) -> FastTotals | None:
        """Packets and octets the fast path carried past the TUN (own location, decided
        Direct by the rules) since it was attached; None without it."""
        return self.fast.path.carried_direct() if self.fast is not None else None


def session_logger(events: EventLog, own_location: str = "") -> Callable[[NewFlow], None]:
    """The session log: one `flow.new` per flow the data plane (GENEVE or routed) carries,
    naming its location (a GWLB endpoint's sub-location, else the connector's own)."""
    def log(flow: NewFlow) -> None:
        d = flow.decision
        events.emit("flow.new", proto=flow.key.proto, src=str(flow.key.src),
                    dst=str(flow.key.dst), sport=flow.key.sport, dport=flow.key.dport,
                    method=d.method.value, rule=d.rule_name, reason=d.reason, gateway=d.gateway,
                    dropped=flow.dropped, location=flow.key.location or own_location)
    return log


def drain(tun: TunDevice, handle: Callable[[bytes], None]) -> None:
    """Hand each packet waiting on `tun` to `handle`, at most BATCH per wake-up."""
    for _ in range(BATCH):
        packet = tun.read()
        if packet is None:
            return
        handle(packet)


def ipv4_segment(packet: bytes, counters: Counters, malformed: str, location: str = ""
                 ) -> Segment | None:
    """The steering facts of an IPv4 packet; anything else is counted as `malformed`."""
    info = read_packet(packet)
    if isinstance(info, PacketReject) or info.version != 4:
        counters.add(malformed)
        return None
    return segment_of(info, location)


def count_drop(counters: Counters, action: Dropped) -> None:
    counters.add("dropped")
    counters.add(f"dropped_{action.reason}")


def segment_of(info: PacketInfo, location: str = "") -> Segment:
    key = FlowKey(info.proto, info.src, info.dst, info.sport, info.dport,  # type: ignore[arg-type]
                  location)
    return Segment(key, info.length, info.tcp_flags, info.seq, info.ack)
