"""The fake GWLB's RegisterTargets / DeregisterTargets at run time, in the gwlb lab (netns):
a deregistered connector, still running, drains for the topology's deregistration delay
(4 s, lab/topologies/gwlb.yaml) and gets no new flow; registered again it is `initial`
and gets new flows only once healthy (AWS's rules, docs/decisions.md "The lab's GWLB").

What is asserted is what the GWLB logged (`gwlb.flow` per new flow, the membership
events) and what the web server saw (the Direct flows' SNAT source is the carrying
connector's service address). Every flow sent is first counted arriving."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import allure
import pytest

from lab.api import LabHandle, bring_up
from lab.events import Mark
from lab.scenario.model import Traffic
from lab.scenario.moves import Move, moved
from lab.scenario.probes import Background
from lab.scenario.profiles import GWLB
from suites.fixtures.allure_hooks import attach_json
from suites.fixtures.lab import unique_instance, wait_targets_healthy

pytestmark = pytest.mark.netns
CC1, CC2, WEB = "10.10.3.31", "10.10.3.32", "198.18.10.10"
DELAY_S = 4.0  # the gwlb topology's deregistration-delay


@pytest.fixture(scope="module")
def lab(lab_capable: None) -> Iterator[LabHandle]:
    handle = bring_up("gwlb", instance=unique_instance("pt-gwlbreg"))
    try:
        wait_targets_healthy(handle, "gwlb")
        yield handle
    finally:
        handle.down()


def direct_flows(lab: LabHandle, count: int, tag: str) -> list[str]:
    """`count` new Direct HTTP flows from workload1, one each 50 ms; the source web saw
    for each (every one must have arrived)."""
    mark = lab.mark()
    done = lab.exec("workload1", lab.python, "-m", "lab.traffic.flow_probe", "--interval",
                    "0.05", "--duration", f"{count * 0.05 - 0.01:.2f}", "--timeout", "2",
                    "--flow", f"{tag}=http:{WEB}:80")
    attempts = [json.loads(line) for line in done.stdout.splitlines() if line]
    assert len(attempts) == count
    assert all(a["ok"] for a in attempts), attempts
    seen = [e["src"] for e in lab.events("web", "http.request", after=mark)
            if e["path"].startswith(f"/scn/{tag}/")]
    assert len(seen) == count
    return seen


def new_flows(lab: LabHandle, after: Mark) -> list[dict[str, object]]:
    return [e for e in lab.events("gwlb", "gwlb.flow", after=after)
            if e["dst"] == WEB and not e["rebalanced"]]


def cc2_event(lab: LabHandle, kind: str, after: Mark, timeout: float = 10.0) -> dict[str, object]:
    return lab.wait_event("gwlb", f"gwlb.target_{kind}", lambda e: e["target"] == CC2,
                          after=after, timeout=timeout)


@allure.feature("gwlb")
def test_a_deregistered_connector_drains_gets_no_new_flow_and_then_leaves(
        lab: LabHandle) -> None:
    mark = lab.mark()
    assert lab.gwlb_targets("deregister", (CC2,)) == {CC1: "healthy", CC2: "draining"}
    try:
        left = cc2_event(lab, "deregistered", mark)
        assert left["delay_s"] == DELAY_S
        sources = direct_flows(lab, 16, "out")
        flows = new_flows(lab, mark)
        assert len(flows) == 16  # one gwlb.flow per new flow, each seen at the web server
        assert {e["target"] for e in flows} == {CC1}
        assert set(sources) == {CC1}
        drained = cc2_event(lab, "drained", mark)
        attach_json({"drain_s": drained["ts"] - left["ts"]}, "drain")
        assert DELAY_S - 0.1 <= float(drained["ts"]) - float(left["ts"]) <= DELAY_S + 1.0
        assert lab.gwlb_targets("show") == {CC1: "healthy"}  # cc2 is unused: not a member
    finally:
        lab.gwlb_targets("register", (CC2,))
    wait_targets_healthy(lab, "gwlb")


@contextmanager
def probes_refused(lab: LabHandle, node: str) -> Iterator[None]:
    """`node`'s health port resets the GWLB's probes (as the lb_target_unhealthy fault)."""
    lab.exec(node, "nft", "add table ip t_probe; add chain ip t_probe pin { type filter hook "
             "input priority -10 ; }; add rule ip t_probe pin tcp dport 50000 reject with "
             "tcp reset")
    try:
        yield
    finally:
        lab.exec(node, "nft", "delete table ip t_probe", check=False)


@allure.feature("gwlb")
def test_a_registered_connector_gets_new_flows_only_once_healthy(lab: LabHandle) -> None:
    lab.gwlb_targets("deregister", (CC2,))
    mark = lab.mark()
    with probes_refused(lab, "cc2"):  # cc2 is not healthy while the first flows are sent
        assert lab.gwlb_targets("register", (CC2,)) == {CC1: "healthy", CC2: "initial"}
        cc2_event(lab, "registered", mark)
        early = direct_flows(lab, 12, "early")
        # still initial, or unhealthy if the flows took longer than the GWLB's three
        # refused probes (as AWS, a new target that fails its checks turns unhealthy:
        # seen in a CI on four workers); never healthy
        assert lab.gwlb_targets("show")[CC2] in ("initial", "unhealthy")
    healthy = cc2_event(lab, "healthy", mark)
    assert set(early) == {CC1}
    later = direct_flows(lab, 16, "later")
    on_cc2 = [e for e in new_flows(lab, mark) if e["target"] == CC2]
    assert on_cc2, "no new flow reached the registered connector once healthy"
    assert CC2 in later  # and web saw them from cc2's SNAT address
    assert all(float(e["ts"]) >= float(healthy["ts"]) for e in on_cc2)


NODE_OF = {CC1: "cc1", CC2: "cc2"}
HELD = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
        f"s.bind(('0.0.0.0', 45678)); s.sendto(b'held', ('{WEB}', 7070))")


def held_flow_pick(lab: LabHandle, after: Mark) -> dict[str, object]:
    """Send one datagram of the held UDP flow (same 5-tuple each time); the GWLB's pick
    for it logged after `after`."""
    lab.exec("workload1", lab.python, "-c", HELD)
    return lab.wait_event("gwlb", "gwlb.flow",
                          lambda e: e["proto"] == 17 and e["dst"] == WEB, after=after,
                          timeout=5)


@allure.feature("gwlb")
def test_a_running_flow_whose_target_turns_unhealthy_moves_to_the_healthy_one(
        lab: LabHandle) -> None:
    """Target failover `rebalance` (the vendor's Terraform, spec §3.2): the flow's first
    packet after its target is called unhealthy goes to the other target, and the GWLB
    says so (`gwlb.flow`, rebalanced); its packets before went to the first."""
    first = held_flow_pick(lab, lab.mark())
    assert first["rebalanced"] is False
    was = str(first["target"])
    mark = lab.mark()
    with probes_refused(lab, NODE_OF[was]):
        lab.wait_event("gwlb", "gwlb.target_unhealthy", lambda e: e["target"] == was,
                       after=mark, timeout=10)
        moved = held_flow_pick(lab, mark)
    assert moved["rebalanced"] is True
    assert moved["target"] == ({CC1, CC2} - {was}).pop()
    wait_targets_healthy(lab, "gwlb")


@allure.feature("gwlb")
def test_a_tcp_flow_the_gwlb_moves_breaks_and_its_log_names_the_flow(lab: LabHandle) -> None:
    """Spec §3.1: flows through a connector that turns unhealthy may fail. With rebalance
    (§3.2) the GWLB moves them, and a TCP flow moved to the other connector breaks: that
    one has no state for it and SNATs it to its own address. The scenarios count such a
    loss apart (`lab.scenario.moves`), by the ports in the GWLB's `gwlb.flow` (rebalanced)
    event, so those must be the client's own (its socket's, not the GWLB's reading).

    Held connections (8) carry a request each 0.25 s for 12 s; after 2 s the probes of a
    connector that carries some of them (their SNAT source at the web server) are
    refused; it is called unhealthy 3 probes (about 3 s) later, and its flows move to the
    other connector at their next request and break there, each slot asked every 2 s."""
    mark = lab.mark()
    background = Background(lab, GWLB, Traffic(GWLB.name, ("held",), 0.25, 12.0))
    lab.wait_event("web", "http.request", lambda e: e["path"] == "/scn/held/8",
                   after=mark, timeout=10)  # every slot has carried a request
    carrier = min(e["src"] for e in lab.events("web", "http.request", after=mark)
                  if str(e["path"]).startswith("/scn/held/"))
    with probes_refused(lab, NODE_OF[carrier]):
        unhealthy = lab.wait_event("gwlb", "gwlb.target_unhealthy",
                                   lambda e: e["target"] == carrier, after=mark, timeout=10)
        attempts = background.join()
    rebalanced = [e for e in lab.events("gwlb", "gwlb.flow", after=mark) if e["rebalanced"]]
    other = ({CC1, CC2} - {carrier}).pop()
    # the GWLB changes its view, then logs the change: a move may come a moment before
    assert all(e["target"] == other and e["ts"] > unhealthy["ts"] - 0.5 for e in rebalanced), (
        "a flow logged as moved before its target was unhealthy, or not off it", rebalanced)
    moves = [Move(float(e["ts"]), int(e["sport"]), int(e["dport"])) for e in rebalanced]
    failed = [a for a in attempts if not a.ok]
    attach_json("held attempts", [[a.seq, a.t0, a.t1, a.ok, a.detail, a.sport]
                                  for a in attempts])
    assert {a.sport for a in attempts} - {0}, "the probe gave no local port"
    assert moves, f"{carrier} turned unhealthy but the GWLB moved none of the held flows"
    assert failed, f"{len(moves)} held TCP flows were moved off {carrier} and none broke"
    assert all(moved(a.sport, 80, a.since or a.t0, a.t1, moves) for a in failed), (failed, moves)
    wait_targets_healthy(lab, "gwlb")
