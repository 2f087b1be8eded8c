"""The fake load balancers' flow key: one per flow, both directions, IPv4 and IPv6."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.inet6 import ICMPv6EchoRequest, ICMPv6ND_NS, IPv6

from lab.nodes.flow_key import addresses, flow_key, link_scoped
from lab.nodes.zia_gateway import flow_id

pytestmark = pytest.mark.unit

A6, B6 = "2001:db8:10:1::11", "2001:db8:18::10:10"


def test_both_directions_of_an_ipv6_tcp_flow_share_a_key() -> None:
    out = bytes(IPv6(src=A6, dst=B6) / TCP(sport=40000, dport=80))
    back = bytes(IPv6(src=B6, dst=A6) / TCP(sport=80, dport=40000))
    other = bytes(IPv6(src=A6, dst=B6) / TCP(sport=40001, dport=80))
    assert flow_key(out) == flow_key(back)
    assert flow_key(out) != flow_key(other)
    key = flow_key(out)
    assert key is not None
    assert key[0] == 6
    assert {key[2], key[4]} == {40000, 80}


def test_an_ipv6_echo_is_keyed_by_its_addresses() -> None:
    ping = bytes(IPv6(src=A6, dst=B6) / ICMPv6EchoRequest())
    key = flow_key(ping)
    assert key is not None
    assert key[0] == 58
    assert (key[2], key[4]) == (0, 0)
    assert [str(a) for a in addresses(ping)] == [A6, B6]


def test_ipv4_keys_are_unchanged_and_the_zia_gateway_stays_ipv4() -> None:
    tcp = bytes(IP(src="10.10.1.11", dst="198.18.10.10") / TCP(sport=40000, dport=80))
    assert flow_key(tcp) == (6, bytes([10, 10, 1, 11]), 40000, bytes([198, 18, 10, 10]), 80)
    assert flow_id(tcp) == flow_key(tcp)
    assert flow_id(bytes(IPv6(src=A6, dst=B6) / TCP())) is None
    assert flow_key(bytes(IP(dst="198.18.10.10") / ICMP())) is not None


def test_neighbour_discovery_is_link_scoped_a_routed_ping_is_not() -> None:
    ns = bytes(IPv6(src="fe80::1", dst="ff02::1:ff00:11") / ICMPv6ND_NS(tgt=A6))
    assert link_scoped(ns)
    assert link_scoped(bytes(IPv6(src=A6, dst="ff02::1") / ICMPv6EchoRequest()))
    assert not link_scoped(bytes(IPv6(src=A6, dst=B6) / ICMPv6EchoRequest()))
    assert not link_scoped(bytes(IP(src="10.10.1.11", dst="224.0.0.1") / ICMP()))
    assert flow_key(b"") is None
    assert flow_key(b"\x60" + bytes(10)) is None
