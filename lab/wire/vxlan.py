"""VXLAN (RFC 7348) as the Azure Gateway Load Balancer sends it: the lab's encoder. Pure.

The fake Azure GWLB (`lab.nodes.azure_gwlb`) wraps packets in an 8-byte VXLAN
header (I flag, 24-bit VNI) and an inner Ethernet header whose source is the
peer MAC a community lab saw Azure use (12:34:56:78:9a:bc, spec §4.2, low
confidence; nothing depends on it). The connector parses VXLAN with its own
code (`connector/io/vxlan.py`), so each side checks the other.
"""

from __future__ import annotations

import struct

I_FLAG = 0x08
ETHERNET = bytes.fromhex("02000000c0de") + bytes.fromhex("123456789abc") + b"\x08\x00"


def wrap(vni: int, packet: bytes, *, flags: int = I_FLAG) -> bytes:
    """An IPv4 `packet` in VXLAN for `vni`; `flags` may be bent (tests of malformed input)."""
    return struct.pack("!B3xI", flags, vni << 8) + ETHERNET + packet


def unwrap(datagram: bytes) -> tuple[int, bytes] | None:
    """(VNI, inner IP packet) of a VXLAN datagram carrying Ethernet + IP, else None."""
    if len(datagram) < 22 or not datagram[0] & I_FLAG:
        return None
    (vni_word,) = struct.unpack_from("!I", datagram, 4)
    return vni_word >> 8, datagram[22:]
