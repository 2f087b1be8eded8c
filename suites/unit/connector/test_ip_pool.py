"""Synthetic pools: stickiness, holds, quarantine, exhaustion, snapshot (spec §6.6, D1, D3)."""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.core.ip_pool import Allocated, Exhausted, SyntheticPool
from connector.core.pools import PoolSet

pytestmark = pytest.mark.unit

Q = 350.0


def small(prefix: str = "10.254.0.0/29") -> SyntheticPool:
    return SyntheticPool("default", IPv4Network(prefix), quarantine_s=Q)


def addr_of(result: Allocated | Exhausted) -> IPv4Address:
    assert isinstance(result, Allocated), result
    return result.addr


def test_D1_same_name_same_address_any_case_or_dot() -> None:  # noqa: N802
    pool = small()
    first = addr_of(pool.allocate("App-A.Corp.Example.", 0))
    assert addr_of(pool.allocate("app-a.corp.example", 500)) == first
    assert pool.lookup_name(first) == "app-a.corp.example"


def test_network_and_broadcast_are_never_given() -> None:
    pool = small("10.254.0.0/30")
    given_out = {addr_of(pool.allocate(f"n{i}.example", 0)) for i in range(2)}
    assert given_out == {IPv4Address("10.254.0.1"), IPv4Address("10.254.0.2")}
    assert isinstance(pool.allocate("n3.example", 0), Exhausted)


def test_D3_exhausted_when_every_address_is_in_quarantine() -> None:  # noqa: N802
    pool = small("10.254.0.0/30")
    pool.allocate("a.example", 0)
    pool.allocate("b.example", 100)
    result = pool.allocate("c.example", Q - 1)
    assert isinstance(result, Exhausted)
    assert "quarantine" in result.reason


def test_reclaim_takes_least_recently_used_after_quarantine() -> None:
    pool = small("10.254.0.0/30")
    a = addr_of(pool.allocate("a.example", 0))
    addr_of(pool.allocate("b.example", 10))
    reused = pool.allocate("c.example", Q + 5)
    assert addr_of(reused) == a
    assert reused.fresh
    assert pool.address_of("a.example") is None
    assert pool.lookup_name(a) == "c.example"


def test_D3_address_with_live_flows_is_never_reused() -> None:  # noqa: N802
    pool = small("10.254.0.0/30")
    a = addr_of(pool.allocate("a.example", 0))
    pool.allocate("b.example", 0)
    pool.flow_started(a, 1)
    result = pool.allocate("c.example", 10 * Q)
    assert addr_of(result) != a  # b is past quarantine, a is held
    assert isinstance(pool.allocate("d.example", 10 * Q), Exhausted)


def test_quarantine_restarts_when_the_last_flow_ends() -> None:
    pool = small("10.254.0.0/30")
    a = addr_of(pool.allocate("a.example", 0))
    pool.allocate("b.example", 0)
    pool.flow_started(a, 1)
    pool.flow_started(a, 2)
    pool.flow_ended(a, 1000)
    assert pool.is_held(a, 5000)  # one flow still live
    pool.flow_ended(a, 5000)
    assert pool.is_held(a, 5000 + Q - 1)
    assert not pool.is_held(a, 5000 + Q)


def test_bound_addresses_are_exactly_the_live_mappings() -> None:
    """What fills the kernel's live set: every bound address, and a reclaimed address once."""
    pool = small("10.254.0.0/30")
    a = addr_of(pool.allocate("a.example", 0))
    b = addr_of(pool.allocate("b.example", 10))
    assert sorted(pool.bound_addresses()) == [int(a), int(b)]
    assert addr_of(pool.allocate("c.example", Q + 5)) == a  # a reclaimed for c
    assert sorted(pool.bound_addresses()) == [int(a), int(b)]
    assert small().bound_addresses() == []


def test_stray_address_cannot_be_held() -> None:
    pool = small()
    assert pool.flow_started(IPv4Address("10.254.0.5"), 0) is False
    assert not pool.has_live_mapping(IPv4Address("10.254.0.5"))


def test_answers_carry_only_pool_addresses() -> None:
    pool = small("10.254.0.0/19")
    answers = [addr_of(pool.allocate(f"h{i}.corp.example", 0)) for i in range(50)]
    assert all(a in IPv4Network("10.254.0.0/19") for a in answers)


def test_poolset_overlapping_pools_keep_separate_maps() -> None:
    pools = PoolSet({"east": IPv4Network("10.254.0.0/29"), "west": IPv4Network("10.254.0.0/29")})
    east = addr_of(pools.allocate("east", "a.example", 0))
    west = addr_of(pools.allocate("west", "b.example", 0))
    assert east == west  # same first address, different names, different pools
    assert pools.names_for(east) == {"a.example", "b.example"}


def test_poolset_snapshot_is_json_and_restores() -> None:
    pools = PoolSet({"default": IPv4Network("10.254.0.0/19")})
    addr = addr_of(pools.allocate("default", "a.example", 0))
    pools.flow_started(addr, 1)
    restored = PoolSet.restore(json.loads(json.dumps(pools.snapshot())))
    assert restored.names_for(addr) == {"a.example"}
    assert restored.pools["default"].is_held(addr, 10 * Q)


# -- properties --------------------------------------------------------------------
NAMES = [f"n{i}.example" for i in range(10)]
ops = st.lists(st.tuples(st.sampled_from(["alloc", "start", "end"]), st.sampled_from(NAMES),
                         st.floats(0, 200)), max_size=60)


def run(pool: SyntheticPool, steps: list[tuple[str, str, float]], clock: float,
        flows: dict[IPv4Address, int]) -> tuple[float, list[object]]:
    """Apply steps; check invariants after each; return the clock and the results."""
    results: list[object] = []
    last_use: dict[IPv4Address, float] = {}
    for op, name, dt in steps:
        clock += dt
        addr = pool.address_of(name)
        if op == "alloc":
            result = pool.allocate(name, clock)
            results.append(result)
            if isinstance(result, Allocated) and result.fresh:
                assert flows.get(result.addr, 0) == 0, "gave an address with live flows"
                if result.addr in last_use:
                    assert clock - last_use[result.addr] >= Q, "quarantine broken"
            if isinstance(result, Allocated):
                last_use[result.addr] = clock
        elif op == "start" and addr is not None:
            pool.flow_started(addr, clock)
            flows[addr] = flows.get(addr, 0) + 1
        elif op == "end" and addr is not None and flows.get(addr):
            pool.flow_ended(addr, clock)
            flows[addr] -= 1
            last_use[addr] = clock
        bound = [pool.address_of(n) for n in NAMES]
        live = [a for a in bound if a is not None]
        assert len(live) == len(set(live)), "one address bound to two names"
    return clock, results


@settings(max_examples=300, deadline=None)
@given(ops)
def test_no_double_binding_quarantine_and_exhaustion_hold(steps: list) -> None:
    run(small("10.254.0.0/29"), steps, 0.0, {})


@settings(max_examples=200, deadline=None)
@given(ops, ops)
def test_snapshot_restore_behaves_identically(before: list, after: list) -> None:
    pool = small("10.254.0.0/29")
    flows: dict[IPv4Address, int] = {}
    clock, _ = run(pool, before, 0.0, flows)
    twin = SyntheticPool.restore(json.loads(json.dumps(pool.snapshot())))
    _, original = run(pool, after, clock, dict(flows))
    _, restored = run(twin, after, clock, dict(flows))
    assert original == restored
