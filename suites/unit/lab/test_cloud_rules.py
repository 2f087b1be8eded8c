"""Cloud rule semantics (`lab.cloud_rules`) and how the fabric renders them."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.cloud_rules import acl_rules, port_layers
from lab.errors import TopologyError
from lab.plan import peer_names
from lab.schema import load_topology, parse_topology
from lab.security_groups import fabric_endpoints, render_security_groups
from suites.functional.lab.test_cloud_semantics import TOPOLOGY

pytestmark = pytest.mark.unit


def test_nsg_rules_run_by_priority_then_azure_defaults() -> None:
    topo = load_topology(TOPOLOGY)
    vm = topo.node("vm")
    subnet, nic = port_layers(topo, vm, vm.interface("eth0"), "in")
    assert (subnet.level, nic.level) == ("subnet", "nic")
    assert [r.label for r in nic.rules] == ["deny-a2", "web-from-vnet", "AllowVnetInBound",
                                            "AllowAzureLoadBalancerInBound", "DenyAllInBound"]
    out = port_layers(topo, vm, vm.interface("eth0"), "out")
    assert [layer.level for layer in out] == ["nic", "subnet"]
    assert [r.label for r in out[0].rules] == ["AllowVnetOutBound", "AllowInternetOutBound",
                                               "DenyAllOutBound"]


def test_virtualnetwork_is_widened_only_for_the_subnet_with_the_udr() -> None:
    topo = load_topology(TOPOLOGY)

    def vnet(node: str) -> set[str]:
        n = topo.node(node)
        nic = port_layers(topo, n, n.interfaces[0], "in")[-1]
        rule = next(r for r in nic.rules if r.label == "AllowVnetInBound")
        return {str(p.network) for p in rule.far or ()}

    assert vnet("vm") == {"10.30.0.0/16", "10.99.0.0/24"}
    assert vnet("vm2") == {"10.30.0.0/16"}


def test_a_group_reference_resolves_to_the_members_private_addresses() -> None:
    topo = load_topology(TOPOLOGY)
    srv2 = topo.node("srv2")
    (layer,) = port_layers(topo, srv2, srv2.interfaces[0], "in")
    assert [(str(p.network), p.origin) for p in layer.rules[0].far or ()] == [
        ("10.30.1.11/32", "group:sg-clients (a1/eth0)")]


def test_acl_entries_run_by_number_and_end_with_the_implicit_deny() -> None:
    acl = load_topology(TOPOLOGY).network_acl("acl-d")
    assert [r.entry.number for r in acl_rules(acl, "out")] == [100, 110, 32767]


def test_the_fabric_renders_layers_nacls_and_protocol_numbers() -> None:
    topo = load_topology(TOPOLOGY)
    text = render_security_groups(topo, peer_names(topo))
    assert "chain nacl_out_1 {  # acl-d outbound, link d" in text
    assert ('ip daddr 10.30.1.12/32 tcp dport 1024-65535 counter drop comment '
            '"network ACL acl-d outbound rule 100 \'not to a2\'"') in text
    assert 'ip saddr { 198.51.100.16/32 } return comment "AllowAzureLoadBalancerInBound"' in text
    assert "jump in_" in text
    assert ("fabric", "eth-d") in fabric_endpoints(topo)


def test_protocol_numbers_render_as_l4proto() -> None:
    topo = parse_topology(_ONE_GROUP.format(proto="50"), source=Path("t.yaml"))
    text = render_security_groups(topo, peer_names(topo))
    assert "ip saddr { 10.0.0.0/8 } meta l4proto 50 return" in text


_ONE_GROUP = """
name: t
security_groups:
  g:
    inbound: [{{proto: {proto}, ports: 80, from: [10.0.0.0/8]}}]
links:
  - name: l
    subnet: 10.0.1.0/24
    endpoints:
      - {{node: h, ifname: eth0, address: 10.0.1.10, security_groups: [g]}}
nodes:
  h: {{}}
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(TopologyError) as caught:
        parse_topology(text, source=Path("t.yaml"))
    return [f"{i.path}: {i.message}" for i in caught.value.issues]


def test_bad_cloud_rules_are_reported_together() -> None:
    text = """
name: t
security_groups:
  n:
    kind: nsg
    inbound: [{proto: tcp, from: [group:n]}]
links:
  - name: l
    subnet: 10.0.1.0/24
    network_acl: nope
    endpoints:
      - {node: h, ifname: eth0, address: 10.0.1.10, security_groups: [n]}
nodes:
  h: {routes: [{to: default, via: 10.0.1.10, udr: x}]}
"""
    assert _problems(text) == [
        "security_groups.n.inbound[0].from: a group reference here is not supported",
        "security_groups.n.inbound[0].priority: an NSG rule needs a priority",
    ]


def test_cloud_rule_references_are_checked_once_the_file_is_sound() -> None:
    text = """
name: t
security_groups:
  n: {kind: nsg}
  m: {kind: nsg}
links:
  - name: l
    subnet: 10.0.1.0/24
    network_acl: nope
    security_groups: [n, gone]
    endpoints:
      - {node: h, ifname: eth0, address: 10.0.1.10, security_groups: [n, m]}
nodes:
  h: {routes: [{to: default, via: 10.0.1.10, udr: x}]}
"""
    assert _problems(text) == [
        "tags: an NSG's default rules use the tag 'VirtualNetwork'",
        "tags: an NSG's default rules use the tag 'AzureLoadBalancer'",
        "tags: an NSG's default rules use the tag 'Internet'",
        "links[0].network_acl: unknown network ACL 'nope'",
        "links[0].security_groups[1]: unknown security group 'gone'",
        "links[0].endpoints[0].security_groups: an interface takes one NSG, alone",
        "nodes.h.routes[0].udr: a user-defined route needs `from:`, the subnet it serves",
    ]
