"""What the lab GWLB offers its fast path, and the key the tc program reads."""

from __future__ import annotations

import struct
from ipaddress import IPv6Address

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, IPv6ExtHdrFragment

from lab.nodes.gwlb_fast import flow_key_of, installable

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("packet", "expected"), [
    (IP(src="10.10.1.11", dst="198.18.10.10") / UDP(sport=4000, dport=53), True),
    (IP(src="10.10.1.11", dst="198.18.10.10") / TCP(sport=4000, dport=80), True),
    (IP(src="10.10.1.11", dst="198.18.10.10") / ICMP(), False),
    (IP(src="10.10.1.11", dst="198.18.10.10", options=b"\x01\x01\x01\x01") / UDP(), False),
    (IP(src="10.10.1.11", dst="198.18.10.10", flags="MF") / UDP(), False),
    (IP(src="10.10.1.11", dst="198.18.10.10", frag=8) / UDP(), False),
    (IPv6(src="2001:db8:1::11", dst="2001:db8:10::10") / UDP(), True),
    (IPv6(src="2001:db8:1::11", dst="2001:db8:10::10") / TCP(), True),
    (IPv6(src="2001:db8:1::11", dst="2001:db8:10::10") / ICMPv6EchoRequest(), False),
    (IPv6(src="2001:db8:1::11", dst="2001:db8:10::10") / IPv6ExtHdrFragment() / UDP(), False),
])
def test_only_udp_and_tcp_without_options_fragments_or_extension_headers_are_offered(
        packet: object, expected: bool) -> None:
    assert installable(bytes(packet)) is expected  # type: ignore[call-overload]


def test_the_key_is_the_ingress_interface_and_the_5_tuple_as_the_program_lays_it_out() -> None:
    # struct flow_key in lab/bpf/gwlb_encap.c: __u32 ifindex (host order), then the
    # addresses (16 bytes each, IPv4 in the first 4) and ports as the packet has them,
    # the protocol, the family, two bytes of padding
    packet = bytes(IP(src="10.10.1.11", dst="198.18.10.10") / UDP(sport=4000, dport=53))
    key = flow_key_of(7, packet)
    assert len(key) == 44
    assert key == (struct.pack("=I", 7) + bytes([10, 10, 1, 11]) + bytes(12)
                   + bytes([198, 18, 10, 10]) + bytes(12)
                   + (4000).to_bytes(2, "big") + (53).to_bytes(2, "big") + b"\x11\x04\0\0")
    six = bytes(IPv6(src="2001:db8:1::11", dst="2001:db8:10::10") / TCP(sport=4000, dport=80))
    assert flow_key_of(7, six) == (
        struct.pack("=I", 7) + IPv6Address("2001:db8:1::11").packed
        + IPv6Address("2001:db8:10::10").packed + (4000).to_bytes(2, "big")
        + (80).to_bytes(2, "big") + b"\x06\x06\0\0")
