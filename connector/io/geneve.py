"""GENEVE (RFC 8926) as AWS Gateway Load Balancer speaks it, bytes in and out.

Pure. `parse` returns a `GenevePacket` or a `GeneveReject` naming why the bytes
were refused (spec §4.1, checks G1): version not 0, an option length that
overruns the packet or splits an option, the O (control) bit, a protocol other
than IPv4/IPv6, an unknown critical option, or any of the three AWS options of
class 0x0108 (GWLBE ENI, attachment, flow cookie) missing or of the wrong size.
The header is kept as the exact bytes received, because a reply must carry it
unchanged (G2); `build` makes one for the lab's load balancer and for tests.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

from connector.io.ip_packet import PacketView, view_at

GENEVE_PORT = 6081
AWS_CLASS = 0x0108
OPT_ENI, OPT_ATTACHMENT, OPT_COOKIE = 1, 2, 3
PROTO_IPV4, PROTO_IPV6 = 0x0800, 0x86DD
FIXED_LEN = 8
_CRITICAL = 0x80  # high bit of an option type (RFC 8926 §3.5)
_O_BIT = 0x80
_SIZES = {OPT_ENI: 8, OPT_ATTACHMENT: 8, OPT_COOKIE: 4}


@dataclass(frozen=True, slots=True)
class GwlbOptions:
    """The three values GWLB puts in every packet (class 0x0108)."""

    eni_id: int
    attachment_id: int
    flow_cookie: int


@dataclass(frozen=True, slots=True)
class GenevePacket:
    header: bytes  # fixed header and options exactly as received
    vni: int
    protocol: int
    options: GwlbOptions
    payload: bytes


@dataclass(frozen=True, slots=True)
class GeneveReject:
    reason: str  # a short counter name: short, version, opt_len, ...
    detail: str


def parse(data: bytes) -> GenevePacket | GeneveReject:
    if len(data) < FIXED_LEN:
        return GeneveReject("short", f"{len(data)} bytes, the fixed header needs {FIXED_LEN}")
    first, flags, protocol, vni_word = struct.unpack_from("!BBHI", data)
    if first >> 6 != 0:
        return GeneveReject("version", f"version {first >> 6}, only 0 is defined")
    end = FIXED_LEN + (first & 0x3F) * 4
    if end > len(data):
        return GeneveReject("opt_len", f"options claim {end - FIXED_LEN} bytes, "
                                       f"{len(data) - FIXED_LEN} follow the fixed header")
    if flags & _O_BIT:
        return GeneveReject("control", "O bit set: a control packet, not traffic")
    if protocol not in (PROTO_IPV4, PROTO_IPV6):
        return GeneveReject("protocol", f"protocol type {protocol:#06x}, "
                                        "GWLB carries only IPv4 (0x0800) or IPv6 (0x86dd)")
    options = _options(data[FIXED_LEN:end])
    if isinstance(options, GeneveReject):
        return options
    return GenevePacket(bytes(data[:end]), vni_word >> 8, protocol, options, bytes(data[end:]))


@lru_cache(maxsize=4096)
def _options(raw: bytes) -> GwlbOptions | GeneveReject:
    """Read once per distinct option bytes: a flow's packets all carry the same."""
    return _read_options(raw)


def _read_options(data: bytes) -> GwlbOptions | GeneveReject:
    """`data`: the options alone; offsets in messages count from the header's start."""
    found: dict[int, int] = {}
    at, end = 0, len(data)
    while at < end:
        if at + 4 > end:
            return GeneveReject("opt_len", f"option at byte {FIXED_LEN + at} is cut by the "
                                           "option length")
        cls, typ, length = struct.unpack_from("!HBB", data, at)
        size = (length & 0x1F) * 4
        if at + 4 + size > end:
            return GeneveReject("opt_len",
                                f"option at byte {FIXED_LEN + at} runs past the options")
        if cls == AWS_CLASS and typ in _SIZES:
            if size != _SIZES[typ]:
                return GeneveReject("option_size", f"AWS option type {typ} has {size} bytes, "
                                                   f"expected {_SIZES[typ]}")
            found[typ] = int.from_bytes(data[at + 4:at + 4 + size], "big")
        elif typ & _CRITICAL:
            return GeneveReject("critical_option",
                                f"unknown critical option class {cls:#06x} type {typ:#04x}")
        at += 4 + size
    missing = [name for typ, name in ((OPT_ENI, "GWLBE ENI"), (OPT_ATTACHMENT, "attachment"),
                                      (OPT_COOKIE, "flow cookie")) if typ not in found]
    if missing:
        return GeneveReject("missing_option", f"missing AWS option: {', '.join(missing)}")
    return GwlbOptions(found[OPT_ENI], found[OPT_ATTACHMENT], found[OPT_COOKIE])


FastView = PacketView  # what a packet of an already-validated flow needs read per packet


def fast_view(data: bytes) -> PacketView | None:
    """The common packet, read without validating its GENEVE header: an inner IPv4
    datagram with a 20-byte header, not a fragment, its total length the bytes that
    follow, UDP or TCP with room for its header (`ip_packet.view_at`). None for
    anything else.

    The caller may trust it only for a packet whose `identity` (here led by the whole
    GENEVE header) a full `parse` (and `ip_packet.read_packet`) already accepted: the
    identity holds every header byte those checks read, and the view checks the
    rest, which change per packet."""
    if len(data) < FIXED_LEN:
        return None
    return view_at(data, FIXED_LEN + (data[0] & 0x3F) * 4)


def build_header(vni: int, protocol: int, options: GwlbOptions) -> bytes:
    """A GWLB-style header: the three AWS options, in type order."""
    body = b"".join([
        _option(OPT_ENI, options.eni_id.to_bytes(8, "big")),
        _option(OPT_ATTACHMENT, options.attachment_id.to_bytes(8, "big")),
        _option(OPT_COOKIE, options.flow_cookie.to_bytes(4, "big")),
    ])
    return struct.pack("!BBHI", len(body) // 4, 0, protocol, vni << 8) + body


def _option(typ: int, value: bytes) -> bytes:
    return struct.pack("!HBB", AWS_CLASS, typ, len(value) // 4) + value


def protocol_of(payload: bytes) -> int:
    """The GENEVE protocol type for an IP packet (by its version nibble)."""
    return PROTO_IPV6 if payload and payload[0] >> 4 == 6 else PROTO_IPV4
