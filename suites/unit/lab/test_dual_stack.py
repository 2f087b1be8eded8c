"""Dual stack: IPv6 subnets, addresses and routes, from the YAML to the plan."""

from __future__ import annotations

from ipaddress import IPv6Interface, IPv6Network
from pathlib import Path

import pytest

from lab.catalog import TOPOLOGY_DIR
from lab.errors import TopologyError
from lab.gateways import render_gateway
from lab.plan import build_plan, node_sysctls
from lab.schema import load_topology, parse_topology
from lab.steps import AddAddress, AddRoute, AddRule

pytestmark = pytest.mark.unit

DUAL = """
name: t
links:
  - name: a
    subnet: 10.0.1.0/24
    subnet6: fd00:0:1::/64
    endpoints:
      - {node: h, ifname: eth0, address: 10.0.1.10, address6: "fd00:0:1::10"}
      - {node: r, ifname: eth-a, address: 10.0.1.1, address6: "fd00:0:1::1/64"}
  - name: b
    subnet: 10.0.2.0/24
    endpoints:
      - {node: r, ifname: eth-b, address: 10.0.2.1}
      - {node: v4, ifname: eth0, address: 10.0.2.2}
nodes:
  h:
    routes: [{to: default, via: 10.0.1.1}, {to: "::/0", via: "fd00:0:1::1"}]
  r:
    role: router
    routes: [{to: "::/0", via: "fd00:0:1::10", from: "fd00:0:1::/64"}]
  v4: {}
"""


@pytest.fixture
def topo():
    return parse_topology(DUAL, source=Path("t.yaml"))


def test_ipv6_subnets_and_addresses_are_typed(topo) -> None:
    assert topo.network("a").subnet6 == IPv6Network("fd00:0:1::/64")
    assert topo.network("b").subnet6 is None
    assert topo.node("h").interface("eth0").address6 == IPv6Interface("fd00:0:1::10/64")
    assert topo.node("r").interface("eth-b").address6 is None
    assert [n.name for n in topo.nodes if n.dual_stack] == ["h", "r"]


def test_ipv6_addresses_are_added_without_dad_and_routes_per_family(topo) -> None:
    plan = build_plan(topo, "x")
    six = [s for s in plan if isinstance(s, AddAddress) and s.address.version == 6]
    assert [(s.ifname, str(s.address)) for s in six] == [("eth0", "fd00:0:1::10/64"),
                                                          ("eth-a", "fd00:0:1::1/64")]
    assert all(s.describe().endswith(" nodad") for s in six)
    routes = [s for s in plan if isinstance(s, AddRoute) and s.to.version == 6]
    assert [(s.ns.split(".")[-1], str(s.via), s.table) for s in routes] == [
        ("h", "fd00:0:1::1", 254), ("r", "fd00:0:1::10", 100)]
    rules = [(s.family, s.priority, s.source) for s in plan
             if isinstance(s, AddRule) and s.ns.endswith(".r")]
    # only IPv6 rules: a source table of one family gets that family's suppress rule
    assert rules == [(6, 1000, None), (6, 2000, IPv6Network("fd00:0:1::/64"))]


def test_only_dual_stack_nodes_turn_ipv6_on(topo) -> None:
    v4 = dict(node_sysctls(topo.node("v4")))
    assert v4["net.ipv6.conf.all.disable_ipv6"] == "1"
    h, r = dict(node_sysctls(topo.node("h"))), dict(node_sysctls(topo.node("r")))
    assert h["net.ipv6.conf.all.disable_ipv6"] == h["net.ipv6.conf.default.disable_ipv6"] == "0"
    assert h["net.ipv6.conf.default.accept_ra"] == h["net.ipv6.conf.default.accept_dad"] == "0"
    assert "net.ipv6.conf.all.forwarding" not in h
    assert r["net.ipv6.conf.all.forwarding"] == "1"


