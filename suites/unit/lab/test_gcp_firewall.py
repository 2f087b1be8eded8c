"""GCP VPC firewall rules (`kind: gcp-firewall`): the order and the implied rules Google
documents, judged by the static evaluator and rendered for the fabric.

Expected values are from Google's "VPC firewall rules" overview (docs/cloud-semantics.md,
"GCP"): priority 0..65535, lowest first, 1000 when not written; at equal priority a deny
rule wins over an allow rule; target tags select instances, no target means all; the
implied rules allow all egress and deny all ingress at 65535.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.cloud_rules import port_layers
from lab.model import Topology
from lab.plan import peer_names
from lab.reach.filters import judge_port
from lab.reach.probe import Probe
from lab.schema import parse_topology
from lab.security_groups import render_security_groups
from suites.unit.lab.test_cloud_rules import _problems

pytestmark = pytest.mark.unit

# vm-a is tagged `web`, vm-b is not; both are in one VPC network whose rules are `fw`.
_TOPOLOGY = """
name: t
security_groups:
  fw:
    kind: gcp-firewall
    inbound:
      - {{proto: tcp, ports: 80, from: [10.0.0.0/8], label: web-allow}}
      - {{proto: tcp, ports: 80, from: [10.0.1.66/32], action: deny, label: web-deny-66}}
      - {{priority: 2000, proto: tcp, ports: 80, from: [10.0.1.0/24], action: deny,
         label: web-deny-late}}
      - {{priority: 900, proto: tcp, ports: 22, from: [10.0.0.0/8], targets: [web],
         label: ssh-to-web}}
{outbound}
links:
  - name: l
    subnet: 10.0.1.0/24
    endpoints:
      - {{node: vm-a, ifname: eth0, address: 10.0.1.10, security_groups: [fw]}}
      - {{node: vm-b, ifname: eth0, address: 10.0.1.11, security_groups: [fw]}}
nodes:
  vm-a: {{network_tags: [web]}}
  vm-b: {{}}
"""


def _topology(outbound: str = "") -> Topology:
    return parse_topology(_TOPOLOGY.format(outbound=outbound), source=Path("t.yaml"))


def _verdict(node: str, proto: str, src: str, dst: str, port: int | None,
             direction: str = "in", outbound: str = "") -> tuple[bool, str]:
    topo = _topology(outbound)
    n = topo.node(node)
    (decision,) = judge_port(topo, n, n.interface("eth0"),
                             Probe(proto, src, dst, port), direction)
    return decision.passed, decision.rule


def _written(label: str, priority: int = 1000) -> str:
    return f"VPC firewall fw rule '{label}' (priority {priority})"


def _implied(name: str) -> str:
    return f"VPC firewall fw implied rule '{name}' (priority 65535)"


def test_a_rule_without_a_priority_has_1000_and_a_deny_wins_at_equal_priority() -> None:
    """web-allow is written before web-deny-66, both at 1000: the deny is evaluated first."""
    assert _verdict("vm-b", "tcp", "10.0.1.66", "10.0.1.11", 80) == \
        (False, _written("web-deny-66"))
    assert _verdict("vm-b", "tcp", "10.0.1.67", "10.0.1.11", 80) == \
        (True, _written("web-allow"))


def test_the_lowest_priority_number_is_evaluated_first() -> None:
    """web-deny-late (2000) matches 10.0.1.67 too, but web-allow (1000) decides first."""
    topo = _topology()
    vm = topo.node("vm-b")
    (layer,) = port_layers(topo, vm, vm.interface("eth0"), "in")
    assert [r.label for r in layer.rules] == ["web-deny-66", "web-allow", "web-deny-late",
                                              "implied-deny-ingress"]


def test_a_targeted_rule_applies_only_to_instances_with_its_tag() -> None:
    assert _verdict("vm-a", "tcp", "10.0.1.50", "10.0.1.10", 22) == \
        (True, _written("ssh-to-web", 900))
    assert _verdict("vm-b", "tcp", "10.0.1.50", "10.0.1.11", 22) == \
        (False, _implied("implied-deny-ingress"))


def test_the_implied_rules_deny_ingress_and_allow_egress() -> None:
    assert _verdict("vm-b", "udp", "192.0.2.1", "10.0.1.11", 53) == \
        (False, _implied("implied-deny-ingress"))
    assert _verdict("vm-b", "udp", "10.0.1.11", "192.0.2.1", 53, "out") == \
        (True, _implied("implied-allow-egress"))


def test_an_egress_deny_comes_before_the_implied_allow() -> None:
    outbound = ("    outbound:\n"
                "      - {proto: udp, ports: 53, to: [0.0.0.0/0], action: deny, label: no-dns}")
    assert _verdict("vm-b", "udp", "10.0.1.11", "192.0.2.1", 53, "out", outbound) == (
        False, _written("no-dns"))
    assert _verdict("vm-b", "tcp", "10.0.1.11", "192.0.2.1", 443, "out", outbound) == \
        (True, _implied("implied-allow-egress"))


def test_the_fabric_renders_the_same_order_per_instance() -> None:
    topo = _topology()
    text = render_security_groups(topo, peer_names(topo))
    chains = text.split("  chain ")
    vm_a = next(c for c in chains if c.startswith("in_1 "))
    vm_b = next(c for c in chains if c.startswith("in_2 "))
    assert 'tcp dport 22 return comment "ssh-to-web"' in vm_a
    assert "ssh-to-web" not in vm_b
    deny, allow = vm_b.index("web-deny-66"), vm_b.index('"web-allow"')
    assert deny < allow < vm_b.index("web-deny-late") < vm_b.index("implied-deny-ingress")


def test_priorities_and_targets_are_checked_per_kind() -> None:
    text = """
name: t
security_groups:
  fw:
    kind: gcp-firewall
    inbound: [{priority: 65536, proto: tcp, from: [10.0.0.0/8]}]
  sg:
    inbound: [{proto: tcp, from: [10.0.0.0/8], targets: [web]}]
links:
  - name: l
    subnet: 10.0.1.0/24
    endpoints:
      - {node: h, ifname: eth0, address: 10.0.1.10, security_groups: [fw]}
nodes:
  h: {}
"""
    assert _problems(text) == [
        "security_groups.fw.inbound[0].priority: input should be less than or equal to 65535",
        "security_groups.sg.inbound[0].targets: only GCP firewall rules have target tags",
    ]


def test_a_nic_takes_one_networks_rules_and_a_subnet_none() -> None:
    text = """
name: t
security_groups:
  fw: {kind: gcp-firewall}
  other: {kind: gcp-firewall}
links:
  - name: l
    subnet: 10.0.1.0/24
    security_groups: [fw]
    endpoints:
      - {node: h, ifname: eth0, address: 10.0.1.10, security_groups: [fw, other]}
nodes:
  h: {}
"""
    assert _problems(text) == [
        "links[0].security_groups: GCP firewall rules belong to the NICs, not to a subnet",
        "links[0].endpoints[0].security_groups: an interface takes one VPC network's "
        "firewall rules, alone",
    ]
