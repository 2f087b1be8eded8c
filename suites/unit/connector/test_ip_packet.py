"""Inner packet fields the data plane decides on, read from real scapy-built packets."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6

from connector.io.ip_packet import PacketInfo, PacketReject, read_packet

pytestmark = pytest.mark.unit


def test_tcp_fields() -> None:
    wire = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1234, dport=80, flags="SA",
                                                          seq=7, ack=9))
    info = read_packet(wire)
    assert info == PacketInfo(4, 6, IPv4Address("10.0.0.1"), IPv4Address("10.0.0.2"),
                              1234, 80, 0x12, 7, 9, len(wire))


def test_udp_over_ipv6_and_icmp_without_ports() -> None:
    v6 = read_packet(bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=5, dport=53)))
    assert isinstance(v6, PacketInfo)
    assert (v6.version, v6.src, v6.sport, v6.dport) == (6, IPv6Address("2001:db8::1"), 5, 53)
    icmp = read_packet(bytes(IP(src="10.0.0.1", dst="10.0.0.2") / ICMP()))
    assert isinstance(icmp, PacketInfo)
    assert (icmp.proto, icmp.sport, icmp.dport) == (1, 0, 0)


def test_later_fragment_has_no_ports() -> None:
    wire = bytes(IP(src="10.0.0.1", dst="10.0.0.2", frag=100, proto=17) / (b"\x01" * 16))
    info = read_packet(wire)
    assert isinstance(info, PacketInfo)
    assert (info.sport, info.dport) == (0, 0)


@pytest.mark.parametrize(("wire", "reason"), [
    (b"", "short"),
    (b"\x45" + bytes(10), "short"),
    (bytes([0x45, 0, 0, 200]) + bytes(16), "ipv4_length"),
    (bytes(IP(dst="10.0.0.2", proto=17) / b"abc"), "udp_short"),
    (b"\x75" + bytes(30), "version"),
])
def test_bad_packets_are_named(wire: bytes, reason: str) -> None:
    result = read_packet(wire)
    assert isinstance(result, PacketReject)
    assert result.reason == reason
