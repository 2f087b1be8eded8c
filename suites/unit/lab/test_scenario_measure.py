"""The scenario measurement on hand-written timelines: every expected number below is
worked out by hand from the timestamps (see each test's comment), not taken from the
code's output."""

from __future__ import annotations

import pytest

from lab.scenario.measure import Arrival, Attempt, Played, measure, measure_fault, verdicts
from lab.scenario.model import Expect, Fault, Scenario, Traffic
from lab.scenario.moves import Move, moved
from lab.scenario.profiles import GWLB

pytestmark = pytest.mark.unit
CC1, EDGE = "10.10.3.31", "198.19.1.1"


def ok(method: str, t0: float, t1: float | None = None) -> Attempt:
    return Attempt(method, 0, t0, t0 + 0.01 if t1 is None else t1, True, "200")


def lost(method: str, t0: float, t1: float, detail: str = "timeout") -> Attempt:
    return Attempt(method, 0, t0, t1, False, detail)


def fault(kind: str = "connector_kill", index: int = 0, **expect: object) -> Fault:
    return Fault(index, kind, 0.0, ("cc1",), 6.0, (), Expect(**expect))  # type: ignore[arg-type]


KILL_ATTEMPTS = [
    ok("direct", 99.0), lost("direct", 100.0, 101.0), lost("direct", 100.5, 101.5),
    lost("direct", 101.0, 102.0), ok("direct", 101.5, 101.6), ok("direct", 102.0),
    ok("zia", 99.0), lost("zia", 100.25, 100.3, "reset"), ok("zia", 100.75, 100.8),
]


def test_a_kill_detected_late_lost_three_direct_flows_and_one_reset_zia_flow() -> None:
    # applied at 100; detect event 102.9 (one at 99.5, before the fault, does not count):
    # 2.9 s. direct: three failures, the first success after the last one ends 101.6:
    # 1.6 s; zia: one reset, back at 100.8: 0.8 s; overall the worst, 1.6 s. Undone at
    # 106, healthy again at 107.5 (an event at 105, before the undo, does not count): 1.5 s.
    played = Played(fault(), 100.0, 106.0, detected=(99.5, 102.9), back=(105.0, 107.5))
    r = measure_fault(played, 110.0, 97.0, KILL_ATTEMPTS, [], ("direct", "zia"), GWLB)
    assert (r.start_s, r.undone_s, r.detect_s, r.detect_by) == (3.0, 9.0, 2.9, "event")
    assert dict(r.lost) == {"direct": 3, "zia": 1}
    assert dict(r.reset) == {"direct": 0, "zia": 1}
    assert dict(r.recover) == {"direct": 1.6, "zia": 0.8}
    assert dict(r.slowest) == {"direct": 0.1, "zia": 0.05}  # 101.5-101.6, 100.75-100.8
    assert (r.recover_s, r.back_s, r.leaks) == (1.6, 1.5, 0)
    assert dict(r.fail) == {"direct": "n/a", "zia": "n/a"}, "a kill is not a ZIA outage"


def test_each_bound_is_checked_and_can_fail() -> None:
    played = Played(fault(), 100.0, 106.0, detected=(102.9,), back=(107.5,))
    r = measure_fault(played, 110.0, 97.0, KILL_ATTEMPTS, [], ("direct", "zia"), GWLB)
    held = fault(detect_s=3.0, recover_s=1.6, lost=(("direct", 3), ("zia", 1)),
                 recover=(("zia", 1.0),))
    assert all(v.ok for v in verdicts(held, r)), verdicts(held, r)
    broken = fault(detect_s=2.5, recover_s=1.5, lost=(("direct", 2),), recover=(("zia", 0.5),))
    assert {v.check: v.ok for v in verdicts(broken, r)} == {
        "detect_s": False, "recover_s": False, "recover.zia": False, "lost.direct": False,
        "leaks": True}


