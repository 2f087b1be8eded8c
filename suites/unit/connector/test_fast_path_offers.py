"""When the GENEVE data plane, or the routed path, hands a flow to the kernel's fast path,
and under which key.

The plane runs as in production on packets fed to it; the fast path's kernel half is
replaced by a recorder of what it was asked to install (the kernel half has its own
tests on a real program and map: suites/functional/connector/test_fast_path_kernel.py).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.packet import Raw

from connector.core.model import FlowKey, NoNames, NoPools
from connector.core.rules import ForwardingPolicy
from connector.core.steering import Segment, Steering
from connector.core.tunnel_health import KeepaliveTiming, TunnelHealth
from connector.io.events import EventLog
from connector.io.fast_path import FastKey, ZiaTarget
from connector.io.geneve_tuns import LocationTun
from connector.service.counters import Counters
from connector.service.dataplane import GeneveDataPlane, ipv4_segment
from connector.service.routed_path import RoutedPath
from lab.wire.geneve import geneve_header
from suites.unit.connector.policy_builders import ME, policy
from suites.unit.connector.test_geneve_known_flows import LB, RecordingTun, _plane

pytestmark = pytest.mark.unit
HEADER = geneve_header(4, 7)
WORKLOAD, WEB = "10.10.1.11", "198.18.10.10"


class RecordingFast:
    def __init__(self) -> None:
        self.asked: list[tuple[FlowKey, FastKey, tuple[str, int]]] = []
        self.zia: list[ZiaTarget | None] = []

    def install(self, flow: FlowKey, key: FastKey, tun: LocationTun,
                zia: ZiaTarget | None = None) -> None:
        self.asked.append((flow, key, (tun.name, tun.zone)))
        self.zia.append(zia)


class FakeTunnels:
    """The ZIA tunnels as the plane asks them: the source, the tunnel's id, whether an
    edge is reached by UDP now (else TLS), and what was sent."""

    source, tunnel_id = IPv4Address("10.10.3.31"), 77

    def __init__(self, udp: bool) -> None:
        self.udp = udp
        self.sent: list[tuple[IPv4Address, bytes]] = []

    def udp_to(self, address: IPv4Address, now: float) -> bool:
        return self.udp

    def send(self, address: IPv4Address, packet: bytes) -> None:
        self.sent.append((address, packet))


class RecordingSocket:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Any]] = []

    def sendto(self, data: bytes, peer: Any) -> None:
        self.sent.append((data, peer))


def _fast_plane() -> tuple[GeneveDataPlane, RecordingFast]:
    plane, fast = _plane(), RecordingFast()
    plane.fast = fast  # type: ignore[assignment]
    plane._sock = RecordingSocket()  # type: ignore[assignment]
    return plane, fast


def _tcp(flags: str, seq: int, ack: int, *, back: bool = False) -> bytes:
    src, dst, sport, dport = (WEB, WORKLOAD, 80, 5000) if back else (WORKLOAD, WEB, 5000, 80)
    return bytes(IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags, seq=seq,
                                            ack=ack))


def test_a_udp_flow_is_offered_after_its_first_packet_under_its_exact_key() -> None:
    plane, fast = _fast_plane()
    inner = bytes(IP(src=WORKLOAD, dst=WEB) / UDP(sport=4000, dport=443) / Raw(b"u" * 20))
    plane.handle_geneve(HEADER + inner, LB)
    assert [(key, tun) for _, key, tun in fast.asked] == [
        (FastKey(IPv4Address(LB[0]), IPv4Address("10.10.3.31"), LB[1], HEADER,
                 IPv4Address(WORKLOAD), IPv4Address(WEB), 4000, 443, 17), ("ccgnv0", 0))]
    assert plane._tuns[""].written == [inner], "the first packet itself: user space's"  # type: ignore[attr-defined]


def test_a_tcp_flow_is_offered_only_once_its_handshake_completed() -> None:
    plane, fast = _fast_plane()
    plane.handle_geneve(HEADER + _tcp("S", 100, 0), LB)
    plane.return_packet(_tcp("SA", 900, 101, back=True))
    assert fast.asked == [], "SYN, SYN-ACK: not yet"
    plane.handle_geneve(HEADER + _tcp("A", 101, 901), LB)  # completes the exchange
    assert [key.proto for _, key, _ in fast.asked] == [6]
    assert fast.asked[0][1].inner_dport == 80


def test_a_tcp_flow_that_is_closing_is_not_offered() -> None:
    plane, fast = _fast_plane()
    plane.handle_geneve(HEADER + _tcp("S", 100, 0), LB)
    plane.return_packet(_tcp("SA", 900, 101, back=True))
    plane.handle_geneve(HEADER + _tcp("R", 101, 0), LB)  # reset before the ACK
    plane.handle_geneve(HEADER + _tcp("A", 101, 901), LB)
    assert fast.asked == []


def test_dns_is_never_offered() -> None:
    plane, fast = _fast_plane()
    query = bytes(IP(src=WORKLOAD, dst=WEB) / UDP(sport=4000, dport=53) / Raw(b"q" * 20))
    plane.handle_geneve(HEADER + query, LB)
    plane.handle_geneve(HEADER + query, LB)
    assert plane.counters.get("geneve_rx_packets") == 2
    assert fast.asked == []


PRIMARY = IPv4Address("198.19.1.1")


def _all_zia(udp: bool) -> tuple[Steering, FakeTunnels]:
    """Every flow takes the default rule (ZIA, gateway `default`), its primary alive."""
    pol = policy()
    health = TunnelHealth(pol.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: 0.0)
    health.acked(PRIMARY, 0.0)
    return Steering(ForwardingPolicy(pol, ME), NoNames(), NoPools(), health), FakeTunnels(udp)


def _zia_plane(udp: bool) -> tuple[GeneveDataPlane, RecordingFast, FakeTunnels]:
    steering, tunnels = _all_zia(udp)
    plane = GeneveDataPlane(steering, IPv4Address("10.10.3.31"), (IPv4Network("10.10.3.5/32"),),
                            counters=Counters(), events=EventLog(None, "cc1"),
                            tunnels=tunnels)  # type: ignore[arg-type]
    plane._tuns = {"": RecordingTun()}  # type: ignore[dict-item]
    fast = RecordingFast()
    plane.fast = fast  # type: ignore[assignment]
    return plane, fast, tunnels


def test_a_zia_flow_on_a_udp_tunnel_is_offered_with_its_edge() -> None:
    plane, fast, tunnels = _zia_plane(udp=True)
    inner = bytes(IP(src=WORKLOAD, dst=WEB) / UDP(sport=4000, dport=443) / Raw(b"z" * 20))
    plane.handle_geneve(HEADER + inner, LB)
    assert tunnels.sent == [(PRIMARY, inner)], "the first packet: user space frames it"
    assert fast.zia == [ZiaTarget(IPv4Address("10.10.3.31"), PRIMARY, 77)]
    assert fast.asked[0][1].inner_sport == 4000


def test_a_zia_flow_on_tls_stays_in_user_space() -> None:
    plane, fast, tunnels = _zia_plane(udp=False)
    inner = bytes(IP(src=WORKLOAD, dst=WEB) / UDP(sport=4000, dport=443) / Raw(b"z" * 20))
    plane.handle_geneve(HEADER + inner, LB)
    plane.handle_geneve(HEADER + inner, LB)
    assert len(tunnels.sent) == 2
    assert fast.asked == []


class RecordingRoutedFast:
    def __init__(self) -> None:
        self.asked: list[tuple[FlowKey, ZiaTarget]] = []

    def install(self, flow: FlowKey, zia: ZiaTarget) -> None:
        self.asked.append((flow, zia))


def _routed(udp: bool) -> tuple[RoutedPath, RecordingRoutedFast, FakeTunnels]:
    """A routed connector's user-space half, every flow ZIA (the default rule)."""
    steering, tunnels = _all_zia(udp)
    path = RoutedPath(steering, Counters(), tunnels=tunnels)  # type: ignore[arg-type]
    fast = RecordingRoutedFast()
    path.zia_fast = fast  # type: ignore[assignment]
    return path, fast, tunnels


