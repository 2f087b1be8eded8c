"""Packets the connector originates into a tunnel are valid IPv4/UDP (checked by scapy)."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import IP, UDP

from connector.io.ip_build import udp_packet, udp_payload

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("payload", [b"", b"x", b"\x12\x34" * 300], ids=["empty", "odd", "long"])
def test_udp_packet_has_correct_checksums_and_payload(payload: bytes) -> None:
    wire = udp_packet(IPv4Address("10.10.3.31"), 40000, IPv4Address("198.18.53.53"), 53,
                      payload, ident=7)
    parsed = IP(wire)
    recomputed = IP(bytes(IP(src=parsed.src, dst=parsed.dst, id=7, flags="DF", ttl=64)
                          / UDP(sport=40000, dport=53) / payload))
    assert parsed.chksum == recomputed.chksum
    assert parsed[UDP].chksum == recomputed[UDP].chksum
    assert udp_payload(wire) == payload
