"""GENEVE as GWLB speaks it (spec §4.1, G1): what is accepted, what is refused and why."""

from __future__ import annotations

import struct

import pytest

from connector.io import geneve
from connector.io.geneve import GenevePacket, GeneveReject, GwlbOptions

pytestmark = pytest.mark.unit
OPTS = GwlbOptions(eni_id=0x0E1A5B7C9D0F1122, attachment_id=0x0A77, flow_cookie=0xC00C1E)
INNER = bytes([0x45]) + bytes(19)


def test_built_header_is_40_bytes_and_parses_back() -> None:
    header = geneve.build_header(0x123456, geneve.PROTO_IPV4, OPTS)
    assert len(header) == 40  # 8 + 12 + 12 + 8 (spec: 68 with outer IPv4 + UDP)
    packet = geneve.parse(header + INNER)
    assert isinstance(packet, GenevePacket)
    assert (packet.vni, packet.protocol, packet.options) == (0x123456, 0x0800, OPTS)
    assert packet.header == header
    assert packet.payload == INNER


def test_options_are_found_in_any_order_and_unknown_noncritical_ones_skipped() -> None:
    header = geneve.build_header(1, geneve.PROTO_IPV4, OPTS)
    extra = struct.pack("!HBB", 0x0999, 0x05, 1) + b"\xaa" * 4
    opts = header[8:]
    body = extra + opts[24:] + opts[12:24] + opts[:12]
    fixed = struct.pack("!BBHI", len(body) // 4, 0, 0x0800, 1 << 8)
    packet = geneve.parse(fixed + body + INNER)
    assert isinstance(packet, GenevePacket)
    assert packet.options == OPTS
    assert packet.header == fixed + body, "the header is kept byte for byte, extras included"


def _bent(**changes: int) -> bytes:
    header = bytearray(geneve.build_header(1, geneve.PROTO_IPV4, OPTS))
    for offset, value in changes.items():
        header[int(offset[1:])] = value
    return bytes(header) + INNER


@pytest.mark.parametrize(("data", "reason"), [
    (b"\x00" * 7, "short"),
    (_bent(b0=0x48), "version"),                     # version 1, 8 words
    (_bent(b0=0x0F), "opt_len"),                     # 15 words: past the 60 bytes sent
    (_bent(b1=0x80), "control"),                     # O bit
    (_bent(b2=0x12, b3=0x34), "protocol"),
    (_bent(b11=3), "option_size"),                   # ENI option claims 12 bytes
], ids=["short", "version", "opt-len", "o-bit", "protocol", "option-size"])
def test_bad_headers_are_rejected_with_their_reason(data: bytes, reason: str) -> None:
    result = geneve.parse(data)
    assert isinstance(result, GeneveReject)
    assert result.reason == reason


def test_opt_len_past_the_end_is_rejected() -> None:
    header = geneve.build_header(1, geneve.PROTO_IPV4, OPTS)
    result = geneve.parse(bytes([header[0] + 1]) + header[1:])  # one word more, nothing after
    assert isinstance(result, GeneveReject)
    assert result.reason == "opt_len"


@pytest.mark.parametrize("missing", [1, 2, 3])
def test_each_aws_option_is_required(missing: int) -> None:
    header = geneve.build_header(1, geneve.PROTO_IPV4, OPTS)
    spans = {1: (8, 20), 2: (20, 32), 3: (32, 40)}
    lo, hi = spans[missing]
    body = header[8:lo] + header[hi:]
    fixed = struct.pack("!BBHI", len(body) // 4, 0, 0x0800, 1 << 8)
    result = geneve.parse(fixed + body + INNER)
    assert isinstance(result, GeneveReject)
    assert result.reason == "missing_option"


def test_unknown_critical_option_is_rejected() -> None:
    header = geneve.build_header(1, geneve.PROTO_IPV4, OPTS)
    body = header[8:] + struct.pack("!HBB", 0x0108, 0x80 | 7, 0)
    fixed = struct.pack("!BBHI", len(body) // 4, 0, 0x0800, 1 << 8)
    result = geneve.parse(fixed + body + INNER)
    assert isinstance(result, GeneveReject)
    assert result.reason == "critical_option"
