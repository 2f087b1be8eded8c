"""Where a lost flow was seen (lab.scenario.trace): each node's log matched to one attempt
by its 5-tuple or its path, never by a near miss. Expected lines are written by hand."""

from __future__ import annotations

import pytest

from lab.scenario.measure import Attempt, Played, Run, measure
from lab.scenario.model import Expect, Fault, Scenario, Traffic
from lab.scenario.profiles import GWLB
from lab.scenario.trace import trace, worth_tracing

pytestmark = pytest.mark.unit

ZIA = GWLB.method("zia")  # http to 198.18.10.20:80
LOST = Attempt("zia", 3, 108.5, 109.5, False, "timeout", 40000)
FLOW = {"src": "10.10.1.11", "dst": "198.18.10.20", "sport": 40000, "dport": 80}


def test_every_node_on_the_way_is_named_in_the_order_a_packet_meets_it() -> None:
    events = {
        "web2": [{"kind": "http.request", "path": "/scn/zia/31", "src": "198.19.1.2"},
                 {"kind": "http.request", "path": "/scn/zia/3", "src": "198.19.1.1"}],
        "zia1": [{"kind": "zia.transaction", **FLOW, "transport": "udp",
                  "tunnel_src": "10.10.3.31"}],
        "cc1": [{"kind": "flow.new", **FLOW, "sport": 40002, "method": "ZIA"},
                {"kind": "flow.new", **FLOW, "dport": 8080, "method": "ZIA"},
                {"kind": "flow.new", **FLOW, "method": "ZIA", "gateway": "default",
                 "dropped": None}],
        "gwlb": [{"kind": "gwlb.flow", **FLOW, "target": "10.10.3.31"}],
    }
    assert trace(LOST, ZIA, events, 100.0) == (
        "zia#3 8.50 s port 40000 timeout: gwlb to 10.10.3.31; cc1 ZIA default; "
        "zia1 by udp from 10.10.3.31; web2 got its request (from 198.19.1.1)")


def test_a_drop_is_named_and_a_flow_no_log_holds_is_seen_nowhere() -> None:
    dropped = {"cc2": [{"kind": "flow.new", **FLOW, "method": "DROP", "gateway": "default",
                        "dropped": "zia_fail_close"}]}
    assert trace(LOST, ZIA, dropped, 100.0).endswith(
        ": cc2 DROP default, dropped zia_fail_close")
    elsewhere = {"cc2": [{"kind": "flow.new", **FLOW, "dst": "198.18.10.10"}]}
    assert trace(LOST, ZIA, elsewhere, 100.0).endswith("timeout: seen nowhere")


def test_a_dns_attempt_has_no_port_to_follow() -> None:
    query = Attempt("dns", 7, 101.0, 102.0, False, "timeout")
    assert trace(query, GWLB.method("dns"), {}, 100.0) == "dns#7: not traceable (dns)"


def test_only_flows_lost_after_the_fault_was_noticed_are_traced() -> None:
    # Traffic 100-120; fault #0 at 105, #1 at 110, each detected by the flows: the end
    # of its first failed attempt (107.0 and 112.0), so noticed at 7 s and at 12 s.
    scenario = Scenario("t", "", "gwlb", Traffic("gwlb", ("direct", "zia"), 0.5, 20.0), (
        Fault(0, "link_impair", 5.0, ("fabric",), 3.0, (("iface", "eth-edge"),), Expect()),
        Fault(1, "link_impair", 10.0, ("fabric",), 3.0, (("iface", "eth-edge"),), Expect())))
    attempts = [Attempt("direct", 1, 106.0, 107.0, False, "timeout"),  # before noticed
                Attempt("zia", 2, 107.5, 107.6, True, "200"),
                Attempt("zia", 3, 108.5, 109.5, False, "timeout"),    # traced
                Attempt("direct", 4, 111.0, 112.0, False, "timeout"),  # #1, before noticed
                Attempt("direct", 5, 113.5, 114.5, False, "timeout"),  # traced
                Attempt("direct", 6, 115.0, 115.1, True, "200")]
    played = [Played(f, 100.0 + f.at_s, 100.0 + f.at_s + 3.0, has_detect_event=False)
              for f in scenario.timeline]
    run = Run(scenario, measure(scenario, GWLB, 100.0, 120.0, played, attempts, []),
              tuple(attempts), (), 120.0)
    assert [(a.method, a.seq) for a in worth_tracing(run)] == [("zia", 3), ("direct", 5)]
    assert [a.seq for a in worth_tracing(run, limit=1)] == [3]
