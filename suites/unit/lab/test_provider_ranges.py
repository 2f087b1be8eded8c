"""The internet edge and the provider's own source ranges (GCP): the switch
`drop_provider_ranges` decides, in the ruleset the gateway loads and in the static
evaluator alike (lab.gateways, lab.reach)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lab.catalog import topology_path
from lab.gateways import render_gateway
from lab.model import Topology
from lab.reach import Probe, evaluate
from lab.schema import load_topology

pytestmark = pytest.mark.unit

FORGED = "198.51.100.94"  # in the stand-in for 35.199.192.0/19, held by no node


def _edge(name: str, drop: bool | None = None) -> tuple[Topology, str]:
    topo = load_topology(topology_path(name))
    igw = topo.node("igw")
    assert igw.gateway is not None
    gateway = igw.gateway if drop is None else replace(igw.gateway, drop_provider_ranges=drop)
    nodes = tuple(replace(n, gateway=gateway) if n.name == "igw" else n for n in topo.nodes)
    topo = replace(topo, nodes=nodes)
    return topo, render_gateway(topo, gateway)


def test_the_default_lets_the_ranges_in_and_says_so() -> None:
    _, ruleset = _edge("gcp-no-cloudnat")
    assert "spoofed_provider drop" not in ruleset
    assert "drop_provider_ranges: false" in ruleset


def test_the_switch_drops_every_range_from_the_outside_and_counts() -> None:
    _, ruleset = _edge("gcp-partial-cloudnat")
    assert ('iifname "eth-inet" ip saddr { 198.51.100.32/28, 198.51.100.48/28, '
            '198.51.100.64/27 } counter name spoofed_provider drop') in ruleset


@pytest.mark.parametrize("drop", [False, True])
def test_the_evaluator_follows_the_switch(drop: bool) -> None:
    topo, _ = _edge("gcp-no-cloudnat", drop)
    verdict = evaluate(topo, "attacker", Probe("udp", FORGED, "203.0.113.31", 53))
    assert verdict.reached is not drop
    assert (verdict.node == "cc1") is not drop


def test_aws_and_azure_edges_name_no_provider_range() -> None:
    for name in ("aws-no-natgw", "azure-no-natgw"):
        _, ruleset = _edge(name)
        assert "spoofed_provider" not in ruleset