def test_a_routed_zia_udp_flow_is_offered_with_its_edge_after_its_first_datagram() -> None:
    path, fast, tunnels = _routed(udp=True)
    datagram = bytes(IP(src=WORKLOAD, dst=WEB) / UDP(sport=4000, dport=443) / Raw(b"z" * 20))
    path.handle(datagram)
    assert tunnels.sent == [(PRIMARY, datagram)], "the first one: user space frames it"
    assert [(f.src, f.dst, f.sport, f.dport, int(f.proto)) for f, _ in fast.asked] == [
        (IPv4Address(WORKLOAD), IPv4Address(WEB), 4000, 443, 17)]
    assert [zia for _, zia in fast.asked] == [ZiaTarget(IPv4Address("10.10.3.31"), PRIMARY, 77)]


def test_a_routed_zia_udp_flow_on_tls_stays_in_user_space() -> None:
    path, fast, tunnels = _routed(udp=False)
    datagram = bytes(IP(src=WORKLOAD, dst=WEB) / UDP(sport=4000, dport=443) / Raw(b"z" * 20))
    path.handle(datagram)
    path.handle(datagram)
    assert len(tunnels.sent) == 2
    assert fast.asked == []


def test_a_routed_tcp_connection_is_never_offered() -> None:
    """conntrack tracks a routed TCP connection's windows: it must see every segment,
    completed exchange or not."""
    path, fast, tunnels = _routed(udp=True)
    path.handle(_tcp("S", 100, 0))
    path.steering.outbound(_segment(_tcp("SA", 900, 101, back=True)), 0.0)
    path.handle(_tcp("A", 101, 901))
    path.handle(_tcp("PA", 101, 901))
    assert len(tunnels.sent) == 3, "all three framed by user space"
    assert path.steering.flows.settled(_segment(_tcp("A", 101, 901)).key), "completed"
    assert fast.asked == []


def test_a_routed_reply_direction_is_never_offered() -> None:
    """A datagram sent the other way (a workload answering a flow it did not open) is
    not the kernel's: the program frames only what opened the flow."""
    path, fast, tunnels = _routed(udp=True)
    path.handle(bytes(IP(src=WORKLOAD, dst=WEB) / UDP(sport=4000, dport=443)))
    fast.asked.clear()
    path.handle(bytes(IP(src=WEB, dst=WORKLOAD) / UDP(sport=443, dport=4000)))
    assert len(tunnels.sent) == 2, "the other way too, framed by user space"
    assert fast.asked == []


def _segment(packet: bytes) -> Segment:
    seg = ipv4_segment(packet, Counters(), "malformed")
    assert seg is not None
    return seg