def test_a_method_that_never_succeeds_again_has_not_recovered() -> None:
    attempts = [ok("direct", 99.0), lost("direct", 100.5, 101.5), ok("direct", 101.0, 101.1),
                lost("direct", 102.0, 103.0)]
    r = measure_fault(Played(fault(), 100.0, None, (101.0,)), 104.0, 99.0, attempts, [],
                      ("direct",), GWLB)
    assert r.recover_s is None
    [v] = [v for v in verdicts(fault(recover_s=60.0), r) if v.check == "recover_s"]
    assert (v.measured, v.ok) == ("never", False)


def test_a_fault_with_no_event_is_detected_by_the_first_failed_flow() -> None:
    # dns_upstream_down at 50: failures end at 51.2 and 51.0: detected at 51.0 -> 1.0 s.
    attempts = [ok("dns", 49.0), lost("dns", 50.2, 51.2), lost("dns", 50.0, 51.0)]
    played = Played(fault("dns_upstream_down"), 50.0, 55.0, has_detect_event=False)
    r = measure_fault(played, 60.0, 48.0, attempts, [], ("dns",), GWLB)
    assert (r.detect_s, r.detect_by) == (1.0, "flows")


def test_a_zia_outage_shows_fail_close_fail_open_and_counts_a_leak() -> None:
    # Both edges blackholed at 200. zia (gateway default, fail-close): its flows fail and
    # none arrives: close. zia_open (fail-open): one arrives Direct from cc1: open, and
    # allowed. A zia flow arriving from cc1 would be a leak and `open`: shown separately.
    outage = Fault(0, "zia_blackhole", 0.0, ("zia1", "zia2"), 6.0)
    attempts = [lost("zia", 201.0, 202.0), ok("zia_open", 201.0), ok("direct", 201.0)]
    arrivals = [Arrival("zia_open", CC1, 201.01), Arrival("direct", CC1, 201.01),
                Arrival("zia", EDGE, 199.0)]  # before the fault: outside its window
    played = Played(outage, 200.0, 206.0, (201.5,))
    methods = ("direct", "zia", "zia_open")
    r = measure_fault(played, 210.0, 197.0, attempts, arrivals, methods, GWLB)
    assert dict(r.fail) == {"direct": "n/a", "zia": "close", "zia_open": "open"}
    assert r.leaks == 0
    leaked = measure_fault(played, 210.0, 197.0, attempts, [*arrivals, Arrival("zia", CC1,
                           203.0)], methods, GWLB)
    assert dict(leaked.fail)["zia"] == "open"
    assert leaked.leaks == 1
    expect = fault("zia_blackhole", fail=(("zia", "close"), ("zia_open", "open")))
    assert {v.check: v.ok for v in verdicts(expect, leaked)} == {
        "fail.zia": False, "fail.zia_open": True, "leaks": False}


def test_two_faults_each_count_only_their_own_window_and_the_baseline_is_checked() -> None:
    # traffic 0..20; fault #0 at 5 (undone 8), #1 at 10 (undone 13). The loss at 6 is #0's,
    # the loss at 11 #1's. Before 5: direct got through twice, zia never: baseline fails.
    scenario = Scenario("two", "", "gwlb", Traffic("gwlb", ("direct", "zia"), 0.5, 20.0), (
        Fault(0, "link_impair", 5.0, ("fabric",), 3.0, (("iface", "eth-edge"),), Expect()),
        Fault(1, "link_impair", 10.0, ("fabric",), 3.0, (("iface", "eth-edge"),), Expect())))
    attempts = [ok("direct", 1.0), ok("direct", 2.0), lost("zia", 3.0, 4.0),
                lost("direct", 6.0, 7.0), ok("direct", 7.5), lost("direct", 11.0, 12.0),
                lost("direct", 11.5, 12.5), ok("direct", 14.0)]
    played = [Played(f, f.at_s, f.at_s + 3.0, has_detect_event=False) for f in scenario.timeline]
    outcome = measure(scenario, GWLB, 0.0, 20.0, played, attempts, [])
    first, second = outcome.faults
    assert dict(first.lost) == {"direct": 1, "zia": 0}
    assert dict(second.lost) == {"direct": 2, "zia": 0}
    assert (first.recover_s, second.recover_s) == (2.51, 4.01)
    assert dict(outcome.baseline_ok) == {"direct": 2, "zia": 0}
    assert {v.check: v.ok for v in outcome.verdicts if v.fault is None} == {
        "baseline.direct": True, "baseline.zia": False, "baseline.leaks": True}
    assert not outcome.passed


