"""DNS listener protection (spec §9.4; checks A1, A2, A3): ACL, RRL with slip, blocks, ANY."""

from __future__ import annotations

from collections import Counter
from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.core.dns_guard import (
    DnsGuard,
    GuardConfig,
    QueryMeta,
    QueryVerdict,
    ResponseVerdict,
)
from connector.core.model import Transport
from connector.core.rrl import ResponseKind, RrlConfig

pytestmark = pytest.mark.unit

WORKLOADS = (IPv4Network("10.10.1.0/24"),)
PROBES = (IPv4Network("10.10.3.0/28"),)
UDP, TCP = Transport.UDP, Transport.TCP


def guard(**kw: object) -> DnsGuard:
    return DnsGuard(GuardConfig(workloads=WORKLOADS, exempt=PROBES, **kw))  # type: ignore[arg-type]


def meta(src: str = "10.10.1.11", transport: Transport = UDP, qtype: str = "A") -> QueryMeta:
    return QueryMeta(IPv4Address(src), transport, qtype)


@pytest.mark.parametrize(("m", "verdict"), [
    (meta(), QueryVerdict.ACCEPT),
    (meta("203.0.113.9"), QueryVerdict.DROP_SILENT),
    (meta("203.0.113.9", TCP), QueryVerdict.REFUSED),
    (meta("10.10.3.2"), QueryVerdict.ACCEPT),
    (meta(qtype="ANY"), QueryVerdict.MINIMAL_ANY),
    (meta(transport=TCP, qtype="ANY"), QueryVerdict.ACCEPT)],
    ids=["workload-accepted", "A1-spoofed-public-udp-dropped-silently",
         "outside-acl-tcp-refused", "probe-source-accepted", "A3-any-over-udp-minimal",
         "any-over-tcp-full"])
def test_query_verdicts(m: QueryMeta, verdict: QueryVerdict) -> None:
    assert guard().check_query(m, 0.0) is verdict


def test_private_default_acl_when_no_workloads_configured() -> None:
    g = DnsGuard(GuardConfig())
    assert g.check_query(meta("192.168.7.7"), 0) is QueryVerdict.ACCEPT
    assert g.check_query(meta("198.18.0.9"), 0) is QueryVerdict.DROP_SILENT


def test_A2_over_limit_client_gets_one_tc_per_two_limited() -> None:  # noqa: N802
    g = guard()
    verdicts = Counter(g.check_response(meta(), ResponseKind.ANSWER, 100, 1232, 0.5).value
                       for _ in range(220))
    assert verdicts["send"] == 20  # one second of credit
    assert verdicts["slip"] == 100
    assert verdicts["drop"] == 100


def test_rrl_credit_returns_with_time_and_tcp_is_exempt() -> None:
    g = guard()
    for _ in range(40):
        g.check_response(meta(), ResponseKind.ANSWER, 100, 1232, 0.0)
    assert g.check_response(meta(transport=TCP), ResponseKind.ANSWER, 100, 65535,
                            0.0) is ResponseVerdict.SEND
    assert g.check_response(meta(), ResponseKind.ANSWER, 100, 1232, 0.0) is not \
        ResponseVerdict.SEND
    assert g.check_response(meta(), ResponseKind.ANSWER, 100, 1232, 15.0) is \
        ResponseVerdict.SEND


def test_large_udp_answer_is_truncated_at_the_client_payload() -> None:
    g = guard()
    assert g.check_response(meta(), ResponseKind.ANSWER, 1400, 4096, 0) is \
        ResponseVerdict.TRUNCATE
    assert g.check_response(meta(), ResponseKind.ANSWER, 600, 512, 0) is ResponseVerdict.TRUNCATE
    assert g.check_response(meta(), ResponseKind.ANSWER, 500, 512, 0) is ResponseVerdict.SEND


@pytest.mark.parametrize(("qtype", "per_second", "seconds"), [("A", 40, 10), ("ANY", 6, 1)],
                         ids=["over-30-qps-over-10s", "over-5-any-per-second"])
def test_dynamic_block_for_60_seconds(qtype: str, per_second: int, seconds: int) -> None:
    g = guard()
    verdicts = [(i / per_second, g.check_query(meta(qtype=qtype), i / per_second))
                for i in range(per_second * seconds)]
    blocked_at = next(t for t, v in verdicts if v is QueryVerdict.DROP_SILENT)
    assert blocked_at > 0  # the first queries were answered
    assert IPv4Address("10.10.1.11") in g.blocked_sources(blocked_at)
    assert g.check_query(meta(), blocked_at + 59) is QueryVerdict.DROP_SILENT
    assert g.check_query(meta(), blocked_at + 61) is QueryVerdict.ACCEPT
    assert g.check_query(meta("10.10.1.12"), blocked_at) is QueryVerdict.ACCEPT


def test_exempt_probe_source_is_never_limited_or_blocked() -> None:
    g = guard()
    for i in range(2000):
        assert g.check_query(meta("10.10.3.2"), i / 100) is QueryVerdict.ACCEPT
        assert g.check_response(meta("10.10.3.2"), ResponseKind.ANSWER, 100, 1232,
                                i / 100) is ResponseVerdict.SEND


def test_rrl_budget_is_per_name_so_neighbours_are_not_starved() -> None:
    g = guard()
    for _ in range(100):
        g.check_response(meta(), ResponseKind.ANSWER, 100, 1232, 0)
    other = QueryMeta(IPv4Address("10.10.1.12"), UDP, "A", "other.example")
    assert g.check_response(other, ResponseKind.ANSWER, 100, 1232, 0) is ResponseVerdict.SEND


def test_rrl_table_is_bounded() -> None:
    g = guard(rrl=RrlConfig(table_size=500))
    for i in range(2000):
        g.check_response(meta(f"10.{i // 256}.{i % 256}.1"), ResponseKind.ANSWER, 50, 1232, 0)
    assert len(g._rrl) <= 500


times = st.lists(st.floats(0, 60, allow_nan=False), min_size=1, max_size=400).map(sorted)


@settings(max_examples=150, deadline=None)
@given(times)
def test_sends_per_window_never_exceed_rate_times_window_plus_burst(at: list[float]) -> None:
    g = guard()
    sent = [t for t in at if g.check_response(meta(), ResponseKind.ANSWER, 80, 1232, t)
            is ResponseVerdict.SEND]
    for start in sent:
        inside = [t for t in sent if start <= t < start + 15]
        assert len(inside) <= 20 * 15 + 20


@settings(max_examples=150, deadline=None)
@given(times, st.sampled_from([UDP, TCP]))
def test_counters_add_up(at: list[float], transport: Transport) -> None:
    g = guard()
    for t in at:
        g.check_query(meta(transport=transport), t)
    assert sum(g.counters[v.value] for v in QueryVerdict) == len(at)
