"""The GENEVE data plane's short way for known flows changes nothing but the time it takes.

Two data planes get the same packets: one as it runs (later packets of a
validated flow skip the full parse), one made to forget every flow after each
packet (so each takes the full parse). What each writes to its TUN, its
counters and the steering's flow table must be the same, packet for packet,
for a mix of UDP and TCP flows, fragments, IPv6, broken lengths, bent GENEVE
options and senders that are not the load balancer.
"""

from __future__ import annotations

import random
from ipaddress import IPv4Address, IPv4Network

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.packet import Raw

from connector.core.model import Method, NoNames, NoPools
from connector.core.rules import ForwardingPolicy
from connector.core.steering import Steering
from connector.core.tunnel_health import KeepaliveTiming, TunnelHealth
from connector.io import geneve
from connector.io.events import EventLog
from connector.service.counters import Counters
from connector.service.dataplane import GeneveDataPlane
from lab.wire.geneve import geneve_header
from suites.unit.connector.policy_builders import ME, policy, rule

pytestmark = pytest.mark.unit
LB, OTHER = ("10.10.3.5", 6081), ("10.10.3.99", 6081)


class RecordingTun:
    """Stands in for the TUN device: keeps what the plane writes, in order."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, packet: bytes) -> bool:
        self.written.append(packet)
        return True


def _plane() -> GeneveDataPlane:
    pol = policy(rule(1, Method.DIRECT))
    tunnels = TunnelHealth(pol.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: 0.0)
    steering = Steering(ForwardingPolicy(pol, ME), NoNames(), NoPools(), tunnels)
    plane = GeneveDataPlane(steering, IPv4Address("10.10.3.31"),
                            (IPv4Network("10.10.3.5/32"),), counters=Counters(),
                            events=EventLog(None, "cc1"))
    plane._tuns = {"": RecordingTun()}  # type: ignore[dict-item]
    return plane


def _packets() -> list[tuple[bytes, tuple[str, int]]]:
    def wrap(inner: bytes, cookie: int = 7) -> bytes:
        return geneve_header(6 if inner[0] >> 4 == 6 else 4, cookie) + inner

    udp = [bytes(IP(src="10.10.1.11", dst="198.18.10.10") / UDP(sport=p, dport=443)
                 / Raw(b"u" * 40)) for p in (4000, 4001, 4002)]
    tcp = [bytes(IP(src="10.10.1.11", dst="198.18.10.10")
                 / TCP(sport=5000, dport=80, flags=f, seq=s, ack=a))
           for f, s, a in (("S", 1, 0), ("A", 2, 9), ("PA", 2, 9), ("FA", 50, 9))]
    fragment = bytes(IP(src="10.10.1.11", dst="198.18.10.10", flags="MF") / UDP(sport=4000)
                     / Raw(b"f" * 40))
    later = bytes(IP(src="10.10.1.11", dst="198.18.10.10", frag=3) / Raw(b"g" * 40))
    v6 = bytes(IPv6(src="fd00::1", dst="fd00::2") / UDP(sport=4000) / Raw(b"6" * 40))
    short_total = udp[0][:2] + (len(udp[0]) + 4).to_bytes(2, "big") + udp[0][4:]
    padded = udp[1] + b"\0" * 6  # total length less than the bytes: valid, not the short way
    good = [wrap(p) for p in udp + tcp] + [wrap(udp[0], cookie=8)]
    odd = [wrap(fragment), wrap(later), wrap(v6), wrap(short_total), wrap(padded),
           geneve_header(4, 7, version=1) + udp[0], geneve_header(4, 7, extra_words=2) + udp[0],
           wrap(udp[2])[:30]]
    rng = random.Random(0xF10E)
    mix = [(p, LB) for p in good * 20 + odd * 3] + [(good[0], OTHER)] * 5
    rng.shuffle(mix)
    return mix


def test_known_flows_take_the_short_way_with_the_same_outcome() -> None:
    runs, full = _plane(), _plane()
    for data, peer in _packets():
        runs.handle_geneve(data, peer)
        full.handle_geneve(data, peer)
        full._known.clear()  # forget: every packet takes the full parse
    assert runs._tuns[""].written == full._tuns[""].written  # type: ignore[attr-defined]
    assert runs.counters.snapshot() == full.counters.snapshot()
    assert _flows(runs) == _flows(full)
    assert len(runs._known) == 5  # three UDP and one TCP flow, and one re-cookied: validated
    assert runs.counters.get("geneve_rx_malformed") > 0


def _flows(plane: GeneveDataPlane) -> list[tuple[object, ...]]:
    """Each flow's key, counts, state and the header its replies would carry."""
    return sorted((str(e.key), e.packets, e.octets, e.closing, e.completed,
                   e.attachment.header, e.attachment.peer)
                  for e in plane.steering.flows._flows.values())


def test_the_short_way_reads_what_the_full_parse_reads() -> None:
    data = geneve_header(4, 9) + bytes(IP(src="10.10.1.11", dst="198.18.10.10")
                                      / TCP(sport=5000, dport=80, flags="PA", seq=7, ack=8))
    view = geneve.fast_view(data)
    packet = geneve.parse(data)
    assert view is not None
    assert isinstance(packet, geneve.GenevePacket)
    assert data[:view.header_len] == packet.header
    assert (view.total, view.tcp_flags, view.seq, view.ack) == (len(packet.payload), 0x18, 7, 8)
