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
    ExpiredFlow,
    FlowEntry,
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


def test_two_clients_on_the_same_port_to_one_server_are_two_flows() -> None:
    """Two workloads may pick the same ephemeral port towards one server; their flows
    differ only in the client address and must not be confused (symmetric key, G2)."""
    table = FlowTable()
    first = table.insert(key(src="10.10.1.11"), DIRECT, 0)
    second = table.insert(key(src="10.10.1.12"), Decision(Method.DROP, "r2", 2, "test"), 0)
    assert first is not second
    assert len(table) == 2
    seen = table.observe(reply(key(src="10.10.1.12")), 1, 60)
    assert seen is not None
    assert seen[0] is second
    assert seen[0].decision.rule_name == "r2"


def test_a_reply_between_equal_ports_is_still_a_reply() -> None:
    """NTP (123 -> 123) and IKE (500 -> 500) use the same port on both ends: the side
    is told by address and port together, so the server's answer is a reply."""
    ntp = key(IpProto.UDP, src="10.10.1.11", dst="198.18.10.10", sport=123, dport=123)
    table = FlowTable()
    table.insert(ntp, DIRECT, 0)
    seen = table.observe(reply(ntp), 1, 76)
    assert seen is not None
    _, way, done = seen
    assert way is Direction.REPLY
    assert done is True


def test_a_udp_exchange_completes_on_the_first_answer_only() -> None:
    """flows.py: a UDP or ICMP exchange is complete when any packet comes back; the
    answer that completes it is reported once."""
    dns = key(IpProto.UDP, dport=53)
    table = FlowTable()
    entry = table.insert(dns, DIRECT, 0)
    assert table.observe(dns, 0, 60)[2] is False  # type: ignore[index]
    assert table.observe(reply(dns), 0, 90)[2] is True  # type: ignore[index]
    assert table.observe(reply(dns), 0, 90)[2] is False  # type: ignore[index]
    assert entry.completed is True  # type: ignore[union-attr]


def test_a_fin_from_one_side_only_is_a_half_close_not_a_close() -> None:
    """A TCP flow closes when both sides have sent FIN (or on RST); a half-closed
    flow may still carry data the other way, so it keeps the 350 s idle timeout."""
    for fin_from_server in (False, True):
        table = FlowTable(FlowTimeouts(tcp=350, tcp_closed=10))
        table.insert(key(), DIRECT, 0)
        table.observe(reply(key()) if fin_from_server else key(), 5, 40, FIN | ACK)
        assert table.expire(15) == [], "closed after one FIN"
        assert len(table) == 1
        assert [f.key for f in table.expire(355)] == [key()]


def test_flags_not_given_mean_a_packet_without_flags() -> None:
    """`observe` without flags counts a plain packet: it neither closes a TCP flow
    (FIN, RST) nor completes it."""
    table = FlowTable(FlowTimeouts(tcp=350, tcp_closed=10))
    entry = table.insert(key(), DIRECT, 0)
    table.observe(key(), 1, 40)
    table.observe(reply(key()), 2, 40)
    assert table.expire(20) == []
    assert entry.completed is False  # type: ignore[union-attr]


def _syn_then(table: FlowTable, *packets: tuple[bool, int, int, int]) -> bool:
    """A client's SYN (seq 100), then (from the client?, flags, seq, ack) packets;
    True if the exchange completed."""
    table.insert(key(), DIRECT, 0)
    table.observe(key(), 0, 60, SYN, seq=100)
    for from_client, flags, seq, ack in packets:
        table.observe(key() if from_client else reply(key()), 0, 60, flags, seq, ack)
    entry = table.lookup(key(), 0)
    assert entry is not None
    return entry.completed


def test_only_the_answering_sides_syn_ack_sets_what_the_client_must_acknowledge() -> None:
    """The proof is acknowledging the other side's SYN-ACK, whose number a blind
    spoofer never sees (seed: licence inflation). A refusal (RST-ACK) carries the
    predictable sequence number 0 (RFC 793, a reset for a SYN); a SYN-ACK the client
    sends itself proves nothing; a bare SYN from the server is no SYN-ACK."""
    refused = _syn_then(FlowTable(), (False, RST | ACK, 0, 101), (True, ACK, 101, 1))
    forged = _syn_then(FlowTable(), (True, SYN | ACK, 7000, 0), (True, ACK, 101, 7001))
    bare_syn = _syn_then(FlowTable(), (False, SYN, 5000, 0), (True, ACK, 101, 5001))
    real = _syn_then(FlowTable(), (False, SYN | ACK, 5000, 101), (True, ACK, 101, 5001))
    assert (refused, forged, bare_syn, real) == (False, False, False, True)


