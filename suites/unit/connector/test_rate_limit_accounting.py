"""Response-rate limiting and dynamic blocks at their edges (spec §9.1, §9.4 items 3, 4, 7).

What each account is keyed by (the client's /24, the response name, one `all` account per
prefix), which limited response slips, how far debt goes, which account the bounded
table forgets, and the exact thresholds of the dynamic blocks ("more than").
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from connector.core.dns_guard import (
    DnsGuard,
    GuardConfig,
    QueryMeta,
    QueryVerdict,
    ResponseVerdict,
)
from connector.core.model import Transport
from connector.core.rrl import RateVerdict, ResponseKind, ResponseRateLimiter, RrlConfig

pytestmark = pytest.mark.unit

ANSWER = ResponseKind.ANSWER
SEND, DROP, SLIP = RateVerdict.SEND, RateVerdict.DROP, RateVerdict.SLIP
A1, A2 = IPv4Address("10.10.1.11"), IPv4Address("10.10.1.200")  # one /24
NEXT_24 = IPv4Address("10.10.0.11")  # the neighbouring /24 (same /23)


def exhaust(rrl: ResponseRateLimiter, client: IPv4Address, name: str = "a.example",
            now: float = 0.0) -> None:
    """Spend the one second of credit (20) of `client`'s /24 for `name`."""
    for _ in range(20):
        assert rrl.check(client, ANSWER, now, name) is SEND


def test_the_first_limited_response_is_dropped_the_second_slips() -> None:
    rrl = ResponseRateLimiter()  # slip 2: every 2nd limited response slips
    exhaust(rrl, A1)
    assert [rrl.check(A1, ANSWER, 0.0, "a.example") for _ in range(4)] == [DROP, SLIP, DROP, SLIP]


def test_slip_three_slips_every_third_limited_response() -> None:
    rrl = ResponseRateLimiter(RrlConfig(slip=3))
    exhaust(rrl, A1)
    assert [rrl.check(A1, ANSWER, 0.0, "a.example") for _ in range(6)] == [
        DROP, DROP, SLIP, DROP, DROP, SLIP]


def test_slip_zero_never_slips_and_one_always_does() -> None:
    never, always = ResponseRateLimiter(RrlConfig(slip=0)), ResponseRateLimiter(RrlConfig(slip=1))
    exhaust(never, A1)
    exhaust(always, A1)
    assert {never.check(A1, ANSWER, 0.0, "a.example") for _ in range(5)} == {DROP}
    assert {always.check(A1, ANSWER, 0.0, "a.example") for _ in range(5)} == {SLIP}


def test_clients_of_one_slash_24_share_a_budget_the_next_24_has_its_own() -> None:
    rrl = ResponseRateLimiter()
    exhaust(rrl, A1)
    assert rrl.check(A2, ANSWER, 0.0, "a.example") is not SEND  # same /24
    assert rrl.check(NEXT_24, ANSWER, 0.0, "a.example") is SEND  # 10.10.0.0/24


def test_prefix_length_is_configurable() -> None:
    rrl = ResponseRateLimiter(RrlConfig(prefix_len=32))
    exhaust(rrl, A1)
    assert rrl.check(A2, ANSWER, 0.0, "a.example") is SEND


def test_all_account_caps_one_prefix_across_names_not_other_prefixes() -> None:
    rrl = ResponseRateLimiter()  # all-per-second 200, per name 20
    for i in range(200):
        assert rrl.check(A1, ANSWER, 0.0, f"n{i}.example") is SEND
    assert rrl.check(A2, ANSWER, 0.0, "fresh.example") is not SEND  # the /24's 200 are spent
    assert rrl.check(NEXT_24, ANSWER, 0.0, "fresh.example") is SEND


def test_debt_is_kept_for_one_window_then_forgiven() -> None:
    # Balance floor -rate x window = -300: after a flood the client waits out the window.
    rrl = ResponseRateLimiter()
    for _ in range(1000):
        rrl.check(A1, ANSWER, 0.0, "a.example")
    assert rrl.check(A1, ANSWER, 10.0, "a.example") is not SEND  # -300 + 200 < 0
    assert rrl.check(A1, ANSWER, 15.2, "a.example") is SEND


def test_table_holds_table_size_accounts_and_forgets_the_least_recently_used() -> None:
    # Each client here uses two accounts (its name and its prefix's `all`).
    rrl = ResponseRateLimiter(RrlConfig(table_size=4))
    a, b, c = (IPv4Address(f"10.10.{i}.1") for i in (1, 2, 3))
    for client in (a, b):
        exhaust(rrl, client)
        assert rrl.check(client, ANSWER, 0.0, "a.example") is not SEND
    assert len(rrl) == 4
    assert rrl.check(a, ANSWER, 0.0, "a.example") is not SEND  # a is used again: kept
    rrl.check(c, ANSWER, 0.0, "a.example")  # table full: b, least recently used, goes
    assert len(rrl) == 4
    assert rrl.check(a, ANSWER, 0.0, "a.example") is not SEND  # still remembered in debt
    assert rrl.check(b, ANSWER, 0.0, "a.example") is SEND  # forgotten: fresh credit


