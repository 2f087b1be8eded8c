"""The fake load balancers' flow key and flow hash: one key per flow, both directions, IPv4
and IPv6; a hash that spreads flows over targets as at random."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, ICMPv6ND_NS, IPv6

from lab.nodes.flow_key import (
    addresses,
    flow_hash,
    flow_key,
    ipv4_flow_id,
    link_scoped,
    ports,
)
from lab.nodes.target_group import Failover, choose

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
    assert ipv4_flow_id(tcp) == flow_key(tcp)
    assert ipv4_flow_id(bytes(IPv6(src=A6, dst=B6) / TCP())) is None
    assert flow_key(bytes(IP(dst="198.18.10.10") / ICMP())) is not None


def test_neighbour_discovery_is_link_scoped_a_routed_ping_is_not() -> None:
    ns = bytes(IPv6(src="fe80::1", dst="ff02::1:ff00:11") / ICMPv6ND_NS(tgt=A6))
    assert link_scoped(ns)
    assert link_scoped(bytes(IPv6(src=A6, dst="ff02::1") / ICMPv6EchoRequest()))
    assert not link_scoped(bytes(IPv6(src=A6, dst=B6) / ICMPv6EchoRequest()))
    assert not link_scoped(bytes(IP(src="10.10.1.11", dst="224.0.0.1") / ICMP()))
    assert flow_key(b"") is None
    assert flow_key(b"\x60" + bytes(10)) is None


def _syn(sport: int) -> bytes:
    """workload1's SYN to web:80 from `sport`: the IPv4 and TCP headers flow_key reads."""
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0,
                     bytes([10, 10, 1, 11]), bytes([198, 18, 10, 10]))
    return ip + struct.pack("!HHIIBBHHH", sport, 80, 0, 0, 0x50, 0x02, 65535, 0, 0)


def test_flows_a_fixed_port_step_apart_spread_over_two_targets_as_at_random() -> None:
    """Eight connections of one client to one server, their source ports a fixed step
    apart (the kernel hands out ports in sequence; other connections in between make the
    step), picked among two healthy targets (lab.nodes.target_group.choose). At random
    all eight land on one target for 1 start in 128; the bound is about twice that. A
    linear hash (CRC-32 alone) reached 1 in 10 for some steps: the held flows of a
    scenario then all sat on one connector, and the drain check had nothing to see."""
    a, b = IPv4Address("10.10.3.31"), IPv4Address("10.10.3.32")
    states = [(a, "healthy"), (b, "healthy")]
    pick = {port: choose(states, None, flow_hash(flow_key(_syn(port))), Failover()).target
            for port in range(32768, 61000 + 8 * 32)}
    starts = range(32768, 61000, 3)
    for step in range(1, 33):
        one_sided = sum(len({pick[s + step * i] for i in range(8)}) == 1 for s in starts)
        assert one_sided / len(starts) < 2 / 128, f"step {step}: {one_sided} of {len(starts)}"


def test_ports_are_the_packets_own_in_its_direction_and_zero_without_any() -> None:
    assert ports(bytes(IP(src="10.10.1.11", dst="198.18.10.10") / TCP(sport=40000,
                                                                      dport=80))) == (40000, 80)
    assert ports(bytes(IP(dst="198.18.10.10", options=b"\x01" * 4) / UDP(sport=5353,
                                                                         dport=53))) == (5353, 53)
    assert ports(bytes(IPv6(src=B6, dst=A6) / TCP(sport=80, dport=40000))) == (80, 40000)
    assert ports(bytes(IP(dst="198.18.10.10") / ICMP())) == (0, 0)
    assert ports(bytes(IP(dst="198.18.10.10") / TCP())[:22]) == (0, 0)  # cut in the ports
