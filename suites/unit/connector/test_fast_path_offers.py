"""When the GENEVE data plane hands a flow to the kernel's fast path, and under which key.

The plane runs as in production on packets fed to it; the fast path's kernel half is
replaced by a recorder of what it was asked to install (the kernel half has its own
tests on a real program and map: suites/functional/connector/test_fast_path_kernel.py).
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.packet import Raw

from connector.core.model import FlowKey
from connector.io.fast_path import FastKey
from connector.io.geneve_tuns import LocationTun
from connector.service.dataplane import GeneveDataPlane
from lab.wire.geneve import geneve_header
from suites.unit.connector.test_geneve_known_flows import LB, _plane

pytestmark = pytest.mark.unit
HEADER = geneve_header(4, 7)
WORKLOAD, WEB = "10.10.1.11", "198.18.10.10"


class RecordingFast:
    def __init__(self) -> None:
        self.asked: list[tuple[FlowKey, FastKey, tuple[str, int]]] = []

    def install(self, flow: FlowKey, key: FastKey, tun: LocationTun) -> None:
        self.asked.append((flow, key, (tun.name, tun.zone)))


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
