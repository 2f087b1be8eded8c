"""DNS messages on the real wire format (dnspython): parse, synthetic, NODATA, truncation."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import pytest

from connector.core.model import Transport
from connector.io import dns_wire
from connector.io.state_store import StateStore

pytestmark = pytest.mark.unit

CLIENT, SERVER = IPv4Address("10.10.1.11"), IPv4Address("10.10.3.31")


def query(name: str = "app-a.corp.example", qtype: str = "A", **kw: object) -> bytes:
    return dns.message.make_query(name, qtype, **kw).to_wire()  # type: ignore[arg-type]


def parse(wire: bytes, transport: Transport = Transport.UDP) -> dns_wire.ParsedQuery:
    parsed = dns_wire.parse_query(wire, CLIENT, SERVER, transport)
    assert parsed is not None
    return parsed


@pytest.mark.parametrize("wire", [b"", b"\x00" * 11, dns.message.make_response(
    dns.message.make_query("a.example", "A")).to_wire()], ids=["empty", "short", "a-response"])
def test_not_a_query_is_rejected(wire: bytes) -> None:
    assert dns_wire.parse_query(wire, CLIENT, SERVER, Transport.UDP) is None


def test_synthetic_answer_one_a_record_ra_mirrors_rd() -> None:
    parsed = parse(query())
    out = dns.message.from_wire(dns_wire.to_wire(
        dns_wire.synthetic_answer(parsed, IPv4Address("10.254.0.7"), 60), Transport.UDP, 512))
    assert out.rcode() == dns.rcode.NOERROR
    assert [(r.ttl, [d.address for d in r]) for r in out.answer] == [(60, ["10.254.0.7"])]
    assert out.flags & dns.flags.RA
    assert not out.flags & dns.flags.AA


def test_nodata_has_soa_and_no_answer() -> None:
    out = dns_wire.nodata_answer(parse(query(qtype="AAAA")), 60)
    assert out.answer == []
    assert out.authority[0].name.to_text() == "corp.example."


def test_udp_payload_is_capped_and_oversize_answers_truncated() -> None:
    parsed = parse(query(use_edns=0, payload=4096))
    assert parsed.udp_payload == dns_wire.UDP_PAYLOAD_CAP
    big = dns_wire.synthetic_answer(parsed, IPv4Address("10.254.0.7"), 60)
    for i in range(120):
        big.answer.append(dns.rrset.from_text(f"n{i}.corp.example.", 60, "IN", "A", "10.254.0.8"))
    udp = dns.message.from_wire(dns_wire.to_wire(big, Transport.UDP, parsed.udp_payload))
    assert udp.flags & dns.flags.TC
    assert udp.answer == []
    tcp_wire = dns_wire.to_wire(big, Transport.TCP, parsed.udp_payload)
    assert len(tcp_wire) > dns_wire.UDP_PAYLOAD_CAP


def test_state_store_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save_binding("default", "a.example", IPv4Address("10.254.0.1"), 5.0)
    store.save_binding("default", "b.example", IPv4Address("10.254.0.1"), 9.0)  # reclaimed
    store.save_learned(IPv4Address("198.18.10.10"), "www.web.example", 100.0)
    store.close()
    again = StateStore(tmp_path)
    assert list(again.bindings()) == [("default", "b.example", int(IPv4Address("10.254.0.1")),
                                       9.0)]
    assert [n for _, n, _ in again.learned(50.0)] == ["www.web.example"]
    assert list(again.learned(100.0)) == []
