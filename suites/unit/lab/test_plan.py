"""The planner: pure, deterministic, and everything it makes belongs to the lab."""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path

import pytest

from lab.names import LabNames
from lab.plan import build_plan
from lab.schema import parse_topology
from lab.steps import (
    AddRoute,
    AddRule,
    CreateNamespace,
    CreateVeth,
    SetSysctl,
    StartService,
    WaitReady,
)
from suites.unit.lab.test_schema import GOOD

pytestmark = pytest.mark.unit


@pytest.fixture
def topo():
    return parse_topology(GOOD, source=Path("t.yaml"))


def test_same_topology_same_plan(topo) -> None:
    assert build_plan(topo, "x") == build_plan(topo, "x")


def test_every_step_acts_in_a_namespace_of_the_instance(topo) -> None:
    names = LabNames("x")
    for step in build_plan(topo, "x"):
        ns = getattr(step, "ns", None)
        if ns is not None:
            assert names.owns(ns), step
        if isinstance(step, CreateVeth):
            assert names.owns(step.peer_ns)


def test_namespaces_exist_before_anything_uses_them(topo) -> None:
    created: set[str] = set()
    for step in build_plan(topo, "x"):
        if isinstance(step, CreateNamespace):
            created.add(step.ns)
        elif hasattr(step, "ns"):
            assert step.ns in created, step


def test_routers_forward_and_hosts_do_not(topo) -> None:
    forwarding = {s.ns for s in build_plan(topo, "x")
                  if isinstance(s, SetSysctl) and s.key == "net.ipv4.ip_forward"}
    assert forwarding == {"cclab.x.r"}


def test_source_routes_get_their_own_table_and_rules(topo) -> None:
    steps = [s for s in build_plan(topo, "x") if getattr(s, "ns", "") == "cclab.x.r"]
    routes = [s for s in steps if isinstance(s, AddRoute)]
    rules = [s for s in steps if isinstance(s, AddRule)]
    assert [(r.to, r.table) for r in routes] == [(IPv4Network("0.0.0.0/0"), 100)]
    assert [(r.priority, r.table, r.source, r.suppress_prefixlength) for r in rules] == [
        (1000, 254, None, 0), (2000, 100, IPv4Network("10.0.1.0/24"), None)]


def test_services_start_then_are_waited_for(topo) -> None:
    steps = build_plan(topo, "x")
    kinds = [type(s) for s in steps if isinstance(s, (StartService, WaitReady))]
    assert kinds == [StartService, WaitReady]
    start = next(s for s in steps if isinstance(s, StartService))
    assert start.argv[:3] == ("{python}", "-m", "lab.nodes.web")
    assert "--port" in start.argv


def test_veth_peers_are_unique_in_the_switch(topo) -> None:
    peers = [s.peer for s in build_plan(topo, "x") if isinstance(s, CreateVeth)]
    assert len(peers) == len(set(peers)) == 4
    assert all(len(p) <= 15 for p in peers)
