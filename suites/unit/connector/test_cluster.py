"""Two connectors in memory agreeing on bindings through the shared log (D1, F9)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.core.cluster import REFRESH_S, BindingLog, ClusterMember, LogEntry
from connector.core.ip_pool import Allocated, Exhausted

pytestmark = pytest.mark.unit

NETS = {"default": IPv4Network("10.254.0.0/29")}
Q = 350.0


def pair() -> tuple[ClusterMember, ClusterMember]:
    log = BindingLog()
    return ClusterMember("cc1", log, NETS), ClusterMember("cc2", log, NETS)


def addr(result: Allocated | Exhausted) -> IPv4Address:
    assert isinstance(result, Allocated), result
    return result.addr


def test_D1_answer_on_one_member_flow_on_the_other() -> None:  # noqa: N802
    a, b = pair()
    given_by_a = addr(a.allocate("default", "app-a.corp.example", 0))
    assert b.names_for(given_by_a) == {"app-a.corp.example"}
    assert b.flow_started(given_by_a, 1)


def test_D1_same_name_same_address_on_both() -> None:  # noqa: N802
    a, b = pair()
    first = addr(a.allocate("default", "x.example", 0))
    assert first == addr(b.allocate("default", "X.example.", 1))


def test_different_names_never_share_an_address() -> None:
    a, b = pair()
    first = addr(a.allocate("default", "x.example", 0))
    assert first != addr(b.allocate("default", "y.example", 0))


def test_a_hold_on_one_member_blocks_reclaim_on_the_other() -> None:
    log = BindingLog()
    a = ClusterMember("cc1", log, {"p": IPv4Network("10.254.0.0/30")})
    b = ClusterMember("cc2", log, {"p": IPv4Network("10.254.0.0/30")})
    x = addr(a.allocate("p", "x.example", 0))
    a.allocate("p", "y.example", 0)
    assert b.flow_started(x, 1)
    result = a.allocate("p", "z.example", 10 * Q)
    assert addr(result) != x
    assert isinstance(a.allocate("p", "w.example", 10 * Q), Exhausted)
    b.flow_ended(x, 20 * Q)
    assert addr(a.allocate("p", "w.example", 20 * Q + 1)) == addr(result)  # z's, not x's
    assert isinstance(a.allocate("p", "v.example", 21 * Q), Exhausted)  # x in quarantine
    assert addr(a.allocate("p", "v.example", 21 * Q + REFRESH_S)) == x


def test_a_repeat_answer_restarts_quarantine_everywhere() -> None:
    log = BindingLog()
    a = ClusterMember("cc1", log, {"p": IPv4Network("10.254.0.0/30")})
    b = ClusterMember("cc2", log, {"p": IPv4Network("10.254.0.0/30")})
    x = addr(a.allocate("p", "x.example", 0))
    b.allocate("p", "y.example", 0)
    a.allocate("p", "x.example", 1000)  # answered again on a
    reclaimed = addr(b.allocate("p", "z.example", 1000 + Q - 1))
    assert reclaimed != x


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0, 1]), st.sampled_from([f"n{i}.ex" for i in range(9)]),
                          st.floats(0, 100)), max_size=40))
def test_members_converge_and_never_double_bind(steps: list[tuple[int, str, float]]) -> None:
    members = pair()
    clock = 0.0
    for who, name, dt in steps:
        clock += dt
        members[who].allocate("default", name, clock)
    for m in members:
        m.sync()
    views = [m.pools.snapshot()["pools"][0] for m in members]
    assert [_bindings(v) for v in views] == [_bindings(views[0])] * 2
    # Repeat answers are logged at most every REFRESH_S: last uses agree within it.
    last = [{addr: t for _n, addr, t in v["idle"]} for v in views]
    assert all(abs(last[0][a] - last[1][a]) <= REFRESH_S for a in last[0])
    bound = [a for a in (members[0].pools.pools["default"].address_of(n)
                         for n in (f"n{i}.ex" for i in range(9))) if a is not None]
    assert len(bound) == len(set(bound))


def _bindings(view: dict) -> tuple:
    return (view["next"], sorted((n, a) for n, a, _ in view["idle"] + view["busy"]))


def test_repeat_answers_are_logged_at_most_every_refresh_interval() -> None:
    log = BindingLog()
    a, _b = ClusterMember("cc1", log, NETS), ClusterMember("cc2", log, NETS)
    for t in range(0, 25):
        a.allocate("default", "x.example", float(t))
    assert [e.at for e in log.since(0)] == [0.0, 10.0, 20.0]


def test_D1_members_sharing_a_log_file_agree_and_a_stale_append_is_refused(  # noqa: N802
        tmp_path: Path) -> None:
    from connector.io.binding_log import SqliteBindingLog

    path = tmp_path / "binding-log.sqlite3"
    log_a, log_b = SqliteBindingLog(path), SqliteBindingLog(path)  # two processes' handles
    a, b = ClusterMember("cc1", log_a, NETS), ClusterMember("cc2", log_b, NETS)
    given_by_a = addr(a.allocate("default", "app-a.corp.example", 0))
    assert b.has_live_mapping(given_by_a)  # b catches up on its own
    assert b.names_for(given_by_a) == {"app-a.corp.example"}
    given_by_b = addr(b.allocate("default", "app-b.corp.example", 1))
    assert given_by_b != given_by_a
    assert a.names_for(given_by_b) == {"app-b.corp.example"}
    stale = LogEntry("BIND", "cc1", "default", "late.example", int(given_by_b), 2)
    assert not log_a.append_at(1, stale)
    assert len(log_a) == len(log_b) == 2
    restarted = ClusterMember("cc1", SqliteBindingLog(path), NETS)
    restarted.sync()
    assert restarted.names_for(given_by_a) == {"app-a.corp.example"}


def named_pair() -> tuple[ClusterMember, ClusterMember]:
    from connector.core.bindings import NameBindings
    log = BindingLog()
    return (ClusterMember("cc1", log, NETS, names=NameBindings()),
            ClusterMember("cc2", log, NETS, names=NameBindings()))


def test_F9_a_name_learned_on_one_member_is_known_on_the_other() -> None:  # noqa: N802
    """The DNS answer passed through cc1; the flow lands on cc2, which has never seen
    the answer: its forwarding core must still find the name (spec §10 F9)."""
    a, b = named_pair()
    web = IPv4Address("198.18.10.10")
    assert b.names_for(web) == frozenset()
    a.names.learn(web, "echo.web.example", 60, 100.0)  # type: ignore[union-attr]
    a.learned(web, "Echo.Web.Example.", 100.0 + 60 + 60, 100.0)
    assert b.names_for(web) == {"echo.web.example"}
    assert a.names_for(web) == {"echo.web.example"}
    assert b.names_for(IPv4Address("198.18.10.11")) == frozenset()


def test_F9_a_repeated_answer_is_logged_once_per_refresh(tmp_path: Path) -> None:  # noqa: N802
    a, b = named_pair()
    web = IPv4Address("198.18.10.10")
    for n in range(20):
        a.learned(web, "echo.web.example", 500.0 + n, 100.0 + n * 0.1)
    assert [e.op for e in a.log.since(0)] == ["LEARN"]  # type: ignore[attr-defined]
    a.learned(web, "echo.web.example", 600.0, 100.0 + REFRESH_S)
    assert [e.op for e in a.log.since(0)] == ["LEARN", "LEARN"]  # type: ignore[attr-defined]
    b.sync()
    assert b.names_for(web) == {"echo.web.example"}


def test_F9_peers_are_told_of_every_entry_they_apply() -> None:  # noqa: N802
    from connector.core.bindings import NameBindings
    log = BindingLog()
    applied: list[LogEntry] = []
    a = ClusterMember("cc1", log, NETS, names=NameBindings())
    b = ClusterMember("cc2", log, NETS, names=NameBindings(), on_apply=applied.append)
    given_by_a = addr(a.allocate("default", "app-a.corp.example", 0))
    a.learned(IPv4Address("198.18.10.10"), "echo.web.example", 200.0, 0)
    b.sync()
    assert [(e.op, e.addr) for e in applied] == [
        ("BIND", int(given_by_a)), ("LEARN", int(IPv4Address("198.18.10.10")))]


def test_a_stale_append_is_refused_and_leaves_the_log_as_it_was() -> None:
    log = BindingLog()
    first = LogEntry("BIND", "cc1", "default", "x.example", int(IPv4Address("10.254.0.1")), 0)
    late = LogEntry("BIND", "cc2", "default", "y.example", int(IPv4Address("10.254.0.1")), 0)
    assert log.append_at(0, first)
    assert log.append_at(0, late) is False  # cc2 had not seen `first`: it must catch up
    assert log.since(0) == [first]


def test_the_log_says_who_did_what_to_which_address_and_when() -> None:
    """BIND (pool, name, address), HOLD / RELEASE (member, address: its first flow on
    that member starts, its last ends), LEARN (name, address, expiry): module docstring."""
    a, b = named_pair()
    x = addr(a.allocate("default", "x.example", 0))
    assert b.flow_started(IPv4Address("10.254.0.6"), 4) is False  # stray: no binding
    assert b.flow_started(x, 5)
    assert b.flow_started(x, 6)
    b.flow_ended(x, 7)
    b.flow_ended(x, 8)
    b.flow_ended(x, 9)  # an end with no flow left (a duplicate): nothing to log
    web = IPv4Address("198.18.10.10")
    a.learned(web, "Echo.Web.Example.", 500.0, 10)
    assert b.names_for(web) == {"echo.web.example"}
    assert b.flow_started(web, 11) is False  # a real address: nothing to hold in a pool
    assert a.log.since(0) == [
        LogEntry("BIND", "cc1", "default", "x.example", int(x), 0),
        LogEntry("HOLD", "cc2", "default", "", int(x), 5),
        LogEntry("RELEASE", "cc2", "default", "", int(x), 8),
        LogEntry("LEARN", "cc1", "", "echo.web.example", int(web), 500.0)]


def test_F9_names_learned_at_the_same_moment_all_reach_the_peers() -> None:  # noqa: N802
    a, b = named_pair()
    web, cdn = IPv4Address("198.18.10.10"), IPv4Address("198.18.10.20")
    a.learned(web, "echo.web.example", 500.0, 100.0)
    a.learned(cdn, "img.cdn.example", 500.0, 100.0)
    a.learned(cdn, "js.cdn.example", 500.0, 100.0)  # one address, a second name
    assert b.names_for(web) == {"echo.web.example"}
    assert b.names_for(cdn) == {"img.cdn.example", "js.cdn.example"}


def test_answers_say_which_pool_and_whether_the_binding_is_new() -> None:
    log = BindingLog()
    a = ClusterMember("cc1", log, {"p": IPv4Network("10.254.0.0/30")})  # .1 and .2
    b = ClusterMember("cc2", log, {"p": IPv4Network("10.254.0.0/30")})
    x = IPv4Address("10.254.0.1")
    assert a.allocate("p", "x.example", 0) == Allocated(x, "x.example", "p", True)
    assert b.allocate("p", "X.Example.", 1) == Allocated(x, "x.example", "p", False)
    addr(b.allocate("p", "y.example", 1))
    result = b.allocate("p", "Z.Example.", 2)
    assert isinstance(result, Exhausted)
    assert (result.pool, result.name) == ("p", "z.example")
    assert "quarantine" in result.reason


def test_the_refresh_interval_counts_from_the_latest_answer_logged() -> None:
    """A peer's entry may reach the log after a later one (its answer was on the way):
    the interval still runs from the latest answer any member logged."""
    a, b = pair()
    a.allocate("default", "x.example", 100)
    b.allocate("default", "x.example", 95)  # b had not seen a's entry yet
    b.allocate("default", "x.example", 106)  # 6 s after a's answer: a local touch
    assert [e.at for e in a.log.since(0)] == [100, 95]


def test_a_member_catches_up_only_on_what_it_does_not_know() -> None:
    """A member reads the shared log for an address it knows no name or binding for;
    what it knows is answered from its own copy (module docstring)."""
    log = BindingLog()
    applied: list[str] = []
    a = ClusterMember("cc1", log, NETS)
    b = ClusterMember("cc2", log, NETS, on_apply=lambda entry: applied.append(entry.name))
    x = addr(a.allocate("default", "x.example", 0))
    assert b.names_for(x) == {"x.example"}  # unknown here: b catches up
    y = addr(a.allocate("default", "y.example", 0))
    assert b.names_for(x) == {"x.example"}
    assert b.has_live_mapping(x)
    assert b.pool_of(x) == "default"
    outside = IPv4Address("192.0.2.1")  # in no pool, and b keeps no learned names
    assert b.names_for(outside) == frozenset()
    assert b.pool_of(outside) is None
    assert not b.has_live_mapping(outside)
    assert applied == ["x.example"]
    assert b.pool_of(y) == "default"  # unknown here: caught up
    assert b.has_live_mapping(y)
    assert applied == ["x.example", "y.example"]
