"""DNS answered in the kernel, user space's half: what is offered, and the replay.

The DNS service offers an answer to the routed program only when nothing user
space does for the query could differ next time (connector/core/fast_lane.py);
what the program answered is replayed as user space's own answers: the same log
line, the same counts, the guard's and the pool's accounting. The expected
counts come from a twin service that answered the same queries itself. The part
that keeps the program's entries (connector/service/dns_kernel_answers.py) is
driven here against a stand-in for the kernel map (the real one: the netns
tests test_dns_fast_path_kernel.py and test_dns_fast_path.py).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import dns.message
import pytest

from connector.config import parse_config
from connector.core.dns_guard import DnsGuard, GuardConfig, QueryMeta
from connector.core.fast_lane import DnsAsked, kernel_may_answer_dns
from connector.core.model import Transport
from connector.core.rrl import ResponseKind
from connector.errors import ConfigError
from connector.io.dns_fast_path import QUESTION_MAX, DnsKey
from connector.io.events import EventLog
from connector.io.state_store import StateStore
from connector.service.counters import Counters
from connector.service.dns_kernel_answers import GRACE_S, LONGEST_S, KernelDnsAnswers
from connector.service.dns_service import DnsService, KernelOffer, Query
from connector.service.run import restore_state

pytestmark = pytest.mark.unit

CONFIG = """
connector: {name: cc1, group: ccg-1, location: lab}
interfaces:
  service: {name: eth-svc, address: 10.10.3.31/24}
  management: {name: eth-mgmt, address: 10.10.2.21/24}
runtime:
  dns_exempt: [10.10.1.0/28]
  dns_fast_path: true
locations: [lab]
source_ip_groups:
  workloads: [10.10.1.0/24]
app_segments:
  app: {domains: ["*.app.example"], servers: [192.0.2.10]}
ip_pools:
  default: 10.254.0.0/24
