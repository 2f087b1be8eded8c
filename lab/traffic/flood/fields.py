"""Field programs: which bytes of a template change from one packet to the next. Pure.

A program is a list of `Field`s, each naming a place in the frame (offset and
width, from the template's layers) and how its value runs: it starts at
`start`, goes up by `step` each packet and wraps after `count` values, each
field on its own (fields with coprime counts make count x count combinations).
A 4-byte field holds an IPv4 address, a 2-byte one a port or DNS id, a 1-byte
one a letter of a query name. That is exactly a TRex STLVM `inc` flow variable
written at an offset, which is why the program stays this small: the TRex
profiles are the same program (`trex_profile.py`). `expand` makes the variants
once, with the IPv4 header checksum and the UDP/TCP checksum (over IPv4's or
IPv6's pseudo-header) computed again for each, so the sender only copies bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

ETH_LEN = 14


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    offset: int  # from the start of the Ethernet frame
    size: int  # 1, 2 or 4 bytes, big-endian
    start: int
    count: int
    step: int = 1

    def value(self, index: int) -> int:
        return self.start + (index % self.count) * self.step

    @property
    def last(self) -> int:
        return self.start + (self.count - 1) * self.step

    def encode(self, index: int) -> bytes:
        return self.value(index).to_bytes(self.size, "big")


@dataclass(frozen=True, slots=True)
class FieldProgram:
    fields: tuple[Field, ...] = ()

    def variants(self) -> int:
        """How many distinct packets the program makes (the product of the counts, capped)."""
        total = 1
        for field in self.fields:
            total *= field.count
        return total


def expand(template: bytes, program: FieldProgram, n: int) -> list[bytes]:
    """The first `n` packets of the program, checksums correct."""
    frames = []
    for index in range(n):
        frame = bytearray(template)
        for field in program.fields:
            frame[field.offset:field.offset + field.size] = field.encode(index)
        fix_checksums(frame)
        frames.append(bytes(frame))
    return frames


ETHERTYPE_IPV6 = 0x86DD
IPV6_HEADER = 40


def fix_checksums(frame: bytearray) -> None:
    """IPv4 header checksum, and the UDP or TCP checksum over the pseudo-header."""
    if struct.unpack_from("!H", frame, 12)[0] == ETHERTYPE_IPV6:
        _fix_ipv6_l4_checksum(frame)
        return
    ihl = (frame[ETH_LEN] & 0x0F) * 4
    ip = ETH_LEN
    frame[ip + 10:ip + 12] = b"\0\0"
    frame[ip + 10:ip + 12] = _checksum(bytes(frame[ip:ip + ihl])).to_bytes(2, "big")
    proto = frame[ip + 9]
    total = struct.unpack_from("!H", frame, ip + 2)[0]
    l4 = ip + ihl
    place = {17: 6, 6: 16}.get(proto)
    if place is None:
        return
    frame[l4 + place:l4 + place + 2] = b"\0\0"
    pseudo = bytes(frame[ip + 12:ip + 20]) + struct.pack("!BBH", 0, proto, total - ihl)
    value = _checksum(pseudo + bytes(frame[l4:ip + total]))
    if proto == 17 and value == 0:
        value = 0xFFFF
    frame[l4 + place:l4 + place + 2] = value.to_bytes(2, "big")


def _fix_ipv6_l4_checksum(frame: bytearray) -> None:
    """IPv6 has no header checksum; UDP's (mandatory there) and TCP's cover the IPv6
    pseudo-header (RFC 8200 §8.1). No extension headers: the templates have none."""
    ip = ETH_LEN
    proto, payload = frame[ip + 6], struct.unpack_from("!H", frame, ip + 4)[0]
    place = {17: 6, 6: 16}.get(proto)
    if place is None:
        return
    l4 = ip + IPV6_HEADER
    frame[l4 + place:l4 + place + 2] = b"\0\0"
    pseudo = bytes(frame[ip + 8:ip + 40]) + struct.pack("!I3xB", payload, proto)
    value = _checksum(pseudo + bytes(frame[l4:l4 + payload]))
    if proto == 17 and value == 0:
        value = 0xFFFF
    frame[l4 + place:l4 + place + 2] = value.to_bytes(2, "big")


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)
