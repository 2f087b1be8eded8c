"""The few fields of an IP packet the data plane decides on, read from raw bytes.

Pure. `read_packet` returns a `PacketInfo` or a `PacketReject`: the version must
match what the carrier said, headers must fit, and IPv4's header length and
total length must agree with the bytes. Only the first fragment of an IPv4
datagram has ports; later fragments are reported with ports 0 (the flow they
belong to cannot be told from them alone).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address
from typing import NamedTuple

TCP, UDP = 6, 17


@dataclass(frozen=True, slots=True)
class PacketInfo:
    version: int
    proto: int
    src: IPv4Address | IPv6Address
    dst: IPv4Address | IPv6Address
    sport: int = 0
    dport: int = 0
    tcp_flags: int = 0
    seq: int = 0
    ack: int = 0
    length: int = 0


@dataclass(frozen=True, slots=True)
class PacketReject:
    reason: str
    detail: str


def read_packet(data: bytes) -> PacketInfo | PacketReject:
    if not data:
        return PacketReject("short", "empty packet")
    version = data[0] >> 4
    if version == 4:
        return _read_v4(data)
    if version == 6:
        return _read_v6(data)
    return PacketReject("version", f"IP version {version}")


def _read_v4(data: bytes) -> PacketInfo | PacketReject:
    if len(data) < 20:
        return PacketReject("short", f"{len(data)} bytes, an IPv4 header needs 20")
    ihl = (data[0] & 0x0F) * 4
    total = struct.unpack_from("!H", data, 2)[0]
    if ihl < 20 or total < ihl or total > len(data):
        return PacketReject("ipv4_length", f"header {ihl} bytes, total {total}, "
                                           f"{len(data)} received")
    frag = struct.unpack_from("!H", data, 6)[0] & 0x1FFF
    proto = data[9]
    src, dst = _v4(data[12:16]), _v4(data[16:20])
    if frag:
        return PacketInfo(4, proto, src, dst, length=total)
    return _with_ports(PacketInfo(4, proto, src, dst, length=total), data[ihl:total])


@lru_cache(maxsize=65536)
def _v4(raw: bytes) -> IPv4Address:
    """Made once per address: every packet of a flow carries the same two."""
    return IPv4Address(raw)


def _read_v6(data: bytes) -> PacketInfo | PacketReject:
    if len(data) < 40:
        return PacketReject("short", f"{len(data)} bytes, an IPv6 header needs 40")
    payload_len = struct.unpack_from("!H", data, 4)[0]
    if 40 + payload_len > len(data):
        return PacketReject("ipv6_length", f"payload {payload_len} bytes, "
                                           f"{len(data) - 40} received")
    info = PacketInfo(6, data[6], IPv6Address(data[8:24]), IPv6Address(data[24:40]),
                      length=40 + payload_len)
    return _with_ports(info, data[40:40 + payload_len])


def _with_ports(info: PacketInfo, l4: bytes) -> PacketInfo | PacketReject:
    if info.proto == UDP:
        if len(l4) < 8:
            return PacketReject("udp_short", f"{len(l4)} bytes of UDP header")
        sport, dport = struct.unpack_from("!HH", l4)
        return PacketInfo(info.version, info.proto, info.src, info.dst, sport, dport,
                          length=info.length)
    if info.proto == TCP:
        if len(l4) < 20:
            return PacketReject("tcp_short", f"{len(l4)} bytes of TCP header")
        sport, dport, seq, ack = struct.unpack_from("!HHII", l4)
        return PacketInfo(info.version, info.proto, info.src, info.dst, sport, dport,
                          l4[13], seq, ack, info.length)
    return info



class PacketView(NamedTuple):
    """What a packet of an already-validated flow needs read per packet (see view_at)."""

    identity: bytes  # the bytes before the packet, its protocol, addresses and ports
    header_len: int  # where the IPv4 packet starts
    total: int
    tcp_flags: int
    seq: int
    ack: int


def view_at(data: bytes, at: int) -> PacketView | None:
    """The common packet at byte `at` of `data`, read in one pass: IPv4 with a 20-byte
    header, not a fragment, its total length the bytes from `at` on, UDP or TCP with
    room for its header. None for anything else.

    Such a packet is one `read_packet` accepts, with the protocol, addresses and
    ports the `identity` holds, so a caller that remembers what a full read of an
    identity gave may reuse it; what changes per packet (length, TCP flags and
    numbers) is read here."""
    if len(data) < at + 40 or data[at] != 0x45 or data[at + 6] & 0x3F or data[at + 7]:
        return None
    total = (data[at + 2] << 8) | data[at + 3]
    proto = data[at + 9]
    if total != len(data) - at:
        return None
    identity = data[:at] + data[at + 9:at + 10] + data[at + 12:at + 24]
    if proto == UDP:
        return PacketView(identity, at, total, 0, 0, 0)
    if proto == TCP and total >= 40:
        _ports, seq, ack = struct.unpack_from("!III", data, at + 20)
        return PacketView(identity, at, total, data[at + 33], seq, ack)
    return None
