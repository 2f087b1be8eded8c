"""The DNS service's local answers, on real DNS wire, a real state store and event file.

What a question decides is remembered per question, client and address asked;
these check that the memory never answers one client with another's decision,
that each answer carries its own query's id and flags, and that every query
still writes its own complete `dns.query` line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import pytest

from connector.config import parse_config
from connector.core.model import Transport
from connector.io.events import EventLog
from connector.io.state_store import StateStore
from connector.service.dns_service import DnsService, Query
from connector.service.run import restore_state

pytestmark = pytest.mark.unit

CONFIG = """
connector: {name: cc1, group: ccg-1, location: lab}
interfaces:
  service: {name: eth-svc, address: 10.10.3.31/24}
  management: {name: eth-mgmt, address: 10.10.2.21/24}
locations: [lab]
source_ip_groups:
  workloads: [10.10.1.0/24]
  quarantined: [10.10.1.96/28]
app_segments:
  app: {domains: ["*.app.example"], servers: [192.0.2.10]}
ip_pools:
  default: 10.254.0.0/24
dns_rules:
  - {order: 1, name: quarantine, action: BLOCK, src_ip_groups: [quarantined],
     dest_addresses: ["*.app.example"]}
"""
OK_CLIENT, BLOCKED_CLIENT = ("10.10.1.11", 40001), ("10.10.1.99", 40002)
RESOLVER = ("10.10.3.31", 53)


class Harness:
    def __init__(self, tmp: Path, text: str = CONFIG) -> None:
        config = parse_config(text, source=tmp / "cc1.yaml")
        store = StateStore(tmp / "state")
        pools, names = restore_state(config, store)
        self.events_path = tmp / "events.jsonl"
        self.events = EventLog(self.events_path, "cc1")
        self.service = DnsService(config, pools=pools, names=names, health=None,  # type: ignore[arg-type]
                                  events=self.events, store=store)

    def ask(self, name: str, client: tuple[str, int], ident: int, *,
            rd: bool = True) -> dns.message.Message | None:
        query = dns.message.make_query(name, "A")
        query.id = ident
        if not rd:
            query.flags &= ~dns.flags.RD
        answer = self.service.answer_now(Query(query.to_wire(), client, RESOLVER,
                                               Transport.UDP))
        assert not hasattr(answer, "send"), "a local answer never waits"
        return None if answer is None else dns.message.from_wire(answer)  # type: ignore[arg-type]

    def lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.events_path.read_text().splitlines()
                if '"dns.query"' in line]


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    made = Harness(tmp_path)
    yield made
    made.events.close()


def test_each_client_gets_its_own_decision_for_the_same_question(harness: Harness) -> None:
    for ident in range(5):  # asked again and again, alternating: the memo is warm
        ok = harness.ask("web.app.example", OK_CLIENT, ident)
        blocked = harness.ask("web.app.example", BLOCKED_CLIENT, 1000 + ident)
        assert ok is not None
        assert ok.rcode() == dns.rcode.NOERROR
        assert [str(r) for rrset in ok.answer for r in rrset] == ["10.254.0.1"]
        assert blocked is None, "BLOCK: no response at all (D7), not an empty one"


def test_every_answer_carries_its_own_queries_id_and_flags(harness: Harness) -> None:
    for ident, rd in ((7, True), (8, False), (65535, True), (0, False)):
        answer = harness.ask("db.app.example", OK_CLIENT, ident, rd=rd)
        assert answer is not None
        assert answer.id == ident
        assert bool(answer.flags & dns.flags.RD) is rd
        assert bool(answer.flags & dns.flags.RA) is rd


def test_every_query_writes_a_complete_line(harness: Harness) -> None:
    with harness.events.batch():
        for ident in range(3):
            harness.ask("web.app.example", OK_CLIENT, ident)
            harness.ask("web.app.example", BLOCKED_CLIENT, ident)
    lines = harness.lines()
    assert len(lines) == 6
    for line in lines:
        assert line["node"] == "cc1"
        assert isinstance(line["ts"], float)
        assert line["qname"] == "web.app.example"
        assert line["qtype"] == "A"
        assert line["dst"] == "10.10.3.31"
        assert line["transport"] == "UDP"
    ok = [x for x in lines if x["src"] == OK_CLIENT[0]]
    blocked = [x for x in lines if x["src"] == BLOCKED_CLIENT[0]]
    assert {(x["rule"], x["outcome"], x["answered"], x["pool"]) for x in ok} == {
        (ok[0]["rule"], "answer-synthetic", True, "default")}
    assert {(x["rule"], x["action"]) for x in blocked} == {("quarantine", "BLOCK")}


TINY_POOL = CONFIG.replace("default: 10.254.0.0/24", "default: 10.254.0.0/30")


def test_D3_a_full_pool_answers_servfail_on_the_wire_and_raises_the_alert(  # noqa: N802
        tmp_path: Path) -> None:
    """A /30 has two usable addresses (spec §6.6 item 4): the third name finds every
    address bound and in quarantine, so it gets SERVFAIL (never a real address, never a
    reused one) and a `pool.exhausted` event; the two bound names keep their answers."""
    (tmp_path / "cc1.yaml").write_text(TINY_POOL)
    harness = Harness(tmp_path, TINY_POOL)
    try:
        first = harness.ask("a.app.example", OK_CLIENT, 1)
        second = harness.ask("b.app.example", OK_CLIENT, 2)
        third = harness.ask("c.app.example", OK_CLIENT, 3)
        given = [[str(r) for rrset in m.answer for r in rrset] for m in (first, second) if m]
        assert sorted(given) == [["10.254.0.1"], ["10.254.0.2"]]
        assert third is not None
        assert third.rcode() == dns.rcode.SERVFAIL
        assert third.answer == []
        assert third.id == 3
        alerts = [json.loads(line) for line in harness.events_path.read_text().splitlines()
                  if '"pool.exhausted"' in line]
        assert [(a["pool"], a["qname"]) for a in alerts] == [("default", "c.app.example")]
        again = harness.ask("a.app.example", OK_CLIENT, 4)
        assert again is not None
        assert [str(r) for rrset in again.answer for r in rrset] == given[0]
    finally:
        harness.events.close()


SUBLOCATIONS = CONFIG.replace("locations: [lab]", "locations: [lab, loc-a, loc-b]").replace(
    "interfaces:", """runtime:
  geneve_sources: [10.10.3.5/32]
  geneve_locations: {vpce-0a: loc-a, vpce-0b: loc-b}