# -- dynamic blocks: "more than" each threshold, over 10 s (§9.4 item 4) -------------------
WORKLOADS = (IPv4Network("10.10.1.0/24"),)


def query(src: IPv4Address = A1, qtype: str = "A") -> QueryMeta:
    return QueryMeta(src, Transport.UDP, qtype)


def dropped_at_rate(per_second: int, seconds: int, qtype: str = "A") -> int:
    guard = DnsGuard(GuardConfig(workloads=WORKLOADS))
    return sum(guard.check_query(query(qtype=qtype), i / per_second)
               is QueryVerdict.DROP_SILENT for i in range(per_second * seconds))


def test_thirty_queries_per_second_is_not_more_than_the_limit() -> None:
    assert dropped_at_rate(30, 20) == 0
    assert dropped_at_rate(31, 20) > 0


def test_five_any_queries_per_second_is_not_more_than_the_limit() -> None:
    assert dropped_at_rate(5, 5, "ANY") == 0
    assert dropped_at_rate(6, 1, "ANY") > 0


@pytest.mark.parametrize(("extra", "blocked"), [(0, False), (1, True)],
                         ids=["exactly-100000-bytes-per-second", "one-byte-more"])
def test_response_bytes_over_100k_per_second_for_10s_block_the_client(extra: int,
                                                                      blocked: bool) -> None:
    guard = DnsGuard(GuardConfig(workloads=WORKLOADS))
    for second in range(10):  # 100 answers of 1,000 bytes a second, each for its own name
        for i in range(100):
            guard.check_response(QueryMeta(A1, Transport.UDP, "A", f"n{i}.example"),
                                 ANSWER, 1000 + (extra if second == i == 0 else 0), 4096,
                                 second + i / 100)
    verdict = guard.check_query(query(), 9.99)
    assert (verdict is QueryVerdict.DROP_SILENT) is blocked
    assert (A1 in guard.blocked_sources(9.99)) is blocked
    assert guard.check_query(query(A2), 9.99) is QueryVerdict.ACCEPT  # per /32


def test_a_block_is_counted_once_and_ends_after_exactly_60_seconds() -> None:
    guard = DnsGuard(GuardConfig(workloads=WORKLOADS))
    at = next(i / 40 for i in range(400)
              if guard.check_query(query(), i / 40) is QueryVerdict.DROP_SILENT)
    guard.check_query(query(), at + 1)  # dropped while blocked: not a new block
    assert guard.counters["dyn_blocks"] == 1
    assert guard.blocked_sources(at + 59.99) == {A1}
    assert guard.blocked_sources(at + 60) == frozenset()
    assert guard.check_query(query(), at + 60) is QueryVerdict.ACCEPT
    again = next(at + 60 + i / 40 for i in range(400)
                 if guard.check_query(query(), at + 60 + i / 40) is QueryVerdict.DROP_SILENT)
    assert again > at + 60
    assert guard.counters["dyn_blocks"] == 2


def test_each_source_has_its_own_query_window() -> None:
    guard = DnsGuard(GuardConfig(workloads=WORKLOADS))
    verdicts = [guard.check_query(query(src), i / 20) for i in range(20 * 20) for src in (A1, A2)]
    assert QueryVerdict.DROP_SILENT not in verdicts  # 20 qps each, 40 together


def test_seconds_older_than_the_window_stop_counting() -> None:
    assert dropped_at_rate(25, 40) == 0  # 250 a window; 1,000 over the whole run


@pytest.mark.parametrize(("size", "payload", "verdict"), [
    (512, 512, ResponseVerdict.SEND), (513, 512, ResponseVerdict.TRUNCATE),
    (1232, 4096, ResponseVerdict.SEND), (1233, 4096, ResponseVerdict.TRUNCATE)],
    ids=["fits-the-payload", "over-the-payload", "fits-the-1232-cap", "over-the-cap"])
def test_udp_answers_larger_than_the_payload_or_1232_are_truncated(
        size: int, payload: int, verdict: ResponseVerdict) -> None:
    guard = DnsGuard(GuardConfig(workloads=WORKLOADS))
    assert guard.check_response(query(), ANSWER, size, payload, 0.0) is verdict


def test_responses_are_counted_per_verdict_and_per_source_prefix() -> None:
    guard = DnsGuard(GuardConfig(workloads=WORKLOADS))
    verdicts = [guard.check_response(query(src), ANSWER, 100, 1232, 0.0).value
                for src in (A1, A2) for _ in range(15)]  # one /24: 20 sent, 10 limited
    guard.check_response(query(), ANSWER, 2000, 1232, 5.0)  # credit again; too large
    guard.check_query(query(), 5.0)
    expected = {"response-send": 20, "response-drop": 5, "response-slip": 5,
                "response-truncate": 1, "accept": 1}
    assert verdicts.count("send") == 20
    assert {k: v for k, v in guard.counters.items() if v} == expected
    assert {p: dict(c) for p, c in guard.per_prefix.items()} == {"10.10.1.0/24": expected}