def test_a_flow_the_load_balancer_moved_is_counted_apart_from_the_lost() -> None:
    # a ZIA outage applied at 100, undone at 108. direct (port 80): one attempt reset at
    # 109.30-109.31 from local port 40001, and the GWLB logged that flow (40001 -> 80) as
    # rebalanced at 109.305, inside it: moved 1, lost 0, recovered 0 (no other loss).
    # Another reset at 109.50-109.51 from port 40002, whose move was logged at 109.60,
    # after it had ended, and one from port 40003 whose move was to port 8080: both lost,
    # and direct recovers with the next success, ending 109.76: 9.76 s.
    played = Played(fault("zia_blackhole"), 100.0, 108.0)
    moves = (Move(109.305, 40001, 80), Move(109.60, 40002, 80), Move(109.41, 40003, 8080))
    one = [ok("direct", 109.0), Attempt("direct", 1, 109.30, 109.31, False, "reset", 40001)]
    r = measure_fault(played, 118.0, 97.0, one, [], ("direct",), GWLB, moves)
    assert (dict(r.lost), dict(r.moved), dict(r.reset)) == ({"direct": 0}, {"direct": 1},
                                                            {"direct": 1})
    assert dict(r.recover) == {"direct": 0.0}
    late = [*one, Attempt("direct", 2, 109.50, 109.51, False, "reset", 40002),
            Attempt("direct", 3, 109.40, 109.42, False, "reset", 40003),
            ok("direct", 109.75, 109.76)]
    r = measure_fault(played, 118.0, 97.0, late, [], ("direct",), GWLB, moves)
    assert (dict(r.lost), dict(r.moved), dict(r.reset)) == ({"direct": 2}, {"direct": 1},
                                                            {"direct": 3})
    assert dict(r.recover) == {"direct": 9.76}


def test_a_held_flow_moved_between_two_requests_is_counted_moved() -> None:
    # a held connection opened at 101 (local port 40005) carried requests; the GWLB moved
    # it at 104.2 (a packet between two requests), and the request at 104.5-105.5 timed
    # out on it: moved 1, lost 0. Without its opening (since 0: the attempt's own start,
    # 104.5), the move before the attempt is not its: lost 1.
    played = Played(fault("connector_remove"), 103.0, 111.0)
    moves = (Move(104.2, 40005, 80),)
    held = Attempt("held", 7, 104.5, 105.5, False, "timeout", 40005, 101.0)
    r = measure_fault(played, 118.0, 97.0, [held], [], ("held",), GWLB, moves)
    assert (dict(r.lost), dict(r.moved)) == ({"held": 0}, {"held": 1})
    unknown = Attempt("held", 7, 104.5, 105.5, False, "timeout", 40005)
    r = measure_fault(played, 118.0, 97.0, [unknown], [], ("held",), GWLB, moves)
    assert (dict(r.lost), dict(r.moved)) == ({"held": 1}, {"held": 0})


def test_an_attempt_without_a_local_port_is_never_taken_for_a_moved_one() -> None:
    assert moved(40001, 80, 1.0, 2.0, [Move(1.5, 40001, 80)])
    assert not moved(0, 80, 1.0, 2.0, [Move(1.5, 0, 80)])
    assert not moved(40001, 80, 1.0, 2.0, [Move(2.01, 40001, 80), Move(0.99, 40001, 80)])
    assert moved(40001, 80, 1.0, 2.0, [Move(1.5, 80, 40001)]), "moved by an answer's packet"
    assert not moved(40001, 80, 1.0, 2.0, [Move(1.5, 40001, 8080), Move(1.5, 8080, 40001)])
