"""Synthetic pools: their counts, the exhaustion message, and a set of pools (spec §6.6).

A pool's size leaves out the network and broadcast addresses (except a /31 or /32);
`stats` counts bound, held and never-given addresses; the exhaustion reason (logged
with the SERVFAIL, §6.6 item 4) says how many are held by flows and how many wait in
quarantine. Over several pools, an address belongs to the pool that binds it.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from connector.core.ip_pool import Allocated, Exhausted, PoolStats, SyntheticPool
from connector.core.pools import PoolSet

pytestmark = pytest.mark.unit

Q = 350.0
NET = IPv4Network("10.254.0.0/29")  # 8 addresses, 6 usable: .1 to .6


def given(result: Allocated | Exhausted) -> IPv4Address:
    assert isinstance(result, Allocated), result
    return result.addr


@pytest.mark.parametrize(("prefix", "size"), [("10.254.0.0/29", 6), ("10.254.0.0/24", 254),
                                              ("10.254.0.0/31", 2), ("10.254.0.7/32", 1)])
def test_size_is_the_usable_addresses(prefix: str, size: int) -> None:
    assert SyntheticPool("p", IPv4Network(prefix)).stats() == PoolStats(size, 0, 0, size)


def test_stats_count_bound_held_and_never_given() -> None:
    pool = SyntheticPool("p", NET, quarantine_s=Q)
    a = given(pool.allocate("a.example", 0))
    given(pool.allocate("b.example", 0))
    pool.flow_started(a, 1)
    assert pool.stats() == PoolStats(size=6, bound=2, held=1, free=4)
    for i in range(4):
        given(pool.allocate(f"n{i}.example", 2))
    assert pool.stats() == PoolStats(size=6, bound=6, held=1, free=0)


def test_exhaustion_reason_splits_flows_and_quarantine() -> None:
    pool = SyntheticPool("p", IPv4Network("10.254.0.0/29"), quarantine_s=Q)
    addrs = [given(pool.allocate(f"n{i}.example", 0)) for i in range(6)]
    for addr in addrs[:2]:
        pool.flow_started(addr, 1)
    assert pool.allocate("Late.Example.", 10) == Exhausted(
        "p", "late.example", "all 6 addresses bound: 2 with live flows, 4 in quarantine (350 s)")


def test_a_repeat_answer_is_the_same_binding_not_a_fresh_one() -> None:
    pool = SyntheticPool("p", NET, quarantine_s=Q)
    first = pool.allocate("App.Example.", 0)
    assert first == Allocated(IPv4Address("10.254.0.1"), "app.example", "p", True)
    assert pool.allocate("app.example", 5) == Allocated(first.addr, "app.example", "p", False)


def test_a_flow_to_a_bound_address_is_held_a_stray_one_is_not() -> None:
    pools = PoolSet({"p": NET}, quarantine_s=Q)
    addr = given(pools.allocate("p", "a.example", 0))
    assert pools.flow_started(addr, 1) is True
    assert pools.pools["p"].flow_started(addr, 1) is True
    assert pools.flow_started(IPv4Address("10.254.0.6"), 1) is False


def test_an_end_without_a_flow_changes_nothing() -> None:
    # A duplicate or stray end (e.g. after a restart) must not restart or cut quarantine.
    pool = SyntheticPool("p", NET, quarantine_s=Q)
    addr = given(pool.allocate("a.example", 0))
    pool.flow_ended(addr, 300)
    assert pool.is_held(addr, Q - 1)
    assert not pool.is_held(addr, Q)


def test_binding_the_next_fresh_address_from_outside_uses_it_up() -> None:
    # Cluster replay binds addresses a peer handed out; the next one counts as given.
    pool = SyntheticPool("p", NET, quarantine_s=Q)
    pool.bind("peer.example", int(IPv4Address("10.254.0.1")), 0)
    assert pool.stats() == PoolStats(size=6, bound=1, held=0, free=5)
    assert given(pool.allocate("mine.example", 0)) == IPv4Address("10.254.0.2")


def test_restore_keeps_the_quarantine_and_rejects_other_versions() -> None:
    pool = SyntheticPool("p", NET, quarantine_s=100)
    addr = given(pool.allocate("a.example", 0))
    twin = SyntheticPool.restore(pool.snapshot())
    assert twin.is_held(addr, 99)
    assert not twin.is_held(addr, 100)
    with pytest.raises(ValueError, match=r"^pool snapshot version 2 is not 1$"):
        SyntheticPool.restore({**pool.snapshot(), "version": 2})


def test_membership_is_an_address_inside_the_network() -> None:
    pool = SyntheticPool("p", NET)
    assert IPv4Address("10.254.0.3") in pool
    assert IPv4Address("10.254.0.9") not in pool
    assert "10.254.0.3" not in pool  # only addresses are members


OVERLAP = {"east": IPv4Network("10.254.0.0/29"), "west": IPv4Network("10.254.0.0/29"),
           "north": IPv4Network("10.253.0.0/29")}


def test_an_address_belongs_to_the_pool_that_binds_it_else_the_first_by_name() -> None:
    pools = PoolSet(OVERLAP, quarantine_s=Q)
    west = given(pools.allocate("west", "w.example", 0))
    assert pools.pool_of(west) == "west"
    assert pools.pool_of(IPv4Address("10.254.0.5")) == "east"  # unbound, in both
    assert pools.pool_of(IPv4Address("10.253.0.5")) == "north"
    assert pools.pool_of(IPv4Address("10.9.9.9")) is None


def test_a_set_of_pools_reclaims_after_quarantine_on_its_clock() -> None:
    pools = PoolSet({"p": IPv4Network("10.254.0.0/30")}, quarantine_s=Q)
    first = given(pools.allocate("p", "a.example", 0))
    given(pools.allocate("p", "b.example", 100))
    assert isinstance(pools.allocate("p", "c.example", Q - 1), Exhausted)
    assert given(pools.allocate("p", "c.example", Q)) == first  # a's quarantine is over


def test_peek_predicts_the_allocation_even_when_a_snapshot_next_trails_its_bindings() -> None:
    # A snapshot is a plain dict (a state file): its `next` may lag behind bindings it
    # lists. The cluster's dry run asks `peek`; it must name what `allocate` then gives.
    pool = SyntheticPool.restore({
        "version": 1, "name": "p", "network": "10.254.0.0/29", "quarantine_s": Q,
        "next": int(IPv4Address("10.254.0.1")), "idle": [],
        "busy": [["a.example", int(IPv4Address("10.254.0.1")), 1],
                 ["b.example", int(IPv4Address("10.254.0.3")), 1]]})
    assert pool.peek(0) == int(IPv4Address("10.254.0.2"))
    assert given(pool.allocate("c.example", 0)) == IPv4Address("10.254.0.2")
    full = SyntheticPool.restore({**pool.snapshot(), "next": int(IPv4Address("10.254.0.4")),
                                  "busy": [[f"n{i}.example", int(IPv4Address(f"10.254.0.{i}")), 1]
                                           for i in range(1, 7)]})
    assert full.peek(0) is None  # every address bound, each with a live flow
