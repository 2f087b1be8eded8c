"""A connector leaving the GWLB's group and coming back, measured on a hand-written
timeline: every expected number is counted by hand from the timestamps (see the
comments), and the bounds are AWS's rules (no new flow while out, new flows once
healthy again, held flows kept while draining), not the code's output. Pure."""

from __future__ import annotations

import pytest

from lab.scenario.drain import HeldRequest, Membership, measure_drain
from lab.scenario.measure import Arrival, Attempt, Played, measure_fault, verdicts
from lab.scenario.model import Expect, Fault
from lab.scenario.moves import Move
from lab.scenario.profiles import GWLB

pytestmark = pytest.mark.unit
CC1, CC2 = "10.10.3.31", "10.10.3.32"
# applied 100.0, deregistered 100.2, drained 104.2, registered at 108, healthy at 109.5,
# the window ends 115
FLOWS = ((100.1, CC2),  # before the GWLB deregistered it: allowed
         (101.0, CC1), (103.0, CC1), (108.5, CC1),
         (110.0, CC2), (112.0, CC2), (113.0, CC1))
MEMBERS = Membership(frozenset({CC2}), FLOWS, drained=(104.2,))


def test_a_clean_drain_counts_no_new_flow_out_two_back_and_held_flows_kept() -> None:
    held = [HeldRequest(100.5, 100.6, True), HeldRequest(103.9, 104.0, True),
            HeldRequest(104.1, 104.5, False),  # ended after the drain: not counted
            HeldRequest(99.0, 100.3, False)]  # started before the fault: not counted
    arrivals = [(100.6, CC2), (102.0, CC2), (104.0, CC1), (104.3, CC2), (99.0, CC2)]
    got = measure_drain(MEMBERS, 100.0, 100.2, 108.0, 109.5, 115.0, held, arrivals)
    # out: CC2 flows in [100.2, 109.5): none (100.1 is before); back: 110, 112 -> 2
    assert (got.new_flows_out, got.new_flows_back) == (0, 2)
    # held through CC2 in [100.2, 104.2): 100.6 and 102.0 (104.3 after, 104.0 from CC1)
    assert (got.held_through, got.held_lost) == (2, 0)
    assert got.drain_end_s == 4.0


def test_a_new_flow_out_a_held_loss_and_no_drain_end_are_each_counted() -> None:
    members = Membership(frozenset({CC2}), (*FLOWS, (105.0, CC2), (109.0, CC2)))
    held = [HeldRequest(101.0, 102.0, False)]
    got = measure_drain(members, 100.0, 100.2, 108.0, 109.5, 115.0, held, [])
    # out: 105.0 and 109.0 (before health at 109.5); no drained event: the drain ends
    # at the undo (108), so the loss at 101-102 counts and nothing came through
    assert (got.new_flows_out, got.new_flows_back, got.held_through, got.held_lost) == (
        2, 2, 0, 1)
    assert got.drain_end_s is None


def test_never_healthy_again_means_nothing_back_and_the_verdicts_say_so() -> None:
    fault = Fault(0, "connector_remove", 3.0, ("cc2",), 8.0, (), Expect())
    played = Played(fault, 100.0, 108.0, detected=(100.2,), back=(), membership=MEMBERS)
    attempts = [Attempt("held", 1, 101.0, 101.1, True, "200")]
    arrivals = [Arrival("held", CC2, 101.1)]
    result = measure_fault(played, 115.0, 97.0, attempts, arrivals, ["held"], GWLB)
    assert result.drain is not None
    # no back event: every CC2 flow after 100.2 is "out": 110 and 112
    assert (result.drain.new_flows_out, result.drain.new_flows_back) == (2, 0)
    failed = {v.check for v in verdicts(fault, result) if not v.ok}
    assert failed == {"drain.new_flows_out", "drain.new_flows_back"}


def test_other_kinds_get_no_drain_checks() -> None:
    fault = Fault(0, "connector_kill", 3.0, ("cc1",), 6.0, (), Expect())
    result = measure_fault(Played(fault, 100.0, 106.0, (101.0,)), 110.0, 97.0, [], [],
                           ["direct"], GWLB)
    assert result.drain is None
    assert not [v for v in verdicts(fault, result) if v.check.startswith("drain.")]


def test_a_held_flow_moved_while_its_connector_drained_is_still_lost_there() -> None:
    # A draining target keeps its flows (AWS), so a held request at 102.0-103.0 whose
    # flow (port 40007) the GWLB moved at 102.5 is a drain loss: held_lost 1, though the
    # fault's `lost` counts it apart as moved (lab.scenario.moves).
    fault = Fault(0, "connector_remove", 3.0, ("cc2",), 8.0, (), Expect())
    played = Played(fault, 100.0, 108.0, detected=(100.2,), back=(109.5,), membership=MEMBERS)
    attempts = [Attempt("held", 1, 101.0, 101.1, True, "200", 40007, 100.5),
                Attempt("held", 9, 102.0, 103.0, False, "reset", 40007, 100.5)]
    result = measure_fault(played, 115.0, 97.0, attempts, [Arrival("held", CC2, 101.1)],
                           ["held"], GWLB, [Move(102.5, 40007, 80)])
    assert (dict(result.lost), dict(result.moved)) == ({"held": 0}, {"held": 1})
    assert result.drain is not None
    assert result.drain.held_lost == 1
    assert "drain.held_lost" in {v.check for v in verdicts(fault, result) if not v.ok}
