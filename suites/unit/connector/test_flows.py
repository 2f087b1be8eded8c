"""The flow table: symmetric keys, idle timeouts (G6), completed exchanges."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.core.flows import (
    ACK,
    FIN,
    RST,
    SYN,
    Direction,
    FlowTable,
    FlowTimeouts,
    TableFull,
    canonical,
)
from connector.core.model import Decision, FlowKey, IpProto, Method

pytestmark = pytest.mark.unit

DIRECT = Decision(Method.DIRECT, "r1", 1, "test")


def key(proto: int = IpProto.TCP, src: str = "10.10.1.11", dst: str = "198.18.10.10",
        sport: int = 40000, dport: int = 80) -> FlowKey:
    return FlowKey(proto, IPv4Address(src), IPv4Address(dst), sport, dport)


def reply(k: FlowKey) -> FlowKey:
    return FlowKey(k.proto, k.dst, k.src, k.dport, k.sport)


def test_reply_finds_the_original_flow_and_its_direction() -> None:
    table = FlowTable()
    table.insert(key(), DIRECT, 0)
    seen = table.observe(reply(key()), 1, 60)
    assert seen is not None
    entry, way, _ = seen
    assert entry.decision is DIRECT
    assert way is Direction.REPLY


@pytest.mark.parametrize(("proto", "idle", "kept"), [
    (IpProto.TCP, 349.0, True), (IpProto.TCP, 350.0, False),
    (IpProto.UDP, 119.0, True), (IpProto.UDP, 120.0, False),
    (IpProto.ICMP, 59.0, True), (IpProto.ICMP, 60.0, False)],
    ids=["G6-tcp-kept-349s", "G6-tcp-gone-350s", "udp-kept-119s", "udp-gone-120s",
         "icmp-kept-59s", "icmp-gone-60s"])
def test_idle_timeouts(proto: int, idle: float, kept: bool) -> None:
    table = FlowTable()
    table.insert(key(proto), DIRECT, 0)
    table.lookup(key(proto), 100)
    expired = table.expire(100 + idle)
    assert (len(table) == 1) is kept
    assert (len(expired) == 0) is kept


@pytest.mark.parametrize("closing", [[(0, FIN | ACK), (1, FIN | ACK)], [(1, RST)]],
                         ids=["fin-both-sides", "rst"])
def test_closed_tcp_flow_expires_after_the_short_timeout(closing: list) -> None:
    table = FlowTable(FlowTimeouts(tcp_closed=10))
    table.insert(key(), DIRECT, 0)
    for way, flags in closing:
        table.observe(key() if way == 0 else reply(key()), 5, 40, flags)
    assert table.expire(14) == []
    assert [f.key for f in table.expire(15)] == [key()]


def test_tcp_complete_only_with_the_right_ack() -> None:
    table = FlowTable()
    table.insert(key(), DIRECT, 0)
    table.observe(key(), 0, 60, SYN, seq=100)
    table.observe(reply(key()), 0, 60, SYN | ACK, seq=5000, ack=101)
    *_, blind = table.observe(key(), 0, 40, ACK, seq=101, ack=1234)  # type: ignore[misc]
    *_, done = table.observe(key(), 0, 40, ACK, seq=101, ack=5001)  # type: ignore[misc]
    assert (blind, done) == (False, True)


def test_one_way_udp_is_not_complete() -> None:
    table = FlowTable()
    entry = table.insert(key(IpProto.UDP, dport=53), DIRECT, 0)
    for t in range(5):
        table.observe(key(IpProto.UDP, dport=53), t, 80)
    assert not entry.completed  # type: ignore[union-attr]


def test_full_table_refuses_and_keeps_live_flows() -> None:
    table = FlowTable(max_flows=1)
    table.insert(key(sport=1), DIRECT, 0)
    assert isinstance(table.insert(key(sport=2), DIRECT, 0), TableFull)
    assert table.lookup(key(sport=1), 1) is not None


ports = st.integers(1, 65535)
hosts = st.sampled_from(["10.10.1.11", "10.10.1.12", "198.18.10.10"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(hosts, ports, hosts, ports, st.floats(0, 500)), max_size=30),
       st.floats(0, 1000))
def test_expiry_never_removes_a_flow_seen_within_its_timeout(
        packets: list[tuple[str, int, str, int, float]], later: float) -> None:
    table = FlowTable()
    last_seen: dict[object, tuple[FlowKey, float]] = {}  # by flow (either direction)
    clock = 0.0
    for src, sport, dst, dport, dt in packets:
        clock += dt
        k = key(IpProto.UDP, src, dst, sport, dport)
        table.expire(clock)
        seen = table.observe(k, clock, 10)
        if seen is None:
            table.insert(k, DIRECT, clock)
            seen_key = k
        else:
            seen_key = seen[0].key
        last_seen[canonical(seen_key)] = (seen_key, clock)
    clock += later
    table.expire(clock)
    for k, t in last_seen.values():
        alive = table.lookup(k, clock) is not None
        # The table's own rule: a flow lives while last_seen + timeout > now. Written
        # the same way here, since `clock - t < 120` and `t + 120 > clock` can
        # disagree at the boundary in floating point (hypothesis found one).
        assert alive == (t + 120.0 > clock), (k, t, clock)