"""
EXEMPT, LIMITED = ("10.10.1.11", 40001), ("10.10.1.50", 40002)
RESOLVER = ("10.10.3.31", 53)


class Harness:
    def __init__(self, tmp: Path, name: str = "cc1") -> None:
        config = parse_config(CONFIG, source=tmp / f"{name}.yaml")
        store = StateStore(tmp / f"state-{name}")
        pools, names = restore_state(config, store)
        self.events_path = tmp / f"events-{name}.jsonl"
        self.events = EventLog(self.events_path, "cc1")
        self.service = DnsService(config, pools=pools, names=names, health=None,  # type: ignore[arg-type]
                                  events=self.events, store=store)
        self.offers: list[KernelOffer] = []
        self.service.kernel_offer = self.offers.append

    def ask(self, wire: bytes, client: tuple[str, int] = EXEMPT,
            transport: Transport = Transport.UDP) -> bytes | None:
        answer = self.service.answer_now(Query(wire, client, RESOLVER, transport))
        assert not hasattr(answer, "send"), "a local answer never waits"
        return answer  # type: ignore[return-value]

    def lines(self) -> list[dict[str, object]]:
        found = [json.loads(line) for line in self.events_path.read_text().splitlines()
                 if '"dns.query"' in line]
        for line in found:
            del line["ts"]
        return found


def plain(name: str, rdtype: str = "A", ident: int = 7, **edns: int) -> bytes:
    query = dns.message.make_query(name, rdtype, **edns)  # type: ignore[arg-type]
    query.id = ident
    return query.to_wire()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    made = Harness(tmp_path)
    yield made
    made.events.close()


def test_an_exempt_sources_plain_synthetic_answer_is_offered_as_the_kernel_compares_it(
        harness: Harness) -> None:
    wire = plain("web.app.example")
    answer = harness.ask(wire)
    assert answer is not None
    [offer] = harness.offers
    assert offer.key == DnsKey(IPv4Address(EXEMPT[0]), IPv4Address(RESOLVER[0]), wire[12:])
    parsed = dns.message.from_wire(answer)
    assert [(r.ttl, [str(a) for a in r]) for r in parsed.answer] == [(60, [str(offer.addr)])]
    assert (offer.ttl, offer.size, offer.kind) == (60, len(answer), ResponseKind.ANSWER)


@pytest.mark.parametrize("case", ["limited_source", "edns", "tcp", "nodata", "not_zpa",
                                  "long_question"])
def test_what_user_space_might_answer_otherwise_is_never_offered(harness: Harness,
                                                                 case: str) -> None:
    long_name = ".".join(["a" * 40] * 3) + ".app.example"
    wire, client, transport = {
        "limited_source": (plain("web.app.example"), LIMITED, Transport.UDP),
        "edns": (plain("web.app.example", use_edns=0), EXEMPT, Transport.UDP),
        "tcp": (plain("web.app.example"), EXEMPT, Transport.TCP),
        "nodata": (plain("web.app.example", "AAAA"), EXEMPT, Transport.UDP),
        "not_zpa": (plain("www.elsewhere.example"), EXEMPT, Transport.UDP),
        "long_question": (plain(long_name), EXEMPT, Transport.UDP),
    }[case]
    if case == "not_zpa":  # forwarded: a coroutine, never run here
        answer = harness.service.answer_now(Query(wire, client, RESOLVER, transport))
        if hasattr(answer, "close"):
            answer.close()  # type: ignore[union-attr]
    else:
        harness.ask(wire, client, transport)
    if case == "long_question":
        assert len(wire) - 12 > QUESTION_MAX
    assert harness.offers == []
    harness.ask(plain("db.app.example"))  # the control: this one is offered
    assert len(harness.offers) == 1


def test_a_replay_writes_the_same_line_and_counts_as_user_space_answering_again(
        tmp_path: Path) -> None:
    kernel, twin = Harness(tmp_path, "kernel"), Harness(tmp_path, "twin")
    wire = plain("web.app.example")
    kernel.ask(wire)
    twin.ask(wire)
    [offer] = kernel.offers
    assert kernel.service.replay_kernel_answers(offer, 3)
    for ident in (8, 9, 10):  # the twin answers them itself
        twin.ask(plain("web.app.example", ident=ident))
    assert kernel.lines() == twin.lines()
    assert len(kernel.lines()) == 4
    assert kernel.service.counters == twin.service.counters
    assert kernel.service.guard.counters == twin.service.guard.counters
    assert kernel.service.guard.per_prefix == twin.service.guard.per_prefix


def test_a_replay_for_a_source_no_longer_exempt_is_judged_one_by_one_and_says_stop(
        tmp_path: Path) -> None:
    kernel, twin = Harness(tmp_path, "kernel"), Harness(tmp_path, "twin")
    kernel.ask(plain("web.app.example"))
    twin.ask(plain("web.app.example"))
    [offer] = kernel.offers
    meta = dataclasses.replace(offer.asked.meta, src=IPv4Address(LIMITED[0]))
    limited = dataclasses.replace(offer, asked=dataclasses.replace(offer.asked, meta=meta))
    assert not kernel.service.replay_kernel_answers(limited, 3)
    for ident in (8, 9, 10):
        twin.ask(plain("web.app.example", ident=ident), LIMITED)
    assert kernel.service.guard.counters == twin.service.guard.counters
    assert kernel.service.guard.per_prefix == twin.service.guard.per_prefix


def test_a_replay_of_an_address_the_name_no_longer_has_says_stop(harness: Harness) -> None:
    harness.ask(plain("web.app.example"))
    [offer] = harness.offers
    moved = dataclasses.replace(offer, addr=IPv4Address("10.254.0.200"))
    assert not harness.service.replay_kernel_answers(moved, 1)
    assert harness.service.replay_kernel_answers(offer, 1)
    assert len(harness.lines()) == 3  # each answer the kernel gave is logged all the same


def test_the_guard_counts_an_exempt_sources_repeats_as_it_counts_them_one_by_one() -> None:
    config = GuardConfig(exempt=(IPv4Network("10.10.1.0/28"),))
    once, one_by_one = DnsGuard(config), DnsGuard(config)
    meta = QueryMeta(IPv4Address("10.10.1.11"), Transport.UDP, "A", "web.app.example.")
    verdicts = once.check_exempt(meta, ResponseKind.ANSWER, 60, 512, 5, 100.0)
    for _ in range(5):
        expected = (one_by_one.check_query(meta, 100.0),
                    one_by_one.check_response(meta, ResponseKind.ANSWER, 60, 512, 100.0))
    assert verdicts == expected
    assert once.counters == one_by_one.counters
    assert once.per_prefix == one_by_one.per_prefix
    limited = QueryMeta(IPv4Address("10.10.1.50"), Transport.UDP, "A", "web.app.example.")
    assert once.check_exempt(limited, ResponseKind.ANSWER, 60, 512, 5, 100.0) is None
    assert once.counters == one_by_one.counters  # nothing counted for it


BASE = DnsAsked(synthetic=True, udp=True, edns=False, question_len=30, sub_location=False,
                exempt=True, ttl=60)


@pytest.mark.parametrize(("change", "allowed"), [
    ({}, True), ({"synthetic": False}, False), ({"udp": False}, False),
    ({"edns": True}, False), ({"exempt": False}, False), ({"sub_location": True}, False),
    ({"question_len": QUESTION_MAX}, True), ({"question_len": QUESTION_MAX + 1}, False),
    ({"ttl": 0}, False)])
def test_kernel_may_answer_dns_only_what_nothing_could_answer_otherwise(
        change: dict[str, object], allowed: bool) -> None:
    assert kernel_may_answer_dns(dataclasses.replace(BASE, **change), QUESTION_MAX) is allowed


def test_an_event_emitted_n_times_is_n_lines(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "e.jsonl", "cc1")
    log.emit_members("dns.query", EventLog.members({"qname": "a."}), 3)
    log.close()
    lines = [json.loads(x) for x in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert len(lines) == 3
    assert {x["qname"] for x in lines} == {"a."}


def _config_issues(runtime: str) -> list[str]:
    text = CONFIG.replace("  dns_exempt: [10.10.1.0/28]\n  dns_fast_path: true\n", runtime)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source=Path("cc1.yaml"))
    return [f"{i.path}: {i.message}" for i in caught.value.issues]


def test_the_kernel_answers_is_refused_where_it_would_bypass_a_limit_or_answer_nobody() -> None:
    assert parse_config(CONFIG, source=Path("cc1.yaml")).dataplane.dns_fast_path
    assert _config_issues("  dns_fast_path: true\n") == [
        "runtime.dns_fast_path: set without dns_exempt"]
    assert _config_issues("  dns_exempt: [10.10.1.0/28]\n  dns_fast_path: true\n"
                          "  dns_flood_limit: 1000\n") == [
        "runtime.dns_fast_path: set with dns_flood_limit"]
    assert _config_issues("  dns_exempt: [10.10.1.0/28]\n  dns_fast_path: true\n"
                          "  geneve_sources: [10.10.3.5/32]\n  geneve_fast_path: true\n") == [
        "runtime.dns_fast_path: set with geneve_fast_path"]


class KernelMap:
    """A stand-in for the program's map and ring: what was installed, what it answered."""

    def __init__(self) -> None:
        self.entries: dict[DnsKey, tuple[IPv4Address, int, int]] = {}
        self.answered: Counter[int] = Counter()
        self.full = False

    def install(self, key: DnsKey, addr: IPv4Address, ttl: int, until_ns: int,
                ticket: int) -> bool:
        if self.full:
            return False
        self.entries[key] = (addr, until_ns, ticket)
        return True

    def remove(self, key: DnsKey) -> None:
        self.entries.pop(key, None)

    def drain(self) -> Counter[int]:
        answered, self.answered = self.answered, Counter()
        return answered


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def part(harness: Harness) -> tuple[KernelDnsAnswers, KernelMap, Clock, Counters]:
    clock, counters, kernel = Clock(), Counters(), KernelMap()
    made = KernelDnsAnswers(harness.service, None, counters, harness.events,  # type: ignore[arg-type]
                            clock=clock)
    made.answers = kernel  # type: ignore[assignment]
    harness.service.kernel_offer = made.offer
    return made, kernel, clock, counters


