"""A played scenario as text: what a missed bound's message shows. The expected lines are
worked out by hand from the timestamps below, not taken from the code's output."""

from __future__ import annotations

import pytest

from lab.scenario.measure import Attempt, Played, Run, measure
from lab.scenario.model import Expect, Fault, Scenario, Traffic
from lab.scenario.profiles import GWLB
from lab.scenario.results import LATE_SHOWN, failed_after_undo, text

pytestmark = pytest.mark.unit


def attempt(method: str, seq: int, t0: float, t1: float, ok: bool) -> Attempt:
    return Attempt(method, seq, t0, t1, ok, "200" if ok else "timeout")


# Traffic from 100 to 120; fault #0 at 105, undone at 108; fault #1 at 110, undone at 113.
SCENARIO = Scenario("late", "", "gwlb", Traffic("gwlb", ("direct", "zia"), 0.5, 20.0), (
    Fault(0, "link_impair", 5.0, ("fabric",), 3.0, (("iface", "eth-edge"),), Expect()),
    Fault(1, "link_impair", 10.0, ("fabric",), 3.0, (("iface", "eth-edge"),), Expect())))
ATTEMPTS = [
    attempt("direct", 1, 106.0, 107.0, False),   # #0, before its undo: not "after"
    attempt("direct", 2, 107.5, 107.51, True),
    attempt("zia", 3, 108.5, 109.5, False),      # #0, after its undo at 108
    attempt("zia", 4, 109.75, 109.76, True),
    attempt("direct", 5, 111.0, 112.0, False),   # #1, before its undo
    attempt("direct", 6, 113.5, 114.5, False),   # #1, after its undo at 113
    attempt("direct", 7, 115.0, 115.01, True),
]


def run_of(attempts: list[Attempt]) -> Run:
    played = [Played(f, 100.0 + f.at_s, 100.0 + f.at_s + 3.0, has_detect_event=False)
              for f in SCENARIO.timeline]
    outcome = measure(SCENARIO, GWLB, 100.0, 120.0, played, attempts, [])
    return Run(SCENARIO, outcome, tuple(attempts), (), 120.0)


def test_the_failures_after_each_undo_are_listed_with_their_times() -> None:
    assert failed_after_undo(run_of(ATTEMPTS)).splitlines() == [
        "  #0 undone at 8 s; failed after: zia#3 8.50-9.50 s timeout",
        "  #1 undone at 13 s; failed after: direct#6 13.50-14.50 s timeout"]


def test_a_fault_with_no_late_failure_says_none_and_a_long_list_is_cut() -> None:
    quiet = [a for a in ATTEMPTS if a.seq != 3]
    assert failed_after_undo(run_of(quiet)).splitlines()[0] == (
        "  #0 undone at 8 s; failed after: none")
    many = [*ATTEMPTS, *(attempt("direct", 10 + k, 116.0 + k / 10, 117.0, False)
                         for k in range(LATE_SHOWN))]
    line = failed_after_undo(run_of(many)).splitlines()[1]
    assert line.count("direct#") == LATE_SHOWN
    assert line.endswith(" and 1 more"), line  # direct#6 and twelve more: one not shown


def test_the_recovery_is_given_per_method_when_more_than_one_lost_flows() -> None:
    # #0: direct back at 107.51 (2.51 s after 105), zia at 109.76 (4.76 s): both shown.
    # #1: only direct lost; back at 115.01 (5.01 s after 110): no list.
    lines = text(run_of(ATTEMPTS)).splitlines()
    assert "recover 4.76 s (direct 2.51 s, zia 4.76 s), back never" in lines[1]
    assert "recover 5.01 s, back never" in lines[2]
