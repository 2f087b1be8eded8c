"""Play a scenario on a lab and check it as the suite does: its flows seen arriving
where a leak would be seen, every bound of its file met, results attached to Allure,
and no fault left behind."""

from __future__ import annotations

from pathlib import Path

import allure

from lab.api import LabHandle
from lab.events import Mark
from lab.scenario.measure import Run
from lab.scenario.model import Scenario
from lab.scenario.profiles import PROFILES
from lab.scenario.results import failed_after_undo, text, to_json
from lab.scenario.runner import play
from lab.scenario.trace import SEEN_KINDS, trace, worth_tracing
from reports.scenario_timeline import draw
from suites.fixtures.allure_hooks import attach_json, attach_text

# What the connectors said of their ZIA gateways during the run: beside a missed bound,
# it tells a gateway called dead (a late keepalive answer) from a flow lost on the way.
GATEWAY_EVENTS = ("zia.gateway_down", "zia.gateway_up", "zia.transport", "zia.tls_link")
# What a GWLB said of its targets: their health changing one probe apart is when it
# moves flows between connectors (lab/scenario/moves.py).
TARGET_EVENTS = ("gwlb.target_healthy", "gwlb.target_unhealthy", "gwlb.fail_open",
                 "gwlb.target_registered", "gwlb.target_deregistered", "gwlb.target_drained")


def play_and_check(lab: LabHandle, scenario: Scenario, tmp_path: Path) -> None:
    mark = lab.mark()
    run = play(lab, scenario)
    data = to_json(run)
    attach_json(data, f"{scenario.name}.json")
    started = run.ended - scenario.traffic.duration_s  # the clock of the attempts' times
    events = path_events(lab, mark, started)
    attach_json(events, "connectors' ZIA gateway events, load balancers' target events")
    attach_text(text(run), f"{scenario.name} verdicts")
    traced = lost_flows(lab, run, mark)
    attach_text(traced or "none\n", "where each flow lost after detection was seen")
    picture = draw(data, tmp_path / f"{scenario.name}.png")
    allure.attach.file(str(picture), name=f"{scenario.name} timeline",
                       attachment_type=allure.attachment_type.PNG)
    http = [m for m in scenario.traffic.methods if m != "dns"]
    arrived = {a.method for a in run.arrivals}
    assert set(http) <= arrived, f"no flow seen arriving for {set(http) - arrived}"
    failed = [v for v in run.outcome.verdicts if not v.ok]
    assert not failed, ("\n" + text(run) + failed_after_undo(run) + events_text(events)
                        + traced)
    assert left_behind(lab) == {}


def path_events(lab: LabHandle, mark: Mark, started: float
                ) -> dict[str, list[dict[str, object]]]:
    """Each connector's gateway events and each GWLB's target events after `mark`, with
    `at_s`: seconds after `started`, the scenario's start, as the attempts' times are."""
    kinds = {"connector": GATEWAY_EVENTS, "gwlb": TARGET_EVENTS}
    return {node.name: [{**e, "at_s": round(e["ts"] - started, 3)}
                        for kind in kinds[service] for e in lab.events(node.name, kind,
                                                                       after=mark)]
            for node in lab.topology.nodes for service in kinds
            if any(s.kind == service for s in node.services)}


def lost_flows(lab: LabHandle, run: Run, mark: Mark) -> str:
    """Where each flow lost after a fault was noticed was seen (lab.scenario.trace): the
    load balancer's pick, the connector's decision, the edge, the server; or nowhere."""
    attempts = worth_tracing(run)
    if not attempts:
        return ""
    profile = PROFILES[run.scenario.traffic.profile]
    events = {node.name: [e for e in lab.events(node.name, after=mark)
                          if e["kind"] in SEEN_KINDS] for node in lab.topology.nodes}
    return "  lost after detection, where seen:\n" + "".join(
        f"    {trace(a, profile.method(a.method), events, run.outcome.started)}\n"
        for a in attempts)


def events_text(events: dict[str, list[dict[str, object]]]) -> str:
    """The events in a line per node, for a failure's message (the CI log keeps it; the
    Allure attachment may be gone)."""
    def one(e: dict[str, object]) -> str:
        what = " ".join(str(e[k]) for k in ("address", "transport", "state", "target")
                        if k in e)
        kind = str(e["kind"]).removeprefix("zia.").removeprefix("gwlb.")
        return f"{kind} {what} at {e['at_s']} s"
    return "".join(f"  {node}: {', '.join(one(e) for e in sorted(seen, key=lambda e: e['at_s']))}"
                   f"\n" for node, seen in events.items() if seen)


def left_behind(lab: LabHandle) -> dict[str, str]:
    """Any scn_* nft table or tbf qdisc a fault could have left, by node."""
    found = {}
    for node in (n.name for n in lab.topology.nodes):
        tables = lab.exec(node, "nft", "list", "tables").stdout
        qdiscs = lab.exec(node, "tc", "qdisc", "show").stdout
        if "scn_" in tables or "tbf" in qdiscs:
            found[node] = tables + qdiscs
    return found
