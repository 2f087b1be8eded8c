"""A packet's flow, the same for both directions, as the fake load balancers hash it.

IPv4 and IPv6 (spec G3: the GWLB carries IPv6 inner packets too): the protocol,
and the two (address, port) ends sorted, ports only for TCP and UDP. IPv6
extension headers are not walked: a flow whose first header is one is keyed by
addresses alone, which keeps it sticky all the same.
"""

from __future__ import annotations

import struct
import zlib
from ipaddress import IPv4Address, IPv6Address, ip_address

FlowId = tuple[int, bytes, int, bytes, int]


def flow_hash(fid: FlowId) -> int:
    """A 32-bit hash of a flow for picking its target: CRC-32 of the key, then murmur3's
    finalizer. A CRC alone is linear in its input bits, so its low bits (what `% n`
    reads) follow the source port's digits: eight connections from one client, their
    ports a fixed step apart, all landed on one of two targets in up to 1 start in 10
    for some steps (1 in 128 at random). The finalizer mixes every bit into every bit,
    as the clouds' own flow hashes do."""
    h = zlib.crc32(repr(fid).encode())
    h = ((h ^ (h >> 16)) * 0x85EBCA6B) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


# version: (offset of protocol, of source, address length, fixed header length)
_LAYOUT = {4: (9, 12, 4, 20), 6: (6, 8, 16, 40)}


def flow_key(packet: bytes) -> FlowId | None:
    """(proto, a, a-port, b, b-port) sorted so both directions agree; None if not IP."""
    layout = _LAYOUT.get(packet[0] >> 4) if packet else None
    if layout is None or len(packet) < layout[3]:
        return None
    at_proto, at_src, size, fixed = layout
    header = (packet[0] & 0xF) * 4 if size == 4 else fixed
    proto = packet[at_proto]
    ports = (struct.unpack_from("!HH", packet, header) if proto in (6, 17)
             and len(packet) >= header + 4 else (0, 0))
    a = (packet[at_src:at_src + size], ports[0])
    b = (packet[at_src + size:at_src + 2 * size], ports[1])
    lo, hi = sorted((a, b))
    return proto, lo[0], lo[1], hi[0], hi[1]


def ports(packet: bytes) -> tuple[int, int]:
    """(source, destination) port of a TCP or UDP packet `flow_key` accepts; (0, 0) for
    any other protocol or a packet too short to hold them. For the events of a flow's
    first packet; `flow_key`, on every packet, reads them inline."""
    at_proto, _, size, fixed = _LAYOUT[packet[0] >> 4]
    header = (packet[0] & 0xF) * 4 if size == 4 else fixed
    if packet[at_proto] not in (6, 17) or len(packet) < header + 4:
        return 0, 0
    sport, dport = struct.unpack_from("!HH", packet, header)
    return sport, dport


def addresses(packet: bytes) -> tuple[IPv4Address | IPv6Address, IPv4Address | IPv6Address]:
    """(source, destination) of an IPv4 or IPv6 packet `flow_key` accepted."""
    _, at_src, size, _ = _LAYOUT[packet[0] >> 4]
    return (ip_address(packet[at_src:at_src + size]),
            ip_address(packet[at_src + size:at_src + 2 * size]))


def link_scoped(packet: bytes) -> bool:
    """An IPv6 packet that never crosses a router (link-local source or multicast
    destination: the node's own neighbour discovery and MLD), not a routed flow."""
    if packet[0] >> 4 != 6:
        return False
    src, dst = addresses(packet)
    return src.is_link_local or dst.is_multicast


def ipv4_flow_id(packet: bytes) -> FlowId | None:
    """`flow_key` of an IPv4 packet, None for anything else (the ZIA gateway and the
    Azure gateway LB's VXLAN path carry IPv4 only)."""
    return flow_key(packet) if packet and packet[0] >> 4 == 4 else None
