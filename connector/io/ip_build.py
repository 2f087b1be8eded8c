"""Whole IPv4/UDP packets the connector originates into a tunnel, and their payloads back.

Pure. Used where the connector itself speaks through a ZIA tunnel (its DNS
queries under ZIA DNS control): the tunnel carries IP packets, not sockets.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address

_TTL = 64


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_packet(src: IPv4Address, sport: int, dst: IPv4Address, dport: int, payload: bytes,
               ident: int = 0) -> bytes:
    length = 8 + len(payload)
    pseudo = src.packed + dst.packed + struct.pack("!BBH", 0, 17, length)
    header = struct.pack("!HHHH", sport, dport, length, 0)
    udp_sum = checksum(pseudo + header + payload) or 0xFFFF
    udp = struct.pack("!HHHH", sport, dport, length, udp_sum) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ident & 0xFFFF, 0x4000, _TTL, 17,
                     0, src.packed, dst.packed)
    return ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:] + udp


def udp_payload(packet: bytes) -> bytes:
    """The UDP payload of an unfragmented IPv4/UDP packet (caller checked it is one)."""
    ihl = (packet[0] & 0x0F) * 4
    length = struct.unpack_from("!H", packet, ihl + 4)[0]
    return packet[ihl + 8:ihl + length]
