"""The plain-query fast path agrees with dnspython, byte for byte, or steps aside.

Two claims: every synthetic answer it writes is the exact bytes dnspython
writes for the same query; and it accepts nothing dnspython would read
differently (a differential run over 100,000 random and mutated queries).
"""

from __future__ import annotations

from ipaddress import IPv4Address

import dns.edns
import dns.flags
import dns.message
import pytest

from connector.core.model import Transport
from connector.io import dns_plain, dns_wire
from suites.unit.connector.fuzzing import inputs

pytestmark = pytest.mark.unit

CLIENT, SERVER = IPv4Address("10.10.1.11"), IPv4Address("10.10.3.31")
ADDR = IPv4Address("10.254.0.7")


def _query(name: str, *, rd: bool = True, **kw: object) -> bytes:
    message = dns.message.make_query(name, "A", **kw)  # type: ignore[arg-type]
    if not rd:
        message.flags &= ~dns.flags.RD
    return message.to_wire()


SHAPES = {
    "plain": _query("app-a.corp.example"),
    "no-rd": _query("app-a.corp.example", rd=False),
    "mixed-case": _query("App-A.Corp.EXAMPLE"),
    "underscore": _query("_svc.h1.bench.example"),
    "edns": _query("h1.bench.example", use_edns=0, payload=4096),
    "edns-small": _query("h1.bench.example", use_edns=0, payload=100),
    "edns-do": _query("h1.bench.example", use_edns=0, want_dnssec=True),
    "edns-cookie": _query("h1.bench.example", use_edns=0, options=[
        dns.edns.GenericOption(dns.edns.OptionType.COOKIE, b"\x01" * 8)]),
    "long": _query(".".join(["a" * 63] * 3) + ".example"),
}


@pytest.mark.parametrize("wire", SHAPES.values(), ids=SHAPES.keys())
def test_synthetic_answer_is_dnspythons_byte_for_byte(wire: bytes) -> None:
    plain = dns_plain.parse_plain(wire)
    full = dns_wire.parse_query(wire, CLIENT, SERVER, Transport.UDP)
    assert plain is not None
    assert full is not None
    assert (plain.qname, plain.qtype, plain.udp_payload) == \
        (full.question.qname, full.question.qtype, full.udp_payload)
    assert dns_plain.synthetic_a(plain, ADDR, 60) == \
        dns_wire.synthetic_answer(full, ADDR, 60).to_wire()


PADDED = dns.message.make_query("h1.bench.example", "A", use_edns=0, options=[
    dns.edns.GenericOption(dns.edns.OptionType.PADDING, b"\x00" * 8)]).to_wire()
STEPS_ASIDE = {
    "padding-option": PADDED,  # the answer must be padded: dnspython's job
    "escaped-byte": dns.message.make_query("a\\032b.example", "A").to_wire(),
    "class-ch": dns.message.make_query("version.bind", "TXT", "CH").to_wire(),
    "trailing-junk": _query("a.example") + b"\x00",
    "truncated": _query("a.example")[:-1],
    "a-response": dns.message.make_response(dns.message.make_query("a.example", "A")).to_wire(),
    "notify-opcode": bytes([0, 1, 0x20, 0]) + _query("a.example")[4:],
    "compressed-name": _query("a.example")[:12] + b"\xc0\x0c\x00\x01\x00\x01",
    "root-name": dns.message.make_query(".", "NS").to_wire(),
}


@pytest.mark.parametrize("wire", STEPS_ASIDE.values(), ids=STEPS_ASIDE.keys())
def test_anything_unusual_goes_to_the_full_parser(wire: bytes) -> None:
    assert dns_plain.parse_plain(wire) is None


def test_never_accepts_what_dnspython_reads_otherwise() -> None:
    """100,000 random and mutated queries: each one the fast parser accepts, dnspython
    accepts too, with the same name, type and payload, and answers with the same bytes."""
    accepted = disagreements = 0
    for data in inputs(list(SHAPES.values()), 100_000, seed=0xD1FF):
        plain = dns_plain.parse_plain(data)
        if plain is None:
            continue
        accepted += 1
        full = dns_wire.parse_query(data, CLIENT, SERVER, Transport.UDP)
        if full is None or (plain.qname, plain.qtype, plain.udp_payload) != \
                (full.question.qname, full.question.qtype, full.udp_payload) or \
                dns_plain.synthetic_a(plain, ADDR, 60) != \
                dns_wire.synthetic_answer(full, ADDR, 60).to_wire():
            disagreements += 1
    assert disagreements == 0
    assert accepted > 1000, "the mutations never produced a plain query: the test proves nothing"


def test_a_remembered_question_answers_each_query_with_its_own_id_and_flags(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The question's shape is parsed once; id and RD come from each query. The memory is
    bounded: past SHAPE_MEMO distinct questions it starts again."""
    monkeypatch.setattr(dns_plain, "SHAPE_MEMO", 8)
    monkeypatch.setattr(dns_plain, "_shapes", {})
    for round_ in range(3):
        for n in range(20):
            message = dns.message.make_query(f"h{n}.bench.example", "A",
                                             use_edns=0 if n % 2 else -1)
            message.id = round_ * 100 + n
            if (round_ + n) % 3 == 0:
                message.flags &= ~dns.flags.RD
            wire = message.to_wire()
            plain = dns_plain.parse_plain(wire)
            full = dns_wire.parse_query(wire, CLIENT, SERVER, Transport.UDP)
            assert plain is not None
            assert full is not None
            assert dns_plain.synthetic_a(plain, ADDR, 60) == \
                dns_wire.synthetic_answer(full, ADDR, 60).to_wire()
            assert len(dns_plain._shapes) <= 8
