"""Licence accounting cannot be inflated by spoofed sources (seed attack matrix)."""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.core.flows import ACK, SYN, FlowTable
from connector.core.model import Decision, FlowKey, IpProto, Method
from connector.core.workloads import WorkloadCounter
from connector.service.cloud import CloudUploader
from connector.service.counters import Counters

pytestmark = pytest.mark.unit

RANGES = [IPv4Network("10.10.1.0/24")]
DIRECT = Decision(Method.DIRECT, "r1", 1, "test")


def handshake(table: FlowTable, counter: WorkloadCounter, src: str, *, answered: bool,
              right_ack: bool = True) -> None:
    k = FlowKey(IpProto.TCP, IPv4Address(src), IPv4Address("198.18.10.10"), 40000, 80)
    back = FlowKey(IpProto.TCP, k.dst, k.src, 80, 40000)
    entry = table.insert(k, DIRECT, 0)
    table.observe(k, 0, 60, SYN, seq=1)
    if answered:
        table.observe(back, 0, 60, SYN | ACK, seq=900, ack=2)
    table.observe(k, 0, 40, ACK, seq=2, ack=901 if right_ack else 7)
    counter.observe(entry, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize(("src", "answered", "right_ack", "counted"), [
    ("10.10.1.11", True, True, 1),
    ("203.0.113.9", True, True, 0),
    ("10.10.1.12", False, True, 0),
    ("10.10.1.13", True, False, 0)],
    ids=["workload-handshake-counted", "internet-source-never-counted",
         "syn-only-not-counted", "blind-ack-not-counted"])
def test_who_counts(src: str, answered: bool, right_ack: bool, counted: int) -> None:
    table, counter = FlowTable(), WorkloadCounter(RANGES)
    handshake(table, counter, src, answered=answered, right_ack=right_ack)
    assert counter.count() == counted


def test_window_and_snapshot() -> None:
    table, counter = FlowTable(), WorkloadCounter(RANGES)
    handshake(table, counter, "10.10.1.11", answered=True)
    twin = WorkloadCounter.restore(json.loads(json.dumps(counter.snapshot())))
    assert twin.workloads() == {IPv4Address("10.10.1.11")}
    assert twin.count(since=1.0) == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.sampled_from([IpProto.TCP, IpProto.UDP]),
                          st.integers(0, 0x3F)), max_size=50))
def test_one_way_packets_never_count(packets: list[tuple[int, int, int]]) -> None:
    table, counter = FlowTable(), WorkloadCounter(RANGES)
    for src, proto, flags in packets:
        k = FlowKey(proto, IPv4Address(src), IPv4Address("198.18.10.10"), 1234, 80)
        entry = table.insert(k, DIRECT, 0)
        table.observe(k, 0, 60, flags, seq=src, ack=src)
        counter.observe(entry, 0)  # type: ignore[arg-type]
    assert counter.count() == 0


