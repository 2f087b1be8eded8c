"""Frames of the lab's ZIA tunnel, spoken by the connector and the fake ZIA gateway.

The vendor's tunnels are GRE or IPsec; this kernel has neither, so the lab
carries the same thing (whole IP packets, plus keepalives for liveness) in a
user-space frame over UDP, the spec's "unencrypted UDP" tunnel (§5.4), or over
TLS with a 2-byte length prefix per frame. Pure.

    magic "ZT" | version 1 | type | tunnel id (32 bits) | sequence (32 bits) | payload

Types: DATA carries one IP packet; KEEPALIVE is answered by KEEPALIVE_ACK with
the same sequence, which is how each side measures that the other is alive.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

MAGIC = b"ZT"
VERSION = 1
HEADER = struct.Struct("!2sBBII")
ZIA_TUNNEL_PORT = 6789  # a port of the lab's own, not a vendor one


class FrameType(IntEnum):
    DATA = 1
    KEEPALIVE = 2
    KEEPALIVE_ACK = 3


_DATA = int(FrameType.DATA)


@dataclass(frozen=True, slots=True)
class Frame:
    type: FrameType
    tunnel_id: int
    seq: int
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class FrameReject:
    reason: str
    detail: str


def encode(frame: Frame) -> bytes:
    return HEADER.pack(MAGIC, VERSION, frame.type, frame.tunnel_id, frame.seq) + frame.payload


def data_frame(tunnel_id: int, seq: int, packet: bytes) -> bytes:
    """`encode` of a DATA frame, made without the Frame: once per packet sent."""
    return HEADER.pack(MAGIC, VERSION, _DATA, tunnel_id, seq) + packet


def decode(data: bytes) -> Frame | FrameReject:
    if len(data) < HEADER.size:
        return FrameReject("short", f"{len(data)} bytes, a frame header needs {HEADER.size}")
    magic, version, typ, tunnel_id, seq = HEADER.unpack_from(data)
    if magic != MAGIC:
        return FrameReject("magic", f"magic {magic!r}")
    if version != VERSION:
        return FrameReject("version", f"version {version}")
    if typ not in FrameType._value2member_map_:
        return FrameReject("type", f"frame type {typ}")
    payload = bytes(data[HEADER.size:])
    if typ != FrameType.DATA and payload:
        return FrameReject("payload", f"a {FrameType(typ).name} frame carries no payload")
    return Frame(FrameType(typ), tunnel_id, seq, payload)


def stream_frame(frame: Frame) -> bytes:
    """The frame as sent on a TLS stream: 2-byte big-endian length, then the frame."""
    body = encode(frame)
    return struct.pack("!H", len(body)) + body