def test_a_packet_without_the_ack_flag_acknowledges_nothing() -> None:
    """RFC 793: the acknowledgement field is significant only when ACK is set; a client
    that resets the SYN-ACK (RST, field holding the right number) completes nothing."""
    reset = _syn_then(FlowTable(), (False, SYN | ACK, 5000, 101), (True, RST, 101, 5001))
    assert reset is False


def test_the_acknowledged_number_wraps_at_two_to_the_32() -> None:
    """Sequence numbers are modulo 2**32 (RFC 793): a SYN-ACK numbered 2**32 - 1 is
    acknowledged with 0."""
    top = 2**32 - 1
    assert _syn_then(FlowTable(), (False, SYN | ACK, top, 101), (True, ACK, 101, 0))
    assert not _syn_then(FlowTable(), (False, SYN | ACK, top, 101), (True, ACK, 101, 2**32))


def test_an_expired_flow_reports_its_decision_completion_and_counts_per_direction() -> None:
    table = FlowTable()
    drop = Decision(Method.DROP, "r2", 2, "test")
    table.insert(key(), DIRECT, 0)
    for k, size, flags, seq, ack in (
            (key(), 60, SYN, 100, 0), (reply(key()), 60, SYN | ACK, 5000, 101),
            (key(), 40, ACK, 101, 5001), (key(), 140, ACK, 101, 5001),
            (reply(key()), 1500, ACK, 5001, 201)):
        table.observe(k, 1, size, flags, seq, ack)
    silent = key(IpProto.UDP, src="10.10.1.12", dport=5000)
    table.insert(silent, drop, 0)  # its first packet was never counted
    gone = sorted(table.expire(1000), key=lambda f: f.key.proto)
    assert gone == [
        ExpiredFlow(key(), DIRECT, True, (3, 2), (240, 1560)),
        ExpiredFlow(silent, drop, False, (0, 0), (0, 0)),
    ]


def test_a_flow_kept_alive_does_not_shield_flows_that_expired() -> None:
    """Expiry meets deadlines in time order; a deadline that turns out refreshed, or
    left by a flow already gone, must not stop the flows behind it from expiring."""
    table = FlowTable(FlowTimeouts(udp=120, tcp=350, tcp_closed=10))
    busy, idle = key(IpProto.UDP, sport=1), key(IpProto.UDP, sport=2)
    table.insert(busy, DIRECT, 0)     # deadline 120, refreshed at 100
    table.insert(idle, DIRECT, 10)    # deadline 130, never refreshed
    table.lookup(busy, 100)
    assert [f.key for f in table.expire(200)] == [idle]
    assert len(table) == 1

    table = FlowTable(FlowTimeouts(udp=120, tcp=350, tcp_closed=10))
    closed, later = key(sport=3), key(IpProto.UDP, sport=4)
    table.insert(closed, DIRECT, 0)   # deadline 350, then closed at 1: gone at 11
    table.observe(closed, 1, 40, RST)
    assert [f.key for f in table.expire(20)] == [closed]
    table.insert(later, DIRECT, 240)  # deadline 360, behind the closed flow's stale 350
    assert [f.key for f in table.expire(400)] == [later]


def test_a_full_table_says_how_many_flows_it_holds() -> None:
    table = FlowTable(max_flows=2)
    table.insert(key(sport=1), DIRECT, 0)
    table.insert(key(sport=2), DIRECT, 0)
    assert table.insert(key(sport=3), DIRECT, 0) == TableFull(2)


def test_a_new_flow_has_nothing_attached_and_is_neither_closing_nor_complete() -> None:
    entry = FlowTable().insert(key(), DIRECT, 0)
    assert isinstance(entry, FlowEntry)
    assert (entry.attachment, entry.closing, entry.completed) == (None, False, False)


def test_sequence_numbers_not_given_are_zero() -> None:
    """Like flags, a number `observe` is not given is a zero field: a SYN-ACK without
    one is numbered 0, so 1 acknowledges it; an ACK without one acknowledges 0, the
    number after 2**32 - 1."""
    unnumbered_synack = FlowTable()
    unnumbered_synack.insert(key(), DIRECT, 0)
    unnumbered_synack.observe(reply(key()), 0, 60, SYN | ACK)
    *_, one_acks_it = unnumbered_synack.observe(  # type: ignore[misc]
        key(), 0, 40, ACK, seq=101, ack=1)
    unnumbered_ack = FlowTable()
    unnumbered_ack.insert(key(), DIRECT, 0)
    unnumbered_ack.observe(reply(key()), 0, 60, SYN | ACK, seq=2**32 - 1, ack=101)
    *_, zero_acks_top = unnumbered_ack.observe(key(), 0, 40, ACK, seq=101)  # type: ignore[misc]
    assert (one_acks_it, zero_acks_top) == (True, True)
