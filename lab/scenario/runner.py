"""Play a scenario on a lab: settle, start the background flows, apply and undo each
fault on time, read what the nodes logged, measure. `run_scenario` also brings the
lab up (or uses a running one by name) and always takes it down if it brought it.

Every applied fault is undone whatever happens (Ctrl-C included); the lab is then
given time to be whole again (every load-balancer target healthy), so that the
next scenario on the same lab starts from the same place.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from lab.api import LabHandle, bring_up
from lab.errors import LabError
from lab.events import Mark
from lab.scenario import faults
from lab.scenario.drain import Membership
from lab.scenario.errors import ScenarioError
from lab.scenario.kinds import EventRule, back_rule, detect_rule, lb_targets, with_service
from lab.scenario.measure import Played, Run, measure
from lab.scenario.model import Fault, Scenario, Traffic
from lab.scenario.moves import Move
from lab.scenario.probes import Background, arrivals
from lab.scenario.profiles import PROFILES, Profile

Say = Callable[[str], None]
SETTLE_S = 40.0


def _quiet(_: str) -> None:
    pass


def _lb_nodes(lab: LabHandle) -> list[tuple[str, list[str]]]:
    return [(n.name, s.option("targets").split(",")) for n in lab.topology.nodes
            for s in n.services if s.kind == "gwlb"]


# a target's newest event of these says whether it takes new flows now
STATE_EVENTS = ("healthy", "unhealthy", "registered", "deregistered", "drained")


def _healthy_now(lab: LabHandle, balancer: str, target: str) -> bool:
    marks = [e for kind in STATE_EVENTS
             for e in lab.events(balancer, f"gwlb.target_{kind}") if e.get("target") == target]
    return bool(marks) and max(marks, key=lambda e: e["ts"])["kind"] == "gwlb.target_healthy"


def settle(lab: LabHandle, profile: Profile, methods: tuple[str, ...], say: Say) -> None:
    """Until every load-balancer target is healthy and one flow of each method got
    through (bounded: SETTLE_S)."""
    deadline = time.monotonic() + SETTLE_S
    for balancer, targets in _lb_nodes(lab):
        while not all(_healthy_now(lab, balancer, t) for t in targets):
            if time.monotonic() > deadline:
                raise ScenarioError(f"{balancer}: targets not all healthy in {SETTLE_S:g} s")
            time.sleep(0.2)
    while True:
        probe = Background(lab, profile, Traffic(profile.name, methods, 0.2, 0.5))
        failing = {a.method for a in probe.join() if not a.ok}
        if not failing:
            return
        if time.monotonic() > deadline:
            raise ScenarioError(f"flows still failing before any fault: {sorted(failing)}")
        say(f"  settling: {', '.join(sorted(failing))} not through yet")
        time.sleep(0.5)


def _times(lab: LabHandle, rule: EventRule | None, after: Mark) -> tuple[float, ...]:
    if rule is None:
        return ()
    return tuple(float(e["ts"]) for node in rule.nodes
                 for e in lab.events(node, rule.kind, after=after) if rule.matches(e))


def _membership(lab: LabHandle, fault: Fault, after: Mark) -> Membership | None:
    """For a fault that takes a target out of the GWLB's group: what the GWLB logged."""
    if fault.kind != "connector_remove":
        return None
    balancers = with_service(lab.topology, "gwlb")
    targets = lb_targets(lab.topology, fault.nodes)
    flows = tuple((float(e["ts"]), str(e["target"])) for b in balancers
                  for e in lab.events(b, "gwlb.flow", after=after) if not e.get("rebalanced"))
    drained = tuple(float(e["ts"]) for b in balancers
                    for e in lab.events(b, "gwlb.target_drained", after=after)
                    if e.get("target") in targets)
    return Membership(targets, flows, drained)


def _moves(lab: LabHandle, after: Mark) -> tuple[Move, ...]:
    """The flows each GWLB logged as moved to another target (`lab.scenario.moves`)."""
    return tuple(Move(float(e["ts"]), int(e.get("sport", 0)), int(e.get("dport", 0)))
                 for b in with_service(lab.topology, "gwlb")
                 for e in lab.events(b, "gwlb.flow", after=after) if e.get("rebalanced"))


def _sleep_until(when: float) -> None:
    time.sleep(max(0.0, when - time.time()))


def play(lab: LabHandle, scenario: Scenario, say: Say = _quiet) -> Run:
    """Play `scenario` on a running lab of its topology; every fault is undone."""
    profile = PROFILES[scenario.traffic.profile]
    settle(lab, profile, scenario.traffic.methods, say)
    mark = lab.mark()
    started = time.time()
    background = Background(lab, profile, scenario.traffic)
    timings: list[tuple[Fault, float, float | None]] = []
    pending: Fault | None = None
    try:
        for fault in scenario.timeline:
            _sleep_until(started + fault.at_s)
            say(f"  {time.time() - started:6.2f} s  apply {fault.label}")
            pending, applied = fault, time.time()
            faults.apply(lab, fault)
            undone = None
            if fault.hold_s:
                _sleep_until(applied + fault.hold_s)
                say(f"  {time.time() - started:6.2f} s  undo  {fault.label}")
                undone = time.time()
                faults.undo(lab, fault)
            pending = None
            timings.append((fault, applied, undone))
    finally:
        if pending is not None:
            say(f"  undo  {pending.label} (cleaning up)")
            faults.undo(lab, pending)
    attempts = background.join()
    ended = started + scenario.traffic.duration_s
    played = [Played(f, applied, undone,
                     _times(lab, detect_rule(f.kind, f.nodes, lab.topology), mark),
                     _times(lab, back_rule(f.kind, f.nodes, lab.topology), mark),
                     detect_rule(f.kind, f.nodes, lab.topology) is not None,
                     _membership(lab, f, mark))
              for f, applied, undone in timings]
    seen = arrivals(lab, profile, scenario.traffic.methods, mark)
    outcome = measure(scenario, profile, started, ended, played, attempts, seen,
                      _moves(lab, mark))
    return Run(scenario, outcome, tuple(attempts), tuple(seen), ended)


def lab_for(scenario: Scenario, *, name: str | None, backend: str,
            say: Say) -> tuple[LabHandle, bool]:
    """The lab to play on: a running one called `name`, or a new one (True: ours)."""
    if name is not None:
        from lab.backends import backend_of
        from lab.catalog import topology_path
        from lab.schema import load_topology

        chosen = backend_of(name)
        try:
            running = bool(chosen.status().get("ready"))
        except LabError:
            running = False
        if running:
            say(f"scenario: using the running lab '{name}'")
            return LabHandle(load_topology(topology_path(scenario.topology)), chosen), False
    instance = name or f"scn-{os.getpid()}"
    say(f"scenario: bringing up {scenario.topology} as '{instance}' ({backend})")
    return bring_up(scenario.topology, instance=instance, backend=backend), True


def run_scenario(scenario: Scenario, *, name: str | None = None, backend: str = "netns",
                 say: Say = _quiet) -> Run:
    lab, ours = lab_for(scenario, name=name, backend=backend, say=say)
    try:
        return play(lab, scenario, say)
    finally:
        if ours:
            say("scenario: taking the lab down")
            lab.down()
