"""Names learned from DNS answers: TTL + grace, bound size, snapshot (spec §5.2, F9)."""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network

import pytest

from connector.core.bindings import NameBindings, NamesView, names_in
from connector.core.pools import PoolSet

pytestmark = pytest.mark.unit

WEB = IPv4Address("198.18.10.10")


def test_learned_name_expires_after_ttl_and_grace() -> None:
    table = NameBindings(grace_s=60)
    table.learn(WEB, "WWW.Web.Example.", ttl=30, now=0)
    assert table.names_for(WEB) == {"www.web.example"}
    assert table.expire(89) == 0
    assert table.expire(90) == 1
    assert table.names_for(WEB) == frozenset()


def test_several_names_on_one_address_are_all_kept() -> None:
    table = NameBindings()
    table.learn(WEB, "a.example", 60, 0)
    table.learn(WEB, "b.example", 60, 0)
    assert table.names_for(WEB) == {"a.example", "b.example"}


def test_table_is_bounded_least_recently_learned_goes() -> None:
    table = NameBindings(max_entries=2)
    for i in range(3):
        table.learn(IPv4Address(f"198.18.0.{i + 1}"), f"h{i}.example", 60, i)
    assert len(table) == 2
    assert table.names_for(IPv4Address("198.18.0.1")) == frozenset()


def test_snapshot_restore_round_trip() -> None:
    table = NameBindings()
    table.learn(WEB, "www.web.example", 60, 5)
    twin = NameBindings.restore(json.loads(json.dumps(table.snapshot())))
    assert twin.names_for(WEB) == {"www.web.example"}
    assert twin.expire(5 + 60 + 60) == 1


def test_view_joins_learned_and_synthetic_names() -> None:
    pools = PoolSet({"default": IPv4Network("10.254.0.0/19")})
    synthetic = pools.allocate("default", "app-a.corp.example", 0)
    learned = NameBindings()
    learned.learn(WEB, "www.web.example", 60, 0)
    view = NamesView(learned, pools)
    assert view.names_for(synthetic.addr) == {"app-a.corp.example"}  # type: ignore[union-attr]
    assert view.names_for(WEB) == {"www.web.example"}


def test_expire_counts_every_name_it_forgets() -> None:
    table = NameBindings(grace_s=0)
    table.learn(WEB, "a.example", 10, 0)
    table.learn(WEB, "b.example", 10, 0)
    table.learn(IPv4Address("198.18.10.11"), "c.example", 10, 0)
    table.learn(IPv4Address("198.18.10.12"), "d.example", 100, 0)
    assert table.expire(10) == 3
    assert len(table) == 1


def test_a_restored_table_keeps_its_grace_and_its_bound() -> None:
    table = NameBindings(grace_s=5, max_entries=2)
    table.learn(WEB, "www.web.example", 60, 0)
    twin = NameBindings.restore(json.loads(json.dumps(table.snapshot())))
    twin.learn(IPv4Address("198.18.0.1"), "a.example", 10, 100)  # until 100 + 10 + 5
    twin.learn(IPv4Address("198.18.0.2"), "b.example", 10, 100)
    assert len(twin) == 2, "bounded at two addresses, as the table it came from"
    assert twin.names_for(WEB) == frozenset()  # the least recently learned went
    assert twin.expire(114) == 0
    assert twin.expire(115) == 2


def test_entries_from_the_store_join_what_is_known_and_keep_the_later_expiry() -> None:
    """learn_until (state store, cluster peer) adds a name to an address's others, and
    an earlier expiry for a name already known does not shorten it."""
    table = NameBindings()
    table.learn_until(int(WEB), "a.example", 100)
    table.learn_until(int(WEB), "b.example", 50)
    table.learn_until(int(WEB), "a.example", 80)
    assert table.names_for(WEB) == {"a.example", "b.example"}
    assert table.expire(50) == 1
    assert table.expire(99) == 0
    assert table.expire(100) == 1


def test_entries_from_the_store_are_bounded_like_learned_ones() -> None:
    table = NameBindings(max_entries=2)
    addrs = [IPv4Address(f"198.18.0.{i}") for i in (1, 2, 3)]
    for i, addr in enumerate(addrs):
        table.learn_until(int(addr), f"h{i}.example", 100)
    assert [table.names_for(a) for a in addrs] == [frozenset(), {"h1.example"},
                                                  {"h2.example"}]


def test_a_locations_table_is_made_on_first_use_and_the_same_one_found_after() -> None:
    """names_in makes a sub-location's table once: asked again, it gives back the table
    that learned the names, and another location has a table of its own."""
    located: dict[str, NameBindings] = {}
    names_in(located, "loc-a").learn(WEB, "www.web.example", 60, 0)
    assert names_in(located, "loc-a").names_for(WEB) == {"www.web.example"}
    assert names_in(located, "loc-b").names_for(WEB) == frozenset()
    assert located["loc-a"].names_for(WEB) == {"www.web.example"}
