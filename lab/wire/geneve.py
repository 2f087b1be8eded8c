"""GENEVE (RFC 8926) as AWS Gateway Load Balancer sends it: the lab's encoder. Pure.

The fake GWLB (`lab.nodes.gwlb`) wraps workload packets with `geneve_header`
and unwraps the targets' replies with `inner_of`; the traffic factories and
probes (`lab.traffic.packets`, `lab.traffic.geneve_probe`) build the same
header, or bend it the ways spec check G1 lists. The connector parses GENEVE
with its own code (`connector/io/geneve.py`), so each side checks the other.
"""

from __future__ import annotations

import struct

GENEVE_PORT = 6081
ENI_ID = 0x0E1A5B7C9D0F1122
ATTACHMENT_ID = 0x0A77AC4000000001


def aws_option(typ: int, value: bytes) -> bytes:
    """One TLV of class 0x0108; `value` is a whole number of 4-byte words."""
    return struct.pack("!HBB", 0x0108, typ, len(value) // 4) + value


def geneve_header(inner_version: int, cookie: int, *, version: int = 0,
                  options: bytes | None = None, extra_words: int = 0,
                  eni: int = ENI_ID) -> bytes:
    """Fixed header + ENI(8) + attachment(8) + cookie(4) options, as GWLB sends them.

    `eni` is the GWLB endpoint the packet entered by (sub-locations: one per VPC).
    `options`, `version` and `extra_words` (an option length past the real one)
    let probes bend the header the ways spec check G1 lists.
    """
    proto = 0x86DD if inner_version == 6 else 0x0800
    if options is None:
        options = (aws_option(1, eni.to_bytes(8, "big"))
                   + aws_option(2, ATTACHMENT_ID.to_bytes(8, "big"))
                   + aws_option(3, cookie.to_bytes(4, "big")))
    words = len(options) // 4 + extra_words
    return struct.pack("!BBHI", version << 6 | words, 0, proto, 0) + options


def inner_of(datagram: bytes) -> bytes | None:
    """The packet a GENEVE datagram carries; None for version != 0 or nothing inside."""
    if len(datagram) < 8 or datagram[0] >> 6:
        return None
    start = 8 + (datagram[0] & 0x3F) * 4
    return datagram[start:] if len(datagram) > start else None


def endpoint_id(text: str) -> int:
    """A GWLB endpoint ID as AWS writes it (`vpce-` and hex): the ENI option's value."""
    if not text.startswith("vpce-"):
        raise ValueError(f"{text!r} is not a GWLB endpoint ID (vpce-HEX)")
    value = int(text[5:], 16)
    if value >= 1 << 64:
        raise ValueError(f"{text!r} does not fit the 64-bit ENI option")
    return value


def eni_of(datagram: bytes) -> int | None:
    """The GWLB endpoint (option 0x0108 type 1) of a GENEVE datagram; None without one."""
    end = 8 + (datagram[0] & 0x3F) * 4 if datagram else 0
    at = 8
    while at + 4 <= min(end, len(datagram)):
        cls, typ, length = struct.unpack_from("!HBB", datagram, at)
        size = (length & 0x1F) * 4
        if cls == 0x0108 and typ == 1 and size == 8 and at + 12 <= len(datagram):
            return int.from_bytes(datagram[at + 4:at + 12], "big")
        at += 4 + size
    return None