interfaces:""") + """  - {order: 2, name: loc-b-blocked, action: BLOCK, locations: [loc-b],
     dest_addresses: ["*.app.example"]}
"""


def test_one_client_address_in_two_locations_gets_each_locations_decision(
        tmp_path: Path) -> None:
    """Sub-locations (issue 18): one address asks from two locations (told apart by the
    data plane, here by port); the remembered decision of one never answers the other,
    and each dns.query line names its location."""
    made = Harness(tmp_path, SUBLOCATIONS)
    ports = {40001: "loc-a", 40003: "loc-b"}
    made.service.location_of = lambda key: ports.get(key.sport, "")
    try:
        first = made.ask("x.app.example", ("10.10.1.11", 40001), 1)
        blocked = made.ask("x.app.example", ("10.10.1.11", 40003), 2)
        again = made.ask("x.app.example", ("10.10.1.11", 40001), 3)
        own = made.ask("x.app.example", ("10.10.1.11", 40005), 4)
    finally:
        made.events.close()
    assert first is not None
    assert again is not None
    assert own is not None
    assert blocked is None  # BLOCK: a silent drop, for loc-b only
    assert [(line["location"], line["rule"]) for line in made.lines()] == [
        ("loc-a", "ZPA Resolver"), ("loc-b", "loc-b-blocked"), ("loc-a", "ZPA Resolver"),
        ("lab", "ZPA Resolver")]
