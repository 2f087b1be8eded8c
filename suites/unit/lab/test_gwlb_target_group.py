"""The fake GWLB's target group: AWS's target states and where a flow goes, on hand-made
groups. Expected targets come from AWS's documented rules (docs/decisions.md, "The lab's
GWLB": RegisterTargets, DeregisterTargets, deregistration delay, target failover), with
the hash picking by index among the targets that take new flows. Pure."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from lab.nodes.gwlb_control import Request, parse_request
from lab.nodes.target_group import Failover, TargetGroup, choose

pytestmark = pytest.mark.unit
A, B, C = IPv4Address("10.0.0.1"), IPv4Address("10.0.0.2"), IPv4Address("10.0.0.3")
REBALANCE, STAY = Failover(delay_s=5.0, rebalance=True), Failover(5.0, rebalance=False)


def healthy_group(*targets: IPv4Address, failover: Failover = REBALANCE) -> TargetGroup:
    group = TargetGroup(targets, (2, 3), failover)
    for target in targets:
        group.record(target, True)
        group.record(target, True)
    return group


def test_a_registered_target_is_initial_and_gets_new_flows_only_once_healthy() -> None:
    group = healthy_group(A)
    assert group.register(B)
    assert group.state(B) == "initial"
    # hashes 0..7 over [A] only: B takes nothing while initial
    assert {group.choose(None, h).target for h in range(8)} == {A}
    group.record(B, True)
    assert group.state(B) == "initial"  # one answer of the two needed
    assert group.record(B, True) == "healthy"
    assert {group.choose(None, h).target for h in range(8)} == {A, B}  # odd hashes: B
    assert group.choose(None, 1).target == B


def test_registering_a_member_again_changes_nothing() -> None:
    group = healthy_group(A)
    assert not group.register(A)
    assert group.state(A) == "healthy"


def test_a_deregistered_target_drains_gets_no_new_flow_and_keeps_its_flows() -> None:
    group = healthy_group(A, B)
    assert group.deregister(B, now=100.0)
    assert group.state(B) == "draining"
    assert {group.choose(None, h).target for h in range(8)} == {A}
    kept = group.choose(B, 1)
    assert (kept.target, kept.new, kept.moved) == (B, False, False)
    assert group.expire(104.9) == []  # the delay is 5 s
    assert group.to_probe() == [A]  # a draining target is not probed for new flows
    assert not group.deregister(B, now=101.0)  # already draining: the end does not move


def test_when_the_drain_ends_the_target_is_unused_and_rebalance_moves_its_flows() -> None:
    group = healthy_group(A, B)
    group.deregister(B, now=100.0)
    assert group.expire(105.0) == [B]
    assert group.state(B) == "unused"
    moved = group.choose(B, 1)
    assert (moved.target, moved.new, moved.moved) == (A, False, True)


def test_with_no_rebalance_a_drained_targets_flows_stay_on_it() -> None:
    group = healthy_group(A, B, failover=STAY)
    group.deregister(B, now=100.0)
    group.expire(105.0)
    assert group.choose(B, 1).target == B
    assert group.choose(None, 1).target == A  # but no new flow


def test_registering_a_draining_target_stops_the_drain_and_starts_it_over() -> None:
    group = healthy_group(A, B)
    group.deregister(B, now=100.0)
    assert group.register(B)
    assert group.state(B) == "initial"
    assert group.expire(200.0) == []
    assert group.choose(B, 1).target == B  # its flows stayed; new ones wait for health
    assert group.choose(None, 1).target == A


def test_an_unhealthy_targets_flows_move_with_rebalance_and_stay_without() -> None:
    states = [(A, "healthy"), (B, "unhealthy")]
    assert choose(states, B, 1, REBALANCE).target == A
    assert choose(states, B, 1, STAY).target == B


def test_with_no_healthy_target_every_registered_one_takes_new_flows_but_not_a_draining_one(
        ) -> None:
    states = [(A, "unhealthy"), (B, "initial"), (C, "draining")]
    picks = {choose(states, None, h, REBALANCE).target for h in range(8)}
    assert picks == {A, B}
    assert choose(states, None, 0, REBALANCE).failing_open
    assert choose(states, A, 1, REBALANCE).target == A  # failing open: A is used as is


def test_with_no_registered_target_a_flow_has_nowhere_to_go() -> None:
    assert choose([(A, "draining")], None, 0, REBALANCE).target is None
    assert choose([], None, 0, REBALANCE).target is None


def test_a_probe_answer_for_a_target_that_left_is_ignored() -> None:
    group = healthy_group(A, B)
    group.deregister(B, now=0.0)
    # three bad answers would turn a member unhealthy (the threshold is 3)
    assert [group.record(B, False) for _ in range(3)] == [None, None, None]
    assert group.state(B) == "draining"
    group.expire(10.0)
    assert [group.record(B, False) for _ in range(3)] == [None, None, None]


def test_a_control_request_names_an_action_and_its_targets() -> None:
    assert parse_request("deregister 10.0.0.2,10.0.0.3\n") == Request("deregister", (B, C))
    assert parse_request("register 10.0.0.1") == Request("register", (A,))
    assert parse_request("show") == Request("show", ())
    for bad, why in (("drop 10.0.0.1", "want one of"), ("register", "needs an address"),
                     ("show 10.0.0.1", "takes no address"), ("register 10.0.0", "octets")):
        with pytest.raises(ValueError, match=why):
            parse_request(bad)
