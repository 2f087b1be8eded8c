"""Scenario YAML -> validated `Scenario`, with every problem collected at once.

Each problem names the file, the path inside it (`timeline[1].nodes[0]`), its line
and a hint, as topology files do (lab.schema, yamlissues). The scenario is checked
against the topology it names: its nodes, their services and interfaces, the
traffic profile's methods. Pure apart from `load_scenario`, which reads the files.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.model import Topology
from lab.scenario.errors import ScenarioFileError
from lab.scenario.kinds import KINDS, KindSpec
from lab.scenario.model import Expect, FailMode, Fault, Scenario, Traffic
from lab.scenario.profiles import PROFILES
from yamlissues import Issue, located, read_mapping

TOP_KEYS = ("name", "description", "topology", "traffic", "timeline")
TRAFFIC_KEYS = ("profile", "methods", "interval_s", "duration_s")
FAULT_KEYS = ("at_s", "fault", "nodes", "hold_s", "params", "expect")
EXPECT_KEYS = ("detect_s", "recover_s", "recover", "lost", "fail", "leaks")
MAX_DURATION_S, TAIL_S = 120.0, 2.0
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
RATE = re.compile(r"^[1-9][0-9]*(kbit|mbit)$")

TopologyLookup = Callable[[str], Topology | None]


def load_scenario(path: str | Path) -> Scenario:
    """The scenario in `path`, its topology loaded from lab/topologies (or a path)."""
    from lab.catalog import topology_path
    from lab.schema import load_topology

    def lookup(name: str) -> Topology | None:
        try:
            return load_topology(topology_path(name))
        except LabError:
            return None

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioFileError([Issue(str(path), "(file)", f"cannot read: {exc.strerror}",
                                       "give a scenario file, e.g. lab/scenarios/*.yaml")]) from exc
    return parse_scenario(text, source=path, topologies=lookup)


def parse_scenario(text: str, *, source: Path, topologies: TopologyLookup) -> Scenario:
    issues: list[Issue] = []
    data = read_mapping(text, issues, what="a scenario", keys=TOP_KEYS)
    scenario = _build(data, issues, topologies, source) if isinstance(data, dict) else None
    if issues or scenario is None:
        raise ScenarioFileError(located(issues, text, str(source)))
    return scenario


class _Check:
    """Collects issues while reading one mapping."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues

    def add(self, path: str, message: str, hint: str = "") -> None:
        self.issues.append(Issue("", path, message, hint))

    def keys(self, data: dict[str, Any], allowed: tuple[str, ...], path: str,
             required: tuple[str, ...] = ()) -> None:
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                self.add(_join(path, str(key)), "unknown key",
                         f"did you mean '{close[0]}'?" if close else f"known: {', '.join(allowed)}")
        for key in required:
            if key not in data:
                self.add(_join(path, key) if path else key, "missing",
                         f"add '{key}:' under {path or 'the top level'}")

    def number(self, value: Any, path: str, low: float, high: float, *,
               integer: bool = False) -> float | None:
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            self.add(path, f"must be {'an integer' if integer else 'a number'}, not {value!r}",
                     f"a value from {low:g} to {high:g}")
            return None
        if not low <= value <= high:
            self.add(path, f"{value:g} is out of range", f"a value from {low:g} to {high:g}")
            return None
        return float(value)

    def mapping(self, value: Any, path: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(path, f"must be a mapping, not {type(value).__name__}")
            return {}
        return value

    def strings(self, value: Any, path: str) -> list[str]:
        if not isinstance(value, list) or not value or \
                not all(isinstance(v, str) for v in value):
            self.add(path, "must be a non-empty list of names", "e.g. [cc1]")
            return []
        return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _build(data: dict[str, Any], issues: list[Issue], topologies: TopologyLookup,
           source: Path) -> Scenario | None:
    check = _Check(issues)
    check.keys(data, TOP_KEYS, "", required=("name", "topology", "traffic", "timeline"))
    name = data.get("name")
    if "name" in data and not (isinstance(name, str) and NAME.match(name)):
        check.add("name", f"{name!r} is not a scenario name",
                  "lower-case letters, digits and '-', e.g. zia-primary-blackhole")
    topology = None
    if isinstance(data.get("topology"), str):
        topology = topologies(data["topology"])
        if topology is None:
            check.add("topology", f"no topology '{data['topology']}' (or it has problems)",
                      "a shipped topology name such as gwlb; `cclab validate` shows its problems")
    elif "topology" in data:
        check.add("topology", "must be a topology name or path", "e.g. gwlb")
    traffic, listed = _traffic(check, data.get("traffic"), data.get("topology"))
    timeline = _timeline(check, data.get("timeline"), topology, listed)
    if issues or traffic is None or topology is None:
        return None
    return Scenario(name=str(name), description=str(data.get("description") or ""),
                    topology=str(data["topology"]), traffic=traffic, timeline=timeline,
                    source=source)


class _Listed:
    """What the traffic section says, as far as it could be read: later checks use it
    even when another part of the section is wrong."""

    def __init__(self, methods: tuple[str, ...] = (), duration: float | None = None) -> None:
        self.methods, self.duration = methods, duration


def _traffic(check: _Check, raw: Any, topology: Any) -> tuple[Traffic | None, _Listed]:
    if raw is None:
        return None, _Listed()
    data = check.mapping(raw, "traffic")
    check.keys(data, TRAFFIC_KEYS, "traffic", required=("methods", "interval_s", "duration_s"))
    profile_name = data.get("profile", topology)
    profile = PROFILES.get(str(profile_name))
    if profile is None:
        check.add("traffic.profile" if "profile" in data else "topology",
                  f"no traffic profile for '{profile_name}'",
                  f"profiles: {', '.join(PROFILES)} (lab/scenario/profiles.py)")
    elif profile.topology != topology:
        check.add("traffic.profile", f"profile '{profile.name}' is for topology "
                  f"'{profile.topology}', not '{topology}'", "name the profile's topology")
    methods = check.strings(data.get("methods"), "traffic.methods") if "methods" in data else []
    for i, method in enumerate(methods):
        if profile is not None and method not in profile.method_names:
            check.add(f"traffic.methods[{i}]", f"the profile has no method '{method}'",
                      f"methods of '{profile.name}': {', '.join(profile.method_names)}")
        if methods.index(method) != i:
            check.add(f"traffic.methods[{i}]", f"'{method}' is named twice", "name it once")
    interval = check.number(data.get("interval_s"), "traffic.interval_s", 0.05, 5.0) \
        if "interval_s" in data else None
    duration = check.number(data.get("duration_s"), "traffic.duration_s", 2.0, MAX_DURATION_S) \
        if "duration_s" in data else None
    listed = _Listed(tuple(methods), duration)
    if profile is None or interval is None or duration is None or not methods:
        return None, listed
    return Traffic(profile.name, tuple(methods), interval, duration), listed


def _timeline(check: _Check, raw: Any, topology: Topology | None,
              traffic: _Listed) -> tuple[Fault, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        check.add("timeline", "must be a non-empty list of faults",
                  "- {at_s: 3, fault: connector_kill, nodes: [cc1], hold_s: 5}")
        return ()
    faults = [f for i, entry in enumerate(raw)
              if (f := _fault(check, entry, i, topology, traffic)) is not None]
    for before, after in zip(faults, faults[1:], strict=False):
        if after.at_s < before.at_s + before.hold_s:
            check.add(f"timeline[{after.index}].at_s", f"starts at {after.at_s:g} s, before "
                      f"fault #{before.index} is undone ({before.at_s + before.hold_s:g} s)",
                      "faults follow one another; start it later")
    for fault, following in zip(faults, [*faults[1:], None], strict=True):
        _recovery_seen(check, fault, following, traffic.duration)
    return tuple(faults)


def _recovery_seen(check: _Check, fault: Fault, following: Fault | None,
                   duration: float | None) -> None:
    """A recovery bound the fault's window outlasts: a flow that recovers inside the bound
    but after the window ends (the next fault's start, or the traffic's end) would be
    measured as never recovering."""
    end = following.at_s if following is not None else duration
    if end is None:
        return
    path = f"timeline[{fault.index}].expect"
    bounds = [("recover_s", fault.expect.recover_s),
              *((f"recover.{m}", b) for m, b in fault.expect.recover)]
    for key, bound in bounds:
        if bound is not None and fault.at_s + bound > end:
            ends = (f"fault #{following.index} starts" if following is not None
                    else "the traffic ends (traffic.duration_s)")
            check.add(f"{path}.{key}", f"a recovery within {bound:g} s (by "
                      f"{fault.at_s + bound:g} s) could not be seen: {ends} at {end:g} s",
                      f"make the window last at least {fault.at_s + bound:g} s, or the "
                      "bound smaller")


def _fault(check: _Check, raw: Any, index: int, topology: Topology | None,
           traffic: _Listed) -> Fault | None:
    path = f"timeline[{index}]"
    data = check.mapping(raw, path)
    if not data:
        return None
    check.keys(data, FAULT_KEYS, path, required=("at_s", "fault", "nodes"))
    kind = KINDS.get(str(data.get("fault")))
    if kind is None and "fault" in data:
        close = difflib.get_close_matches(str(data["fault"]), KINDS, n=1)
        check.add(f"{path}.fault", f"no fault kind '{data['fault']}'",
                  f"did you mean '{close[0]}'?" if close else f"kinds: {', '.join(KINDS)}")
    at = check.number(data.get("at_s"), f"{path}.at_s", 1.0, MAX_DURATION_S) \
        if "at_s" in data else None
    nodes = check.strings(data.get("nodes"), f"{path}.nodes") if "nodes" in data else []
    hold = _hold(check, data, path, kind)
    params = _params(check, data.get("params"), f"{path}.params", kind, nodes, topology)
    if kind is not None and topology is not None:
        _nodes(check, nodes, f"{path}.nodes", kind, topology)
    expect = _expect(check, data.get("expect"), f"{path}.expect", traffic.methods)
    if at is not None and traffic.duration is not None and at + hold > traffic.duration - TAIL_S:
        check.add(f"{path}.at_s", f"ends at {at + hold:g} s, too late to see recovery in "
                  f"{traffic.duration:g} s of traffic",
                  f"end it {TAIL_S:g} s before traffic.duration_s, or lengthen the traffic")
    if kind is None or at is None or not nodes:
        return None
    return Fault(index, kind.name, at, tuple(nodes), hold, params, expect)


def _hold(check: _Check, data: dict[str, Any], path: str, kind: KindSpec | None) -> float:
    if kind is not None and not kind.hold:
        if "hold_s" in data:
            check.add(f"{path}.hold_s", f"{kind.name} ends by itself: no hold_s",
                      "remove hold_s")
        return 0.0
    if "hold_s" not in data:
        if kind is not None:
            check.add(f"{path}.hold_s", "missing", f"how long {kind.name} holds before it is "
                      "undone, e.g. hold_s: 5")
        return 0.0
    return check.number(data["hold_s"], f"{path}.hold_s", 0.5, MAX_DURATION_S) or 0.0


def _nodes(check: _Check, nodes: list[str], path: str, kind: KindSpec,
           topology: Topology) -> None:
    if len(nodes) > kind.max_nodes:
        check.add(path, f"{kind.name} takes at most {kind.max_nodes} node(s)",
                  "one fault entry per node")
    names = [n.name for n in topology.nodes]
    for i, node in enumerate(nodes):
        if node not in names:
            close = difflib.get_close_matches(node, names, n=1)
            check.add(f"{path}[{i}]", f"no node '{node}' in topology '{topology.name}'",
                      f"did you mean '{close[0]}'?" if close else f"nodes: {', '.join(names)}")
        elif kind.service and not any(s.kind == kind.service
                                      for s in topology.node(node).services):
            fit = [n.name for n in topology.nodes
                   if any(s.kind == kind.service for s in n.services)]
            check.add(f"{path}[{i}]", f"{kind.name} needs a node running {kind.service}",
                      f"such nodes: {', '.join(fit) or 'none in this topology'}")


def _params(check: _Check, raw: Any, path: str, kind: KindSpec | None, nodes: list[str],
            topology: Topology | None) -> tuple[tuple[str, str], ...]:
    data = check.mapping(raw, path)
    if kind is None:
        return ()
    check.keys(data, kind.params, path, required=kind.required)
    if "port" in data:
        check.number(data["port"], f"{path}.port", 1, 65535, integer=True)
    if "loss_pct" in data:
        check.number(data["loss_pct"], f"{path}.loss_pct", 1, 100, integer=True)
    if "rate" in data and not (isinstance(data["rate"], str) and RATE.match(data["rate"])):
        check.add(f"{path}.rate", f"{data['rate']!r} is not a rate", "e.g. 512kbit or 2mbit")
    if kind.name == "link_impair" and "rate" not in data and "loss_pct" not in data:
        check.add(path, "link_impair needs rate, loss_pct or both", "e.g. {loss_pct: 30}")
    iface = data.get("iface")
    if iface is not None and topology is not None:
        for node in nodes:
            known = [i.name for n in topology.nodes if n.name == node for i in n.interfaces]
            if known and iface not in known:
                check.add(f"{path}.iface", f"{node} has no interface '{iface}'",
                          f"its interfaces: {', '.join(known)}")
    return tuple((str(k), str(v)) for k, v in data.items() if k in kind.params)


def _expect(check: _Check, raw: Any, path: str, methods: tuple[str, ...]) -> Expect:
    data = check.mapping(raw, path)
    check.keys(data, EXPECT_KEYS, path)
    detect = check.number(data["detect_s"], f"{path}.detect_s", 0, MAX_DURATION_S) \
        if "detect_s" in data else None
    recover = check.number(data["recover_s"], f"{path}.recover_s", 0, MAX_DURATION_S) \
        if "recover_s" in data else None
    leaks = check.number(data.get("leaks", 0), f"{path}.leaks", 0, 10_000, integer=True)
    lost: list[tuple[str, int]] = []
    for method, value in check.mapping(data.get("lost"), f"{path}.lost").items():
        _known_method(check, method, f"{path}.lost", methods)
        bound = check.number(value, f"{path}.lost.{method}", 0, 100_000, integer=True)
        if bound is not None:
            lost.append((str(method), int(bound)))
    recover_each: list[tuple[str, float]] = []
    for method, value in check.mapping(data.get("recover"), f"{path}.recover").items():
        _known_method(check, method, f"{path}.recover", methods)
        limit = check.number(value, f"{path}.recover.{method}", 0, MAX_DURATION_S)
        if limit is not None:
            recover_each.append((str(method), limit))
    fail: list[tuple[str, FailMode]] = []
    for method, value in check.mapping(data.get("fail"), f"{path}.fail").items():
        _known_method(check, method, f"{path}.fail", methods)
        if value == "close" or value == "open":
            fail.append((str(method), value))
        else:
            check.add(f"{path}.fail.{method}", f"{value!r} is not a fail mode",
                      "close (dropped while no ZIA edge answers) or open (Direct)")
    return Expect(detect, recover, tuple(recover_each), tuple(lost), tuple(fail),
                  int(leaks or 0))


def _known_method(check: _Check, method: Any, path: str, methods: tuple[str, ...]) -> None:
    if methods and method not in methods:
        check.add(f"{path}.{method}", f"'{method}' is not one of traffic.methods",
                  f"traffic.methods: {', '.join(methods)}")
