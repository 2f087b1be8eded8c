"""What the lab GWLB offers its fast path, and the key the tc program reads."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6

from lab.nodes.gwlb_fast import flow_key_of, installable

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("packet", "expected"), [
    (IP(src="10.10.1.11", dst="198.18.10.10") / UDP(sport=4000, dport=53), True),
    (IP(src="10.10.1.11", dst="198.18.10.10") / TCP(sport=4000, dport=80), True),
    (IP(src="10.10.1.11", dst="198.18.10.10") / ICMP(), False),
    (IP(src="10.10.1.11", dst="198.18.10.10", options=b"\x01\x01\x01\x01") / UDP(), False),
    (IP(src="10.10.1.11", dst="198.18.10.10", flags="MF") / UDP(), False),
    (IP(src="10.10.1.11", dst="198.18.10.10", frag=8) / UDP(), False),
    (IPv6(src="2001:db8:1::11", dst="2001:db8:10::10") / UDP(), False),
])
def test_only_ipv4_udp_and_tcp_without_options_or_fragments_are_offered(
        packet: object, expected: bool) -> None:
    assert installable(bytes(packet)) is expected  # type: ignore[call-overload]


def test_the_key_is_the_ingress_interface_and_the_5_tuple_as_the_program_lays_it_out() -> None:
    # struct flow_key in lab/bpf/gwlb_encap.c: __u32 ifindex (host order), then the
    # addresses and ports as the packet has them, the protocol, three bytes of padding
    packet = bytes(IP(src="10.10.1.11", dst="198.18.10.10") / UDP(sport=4000, dport=53))
    key = flow_key_of(7, packet)
    assert len(key) == 20
    assert key == (struct.pack("=I", 7) + bytes([10, 10, 1, 11, 198, 18, 10, 10])
                   + (4000).to_bytes(2, "big") + (53).to_bytes(2, "big") + b"\x11\0\0\0")