@pytest.mark.parametrize(("change", "path", "fragment"), [
    (("    subnet6: fd00:0:1::/64\n", ""), "links[0].endpoints[0].address6", "no IPv6 subnet"),
    (('"fd00:0:1::10"}', '"fd00:0:9::10"}'), "links[0].endpoints[0].address6",
     "not in subnet6"),
    (('"::/0", via: "fd00:0:1::1"', '"::/0", via: 10.0.1.1'), "nodes.h.routes[1].via",
     "mixes IPv4 and IPv6"),
    (('from: "fd00:0:1::/64"', "from: 10.0.1.0/24"), "nodes.r.routes[0].via",
     "mixes IPv4 and IPv6"),
    (('"fd00:0:1::1/64"', '"fd00:0:1::10/64"'), "links[0].endpoints[1].address6",
     "duplicate address"),
    (('"::/0", via: "fd00:0:1::1"', '"::/0", via: "fd00:0:1::99"'), "nodes.h.routes[1].via",
     "no node owns"),
    (("subnet6: fd00:0:1::/64", "subnet6: fd00:0:1::zz/64"), "links[0].subnet6",
     "not a valid ipv6"),
])
def test_ipv6_mistakes_are_reported_at_their_path(change, path, fragment) -> None:
    text = DUAL.replace(*change)
    assert text != DUAL
    with pytest.raises(TopologyError) as caught:
        parse_topology(text, source=Path("t.yaml"))
    assert any(i.path == path and fragment in i.message for i in caught.value.issues), \
        [(i.path, i.message) for i in caught.value.issues]


def test_egress_only_gateway_passes_out_and_drops_unsolicited_in() -> None:
    topo = load_topology(TOPOLOGY_DIR / "aws-natgw-ipv6-bypass.yaml")
    eigw = topo.node("eigw")
    assert eigw.gateway is not None
    assert eigw.gateway.kind == "egress-only"
    ruleset = render_gateway(topo, eigw.gateway)
    assert "ct state established,related accept" in ruleset
    assert 'iifname "eth-vpc" oifname "eth-inet" counter name outbound accept' in ruleset
    assert 'iifname "eth-inet" counter name unsolicited drop' in ruleset
    assert ruleset.index("established") < ruleset.index("unsolicited drop")


def test_the_variants_differ_only_in_the_workloads_ipv6_route() -> None:
    """Built as variants: the bypass is the secure design plus one route."""
    secure = load_topology(TOPOLOGY_DIR / "aws-natgw-ipv6.yaml")
    bypass = load_topology(TOPOLOGY_DIR / "aws-natgw-ipv6-bypass.yaml")
    added = set(bypass.node("fabric").routes) - set(secure.node("fabric").routes)
    assert [(str(r.to), str(r.source)) for r in added] == [("::/0", "2001:db8:10:1::/64")]
    assert set(secure.node("fabric").routes) < set(bypass.node("fabric").routes)


def test_the_connector_variant_sends_the_workloads_ipv6_to_the_gwlb() -> None:
    """The other secure design, a variant too: the workloads' ::/0 goes to the GWLB
    endpoint (an address on its link), the EIGW stays the management subnet's."""
    secure = load_topology(TOPOLOGY_DIR / "aws-natgw-ipv6.yaml")
    steered = load_topology(TOPOLOGY_DIR / "aws-natgw-ipv6-connector.yaml")
    added = set(steered.node("fabric").routes) - set(secure.node("fabric").routes)
    assert [(str(r.to), str(r.via), str(r.source)) for r in added] == [
        ("::/0", "2001:db8:10:4::10", "2001:db8:10:1::/64")]
    owner = steered.owner_of(next(iter(added)).via)
    assert owner is not None
    assert owner[0].name == "gwlb"
    assert secure.node("gwlb").interfaces[0].address6 is None


def test_the_azure_variants_differ_only_in_the_workloads_ipv6_route() -> None:
    """Azure's pair, built as variants too: the bypass keeps the system route ::/0 to the
    Internet for the workloads' subnet; the secure one overrides it (no route)."""
    secure = load_topology(TOPOLOGY_DIR / "azure-natgw-ipv6.yaml")
    bypass = load_topology(TOPOLOGY_DIR / "azure-natgw-ipv6-bypass.yaml")
    added = set(bypass.node("fabric").routes) - set(secure.node("fabric").routes)
    assert [(str(r.to), str(r.source)) for r in added] == [("::/0", "2001:db8:10:1::/64")]
    assert set(secure.node("fabric").routes) < set(bypass.node("fabric").routes)
    edge = bypass.owner_of(next(iter(added)).via)
    assert edge is not None
    assert edge[0].gateway is not None
    assert edge[0].gateway.kind == "egress-only"
    assert {g.kind for g in bypass.security_groups if g.name == "workloads"} == {"nsg"}


def test_the_gwlb_tests_of_the_ipv6_module_are_collected_on_the_connector_variant() -> None:
    """The IPv6 module's GWLB tests run only where the design sends ::/0 to the GWLB
    (marker `labs`); read from the topology files, that is the connector variant alone,
    so they are never collected nowhere."""
    from suites.functional.cloud.test_ipv6_bypass import GWLB_STEERED

    assert GWLB_STEERED == ["aws-natgw-ipv6-connector"]