def _udp_exchange(table: FlowTable, counter: WorkloadCounter, src: str, *,
                  replies: int, more: int) -> None:
    """UDP from `src` to a server that answers: `replies` answers come back, and the
    source sends `more` datagrams after them (a real client, or a blind spoofer
    that keeps sending: the connector cannot tell the two apart)."""
    k = FlowKey(IpProto.UDP, IPv4Address(src), IPv4Address("198.18.53.53"), 5353, 53)
    back = FlowKey(IpProto.UDP, k.dst, k.src, 53, 5353)
    entry = table.insert(k, DIRECT, 0)
    table.observe(k, 0, 60)
    for _ in range(replies):
        table.observe(back, 0, 90)
    for _ in range(more):
        table.observe(k, 0, 60)
    counter.observe(entry, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize(("replies", "more"), [(1, 0), (3, 5)],
                         ids=["one-reply", "a-conversation"])
def test_udp_that_draws_replies_never_counts_a_workload(replies: int, more: int) -> None:
    """Gap 11 of the audit: a forged in-range source that queries a responsive server
    draws replies it never receives; a UDP reply proves nothing, so UDP never counts."""
    table, counter = FlowTable(), WorkloadCounter(RANGES)
    _udp_exchange(table, counter, "10.10.1.50", replies=replies, more=more)
    assert counter.count() == 0
    handshake(table, counter, "10.10.1.50", answered=True)
    assert counter.workloads() == {IPv4Address("10.10.1.50")}  # TCP proves it


def _completed_tcp(table: FlowTable, src: str, sport: int = 40000,  # type: ignore[no-untyped-def]
                   location: str = ""):
    k = FlowKey(IpProto.TCP, IPv4Address(src), IPv4Address("198.18.10.10"), sport, 80, location)
    back = FlowKey(IpProto.TCP, k.dst, k.src, 80, sport, location)
    entry = table.insert(k, DIRECT, 0)
    table.observe(k, 0, 60, SYN, seq=1)
    table.observe(back, 0, 60, SYN | ACK, seq=900, ack=2)
    table.observe(k, 0, 40, ACK, seq=2, ack=901)
    return entry


def test_observe_says_whether_the_flow_counted_a_workload() -> None:
    table, counter = FlowTable(), WorkloadCounter(RANGES)
    assert counter.observe(_completed_tcp(table, "10.10.1.11"), 0) is True
    assert counter.observe(_completed_tcp(table, "203.0.113.9"), 0) is False  # out of range
    udp = FlowKey(IpProto.UDP, IPv4Address("10.10.1.12"), IPv4Address("198.18.53.53"), 5353, 53)
    entry = table.insert(udp, DIRECT, 0)
    table.observe(udp, 0, 60)
    table.observe(FlowKey(IpProto.UDP, udp.dst, udp.src, 53, 5353), 0, 90)
    assert entry.completed  # type: ignore[union-attr]
    assert counter.observe(entry, 0) is False  # type: ignore[arg-type]
    assert counter.workloads() == {IPv4Address("10.10.1.11")}


def test_a_window_counts_each_workload_once_from_its_first_instant() -> None:
    """A licence window counts the distinct workloads seen since its start, the start
    included: a handshake at the very instant the window opens is in it."""
    table, counter = FlowTable(), WorkloadCounter(RANGES)
    counter.observe(_completed_tcp(table, "10.10.1.11"), 10.0)
    counter.observe(_completed_tcp(table, "10.10.1.12"), 20.0)
    counter.observe(_completed_tcp(table, "10.10.1.12", sport=40001), 20.0)  # the same one again
    assert counter.count() == 2
    assert counter.count(since=10.0) == 2
    assert counter.count(since=10.5) == 1
    assert counter.count(since=20.0) == 1
    assert counter.count(since=20.5) == 0
    assert counter.workloads(since=20.0) == {IPv4Address("10.10.1.12")}
    assert counter.workloads(since=10.0) == {IPv4Address("10.10.1.11"), IPv4Address("10.10.1.12")}


def test_per_location_counts_are_distinct_workloads_from_the_windows_first_instant() -> None:
    """count_by_location is count split by location: in each, the distinct workloads
    seen since the window's start, the start included (one address in two locations
    is a workload in each)."""
    table, counter = FlowTable(), WorkloadCounter(RANGES)
    counter.observe(_completed_tcp(table, "10.10.1.11", location="loc-a"), 10.0)
    counter.observe(_completed_tcp(table, "10.10.1.12", location="loc-a"), 20.0)
    counter.observe(_completed_tcp(table, "10.10.1.11", 40001, location=""), 20.0)
    assert counter.count_by_location() == {"loc-a": 2, "": 1}
    assert counter.count_by_location(since=10.0) == {"loc-a": 2, "": 1}
    assert counter.count_by_location(since=20.0) == {"loc-a": 1, "": 1}
    assert counter.count_by_location(since=20.5) == {}


def test_licence_windows_tile_time_when_the_uploader_wakes_late() -> None:
    """Each count starts where the last accepted one ended: an uploader that wakes late
    on a loaded machine (every 1 s asked, 1.5 s taken) still counts a handshake made in
    the extra half second, which "the last interval before now" would lose."""
    table, counter = FlowTable(), WorkloadCounter(RANGES)
    uploader = CloudUploader(None, None, 1.0,  # type: ignore[arg-type]
                             lambda since: counter.count(since=since), Counters())
    uploader.window_start = 100.0
    counter.observe(_completed_tcp(table, "10.10.1.11"), 100.2)
    assert uploader.licence_count(101.5) == {"workloads": 1, "window_s": 1.5}
    uploader.window_start = 101.5  # accepted by the cloud: the next window begins here
    assert uploader.licence_count(102.5) == {"workloads": 0, "window_s": 1.0}


def test_a_late_observation_never_rewinds_a_workloads_time() -> None:
    """The GENEVE fast path folds the kernel's packets late, stamped with their own time:
    an older stamp must not undo a newer one (the workload would drop out of a window)."""
    table, counter = FlowTable(), WorkloadCounter(RANGES)
    handshake(table, counter, "10.10.1.11", answered=True)
    entry = next(iter(table._flows.values()))
    counter.observe(entry, 50.0)
    counter.observe(entry, 40.0)
    assert counter.count(since=45.0) == 1
