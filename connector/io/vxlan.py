"""VXLAN (RFC 7348) as the Azure Gateway Load Balancer speaks it, bytes in and out.

Pure. A VXLAN packet is an 8-byte header (flags with the I bit 0x08 set, 24
reserved bits, a 24-bit VNI, 8 reserved bits) and an inner Ethernet frame; the
Azure GWLB's inner frames carry IPv4 or IPv6. `parse` returns a `VxlanPacket`
(the VNI, the inner Ethernet header kept as received, the inner IP packet) or a
`VxlanReject` naming why the bytes were refused: too short, the I flag clear,
an inner frame too short, or an inner type that is not IP. Reserved bits are
ignored on receipt, as the RFC says. `build` makes the header a reply leaves
with: the same inner Ethernet header, another VNI (the other tunnel interface).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

HEADER_LEN = 8
ETHERNET_LEN = 14
I_FLAG = 0x08
ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD


@dataclass(frozen=True, slots=True)
class VxlanPacket:
    vni: int
    ethernet: bytes  # the inner Ethernet header, as received (a reply keeps it)
    ethertype: int
    payload: bytes  # the inner IP packet


@dataclass(frozen=True, slots=True)
class VxlanReject:
    reason: str  # a short counter name: short, flags, inner_short, inner_type
    detail: str


def parse(data: bytes) -> VxlanPacket | VxlanReject:
    if len(data) < HEADER_LEN:
        return VxlanReject("short", f"{len(data)} bytes, the header needs {HEADER_LEN}")
    flags, vni_word = struct.unpack_from("!B3xI", data)
    if not flags & I_FLAG:
        return VxlanReject("flags", f"flags {flags:#04x}: the I flag (0x08) is clear, no VNI")
    if len(data) < HEADER_LEN + ETHERNET_LEN:
        return VxlanReject("inner_short", f"{len(data) - HEADER_LEN} bytes of inner frame, "
                                          f"an Ethernet header needs {ETHERNET_LEN}")
    (ethertype,) = struct.unpack_from("!H", data, HEADER_LEN + 12)
    if ethertype not in (ETH_IPV4, ETH_IPV6):
        return VxlanReject("inner_type", f"inner Ethernet type {ethertype:#06x}, "
                                         "the GWLB carries IPv4 or IPv6")
    inner = HEADER_LEN + ETHERNET_LEN
    return VxlanPacket(vni_word >> 8, bytes(data[HEADER_LEN:inner]), ethertype,
                       bytes(data[inner:]))


def header(vni: int) -> bytes:
    """The 8-byte VXLAN header for `vni` (I flag set, reserved bits zero)."""
    if not 0 <= vni < 1 << 24:
        raise ValueError(f"VNI {vni} is not a 24-bit number")
    return struct.pack("!B3xI", I_FLAG, vni << 8)


def build(vni: int, ethernet: bytes, payload: bytes) -> bytes:
    """A VXLAN packet: header for `vni`, the inner Ethernet header, the inner packet."""
    return header(vni) + ethernet + payload
