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
                  options: bytes | None = None, extra_words: int = 0) -> bytes:
    """Fixed header + ENI(8) + attachment(8) + cookie(4) options, as GWLB sends them.

    `options`, `version` and `extra_words` (an option length past the real one)
    let probes bend the header the ways spec check G1 lists.
    """
    proto = 0x86DD if inner_version == 6 else 0x0800
    if options is None:
        options = (aws_option(1, ENI_ID.to_bytes(8, "big"))
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