def test_an_offer_is_installed_once_while_it_answers_and_again_after(
        harness: Harness, part: tuple[KernelDnsAnswers, KernelMap, Clock, Counters]) -> None:
    made, kernel, clock, counters = part
    harness.ask(plain("web.app.example"))
    harness.ask(plain("web.app.example", ident=8))  # the kernel still answers it: no offer
    [(key, (addr, until_ns, ticket))] = kernel.entries.items()
    assert until_ns == int((1000.0 + min(60, LONGEST_S)) * 1e9)
    assert counters.get("dns_fast_path_offered") == 1
    clock.now += 61
    harness.ask(plain("web.app.example", ident=9))
    assert kernel.entries[key][2] != ticket  # installed anew, under a new ticket
    assert counters.get("dns_fast_path_offered") == 2


def test_drained_answers_are_logged_and_an_entry_whose_address_moved_is_withdrawn(
        harness: Harness, part: tuple[KernelDnsAnswers, KernelMap, Clock, Counters]) -> None:
    made, kernel, _clock, counters = part
    harness.ask(plain("web.app.example"))
    [(key, (_addr, _until, ticket))] = kernel.entries.items()
    kernel.answered[ticket] += 4
    kernel.answered[ticket + 100] += 1  # no such entry
    assert made.drain() == 5
    assert len(harness.lines()) == 1 + 4
    assert counters.get("dns_fast_path_answered") == 5
    assert counters.get("dns_fast_path_unknown") == 1
    assert key in kernel.entries
    made._tickets[ticket] = (dataclasses.replace(made._tickets[ticket][0],
                                                 addr=IPv4Address("10.254.0.200")),
                             made._tickets[ticket][1])
    kernel.answered[ticket] += 1
    made.drain()
    assert key not in kernel.entries
    assert counters.get("dns_fast_path_withdrawn") == 1


def test_entries_past_their_time_are_forgotten_after_the_grace(
        harness: Harness, part: tuple[KernelDnsAnswers, KernelMap, Clock, Counters]) -> None:
    made, kernel, clock, counters = part
    harness.ask(plain("web.app.example"))
    clock.now += 60 + GRACE_S - 0.1
    assert made.sweep() == 0
    assert len(kernel.entries) == 1
    clock.now += 0.2
    assert made.sweep() == 1
    assert kernel.entries == {}
    kernel.full = True
    harness.ask(plain("web.app.example", ident=8))
    assert counters.get("dns_fast_path_full") == 1
