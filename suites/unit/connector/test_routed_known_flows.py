"""The routed path's short way for known flows changes nothing but the time it takes.

Two routed paths get the same packets from their TUN: one as it runs (later
packets of a flow read in full before skip the full read), one made to forget
every flow after each packet (so each is read in full). What each sends into
its ZIA tunnels, its counters, its session log and the steering's flow table
must be the same, packet for packet, for a mix of UDP and TCP flows (ZIA,
dropped, and in two routed sub-locations), fragments, IPv6, options, broken
and padded lengths and short packets.
"""

from __future__ import annotations

import random
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.packet import Raw

from connector.core.model import Method, NoNames, NoPools
from connector.core.routed_locations import RoutedLocation, SourceLocations
from connector.core.rules import ForwardingPolicy
from connector.core.steering import NewFlow, Steering
from connector.core.tunnel_health import KeepaliveTiming, TunnelHealth
from connector.io.ip_packet import PacketInfo, read_packet, view_at
from connector.service.counters import Counters
from connector.service.routed_path import RoutedPath
from suites.unit.connector.policy_builders import ME, policy, rule

pytestmark = pytest.mark.unit
LOC_A = RoutedLocation("loc-a", (IPv4Network("10.10.1.128/26"),))


class RecordingTunnels:
    """Stands in for the ZIA tunnels: keeps what the path sends, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[IPv4Address, bytes]] = []

    def send(self, address: IPv4Address, packet: bytes) -> None:
        self.sent.append((address, packet))


def _path(log: list[NewFlow]) -> RoutedPath:
    pol = policy(rule(1, Method.DROP, locations=("loc-a",)),
                 rule(2, Method.ZIA))
    health = TunnelHealth(pol.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: 0.0)
    for address in health.addresses():
        health.acked(address, 1e9)  # alive: ZIA flows go into the tunnel
    located = {"loc-a": ForwardingPolicy(pol, replace(ME, location="loc-a"))}
    steering = Steering(ForwardingPolicy(pol, ME), NoNames(), NoPools(), health,
                        on_new_flow=log.append, locations=located)
    return RoutedPath(steering, Counters(), tunnels=RecordingTunnels(),  # type: ignore[arg-type]
                      locations=SourceLocations((LOC_A,)))


def _packets() -> list[bytes]:
    own, in_a = "10.10.1.11", "10.10.1.130"
    udp = [bytes(IP(src=src, dst="198.18.10.10") / UDP(sport=p, dport=443) / Raw(b"u" * 40))
           for src in (own, in_a) for p in (4000, 4001)]
    udp.append(bytes(IP(src=own, dst="198.18.10.10") / UDP(sport=4000, dport=8443)
                     / Raw(b"v" * 40)))  # differs from the first in its destination port only
    tcp = [bytes(IP(src=own, dst="198.18.10.10")
                 / TCP(sport=5000, dport=80, flags=f, seq=s, ack=a))
           for f, s, a in (("S", 1, 0), ("A", 2, 9), ("PA", 2, 9), ("FA", 50, 9))]
    fragment = bytes(IP(src=own, dst="198.18.10.10", flags="MF") / UDP(sport=4000, dport=443)
                     / Raw(b"f" * 40))
    later = bytes(IP(src=own, dst="198.18.10.10", frag=3) / Raw(b"g" * 40))
    options = bytes(IP(src=own, dst="198.18.10.10", options=b"\x01" * 4)
                    / UDP(sport=4000, dport=443) / Raw(b"o" * 40))
    v6 = bytes(IPv6(src="fd00::1", dst="fd00::2") / UDP(sport=4000) / Raw(b"6" * 40))
    icmp = bytes(IP(src=own, dst="198.18.10.10", proto=1) / Raw(b"\x08" + bytes(39)))
    short_total = udp[0][:2] + (len(udp[0]) + 4).to_bytes(2, "big") + udp[0][4:]
    padded = udp[1] + b"\0" * 6  # total length less than the bytes: valid, not the short way
    good = udp + tcp
    odd = [fragment, later, options, v6, icmp, short_total, padded, udp[2][:30], b""]
    mix = good * 20 + odd * 3
    random.Random(0x20C7).shuffle(mix)
    return mix


def _handshake() -> list[tuple[str, bytes]]:
    """A TCP exchange in order: into the tunnel, the SYN-ACK back out of it, the ACK
    (which completes it, by its acknowledgement number), data, the close."""
    out = IP(src="10.10.1.11", dst="198.18.10.10")
    back = IP(src="198.18.10.10", dst="10.10.1.11")
    return [("in", bytes(out / TCP(sport=6000, dport=443, flags="S", seq=100))),
            ("back", bytes(back / TCP(sport=443, dport=6000, flags="SA", seq=500, ack=101))),
            ("in", bytes(out / TCP(sport=6000, dport=443, flags="A", seq=101, ack=501))),
            ("in", bytes(out / TCP(sport=6000, dport=443, flags="PA", seq=101, ack=501)
                         / Raw(b"d" * 30))),
            ("in", bytes(out / TCP(sport=6000, dport=443, flags="FA", seq=131, ack=501)))]


def test_known_flows_take_the_short_way_with_the_same_outcome() -> None:
    runs_log: list[NewFlow] = []
    full_log: list[NewFlow] = []
    runs, full = _path(runs_log), _path(full_log)
    stream = [("in", packet) for packet in _packets()] + _handshake()
    for way, packet in stream:
        for path in (runs, full):
            path.handle(packet) if way == "in" else path.return_packet(packet)
        full._known.clear()  # forget: every packet is read in full
    assert runs.tunnels.sent == full.tunnels.sent  # type: ignore[union-attr]
    assert runs.counters.snapshot() == full.counters.snapshot()
    assert runs_log == full_log
    assert _flows(runs) == _flows(full)
    assert len(runs._known) == 7  # five UDP flows and two TCP flows read in full
    assert [e.completed for e in runs.steering.flows._flows.values()
            if e.key.sport == 6000] == [True]  # the handshake's ACK, read the short way
    assert runs.counters.get("routed_malformed") > 0
    assert runs.counters.get("dropped_policy_drop") > 0  # loc-a's UDP, by its own rule
    assert len(runs.tunnels.sent) > 100  # type: ignore[union-attr]


def _flows(path: RoutedPath) -> list[tuple[object, ...]]:
    return sorted((str(e.key), e.packets, e.octets, e.closing, e.completed)
                  for e in path.steering.flows._flows.values())


def test_the_view_reads_what_the_full_read_reads() -> None:
    for packet in (bytes(IP(src="10.10.1.11", dst="198.18.10.10")
                         / TCP(sport=5000, dport=80, flags="PA", seq=7, ack=8)),
                   bytes(IP(src="10.10.1.11", dst="198.18.10.10") / UDP(sport=5, dport=53)
                         / Raw(b"q" * 20))):
        view, info = view_at(packet, 0), read_packet(packet)
        assert view is not None
        assert isinstance(info, PacketInfo)
        assert view.identity == bytes([info.proto]) + info.src.packed + info.dst.packed + (
            info.sport.to_bytes(2, "big") + info.dport.to_bytes(2, "big"))
        assert (view.total, view.tcp_flags, view.seq, view.ack) == (
            info.length, info.tcp_flags, info.seq, info.ack)
