"""Plain DNS queries on the wire, parsed and answered without building messages.

Almost every query a workload sends has one shape: a header, one IN-class
question with an uncompressed name of letters, digits, '-' and '_', and at
most an OPT record (EDNS version 0, no padding option). For that shape this
module parses the question by slicing and writes a synthetic A answer byte by
byte: the same bytes `dns_wire` makes with dnspython (a test compares them),
in a few microseconds instead of a hundred and fifty. Anything else returns
None and takes the dnspython path, so rare or malformed input behaves exactly
as before.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Address

import dns.rdatatype

from connector.core.memo import remember

QR, RD, RA = 0x8000, 0x0100, 0x0080
_PLAIN_FLAGS = 0x7A00 | QR  # opcode bits, QR and TC: a plain query has none of them
_OPT, _PADDING, _CLASS_IN = 41, 12, 1
PLAIN_PAYLOAD, PAYLOAD_CAP = 512, 1232  # without EDNS; the most we answer over UDP
_RESPONSE_PAYLOAD = 8192  # what dnspython's make_response offers (our_payload)
_NAME_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_HEADER = struct.Struct("!HHHHHH")
_ID_FLAGS = struct.Struct("!HH")
_A_RECORD = struct.Struct("!HHHIH4s")
_OPT_RECORD = b"\x00" + struct.pack("!HHIH", _OPT, _RESPONSE_PAYLOAD, 0, 0)


@dataclass(frozen=True, slots=True)
class PlainShape:
    """Everything of a plain query but its id and flags: the same for every asking of
    the same question, so parsed once (workloads ask the same names again and again)."""

    qname: str  # as sent, with the trailing dot (dnspython's to_text for these names)
    qtype: str
    question: bytes  # the question section as sent
    edns: bool
    udp_payload: int  # the client's EDNS payload, or 512 without EDNS


@dataclass(frozen=True, slots=True)
class PlainQuery:
    ident: int
    flags: int
    shape: PlainShape

    @property
    def qname(self) -> str:
        return self.shape.qname

    @property
    def qtype(self) -> str:
        return self.shape.qtype

    @property
    def udp_payload(self) -> int:
        return self.shape.udp_payload


SHAPE_MEMO = 16_384  # distinct questions remembered; past it the memo starts again
_shapes: dict[bytes, PlainShape] = {}


def parse_plain(wire: bytes) -> PlainQuery | None:
    """The query when it has the plain shape, else None (the caller parses it fully)."""
    if len(wire) < 17:
        return None
    ident, flags = _ID_FLAGS.unpack_from(wire)
    if flags & _PLAIN_FLAGS:
        return None
    key = wire[4:]  # counts, question, OPT: what the shape depends on
    shape = _shapes.get(key)
    if shape is None:
        shape = _parse_shape(wire)
        if shape is None:
            return None
        remember(_shapes, key, shape, SHAPE_MEMO)
    return PlainQuery(ident, flags, shape)


def _parse_shape(wire: bytes) -> PlainShape | None:
    _, _, qd, an, ns, ar = _HEADER.unpack_from(wire)
    if qd != 1 or an or ns or ar > 1:
        return None
    labels, end = _name(wire, 12)
    if labels is None or end + 4 > len(wire):
        return None
    qtype, qclass = struct.unpack_from("!HH", wire, end)
    if qclass != _CLASS_IN:
        return None
    end += 4
    payload: int | None = PLAIN_PAYLOAD
    if ar:
        payload = _opt_payload(wire, end)
    elif end != len(wire):
        return None  # trailing bytes: dnspython refuses them, and so must we
    if payload is None:
        return None
    return PlainShape(labels, _type_text(qtype), wire[12:end], bool(ar),
                      min(max(payload, PLAIN_PAYLOAD), PAYLOAD_CAP))


def synthetic_a(query: PlainQuery, addr: IPv4Address, ttl: int) -> bytes:
    """NOERROR, one A record for the question's name (a pointer to it), RA mirrors RD."""
    flags = QR | (query.flags & RD)
    if flags & RD:
        flags |= RA
    shape = query.shape
    key = (shape.question, shape.edns, int(addr), ttl)  # cheap to hash, unlike the objects
    body = _bodies.get(key)
    if body is None:
        body = remember(_bodies, key, _answer_body(shape, addr, ttl), SHAPE_MEMO)
    return _ID_FLAGS.pack(query.ident, flags) + body


_bodies: dict[tuple[bytes, bool, int, int], bytes] = {}


def answered_address(answer: bytes) -> IPv4Address | None:
    """The address of a synthetic_a answer made without EDNS (its last four bytes, the
    A record's data), or None if `answer` is not one (an error, a count but one)."""
    if len(answer) < 12 + 5 + 16 or answer[3] & 0x0F or answer[6:12] != b"\x00\x01" + bytes(4):
        return None
    return IPv4Address(answer[-4:])


def _answer_body(shape: PlainShape, addr: IPv4Address, ttl: int) -> bytes:
    """The answer after its id and flags: counts, the question, the A record, OPT."""
    record = _A_RECORD.pack(0xC00C, 1, _CLASS_IN, ttl, 4, addr.packed)
    return (_HEADER.pack(0, 0, 1, 1, 0, int(shape.edns))[4:] + shape.question + record
            + (_OPT_RECORD if shape.edns else b""))


def _name(wire: bytes, at: int) -> tuple[str | None, int]:
    labels: list[bytes] = []
    total = 0
    while True:
        if at >= len(wire):
            return None, at
        length = wire[at]
        if length == 0:
            break
        label = wire[at + 1:at + 1 + length]
        if length > 63 or len(label) != length or not _NAME_BYTES.issuperset(label):
            return None, at  # a pointer, an odd byte, or a short read: the full parser
        labels.append(label)
        total += length + 1
        at += length + 1
    if not labels or total > 254:
        return None, at
    return b".".join(labels).decode("ascii") + ".", at + 1


def _opt_payload(wire: bytes, at: int) -> int | None:
    """The payload size of a lone, version-0 OPT record that ends the message."""
    if at + 11 > len(wire) or wire[at] != 0:
        return None
    rtype, payload, _rcode, version, _flags, rdlen = struct.unpack_from("!HHBBHH", wire, at + 1)
    options_at = at + 11
    if rtype != _OPT or version != 0 or options_at + rdlen != len(wire):
        return None
    while options_at < len(wire):
        if options_at + 4 > len(wire):
            return None
        code, size = struct.unpack_from("!HH", wire, options_at)
        if code == _PADDING:
            return None  # the answer is padded (RFC 8467): dnspython does that
        options_at += 4 + size
    return payload if options_at == len(wire) else None


@lru_cache(maxsize=256)
def _type_text(qtype: int) -> str:
    return dns.rdatatype.to_text(qtype)  # type: ignore[arg-type]
