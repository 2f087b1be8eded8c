"""IPv6 in security-group and NSG rules: parsed, resolved and rendered per family."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.cloud_rules import group_members, port_layers
from lab.errors import TopologyError
from lab.plan import build_plan, peer_names
from lab.schema import parse_topology
from lab.security_groups import render_security_groups
from lab.steps import SetSysctl

pytestmark = pytest.mark.unit

TOPO = """
name: t
security_groups:
  web:
    inbound:
      - {proto: tcp, ports: 80, from: [10.0.0.0/8], label: v4 only}
      - {proto: tcp, ports: 443, from: ["2001:db8:1::/64", 10.1.0.0/16], label: both}
      - {proto: icmpv6, from: ["::/0"], label: any icmpv6}
      - {proto: tcp, ports: 22, from: ["group:web"], label: members}
    outbound:
      - {proto: all, to: [0.0.0.0/0], label: egress v4}
      - {proto: all, to: ["::/0"], label: egress v6}
links:
  - name: a
    subnet: 10.0.1.0/24
    subnet6: 2001:db8:1::/64
    endpoints:
      - {node: h, ifname: eth0, address: 10.0.1.10, address6: "2001:db8:1::10",
         security_groups: [web]}
      - {node: r, ifname: eth0, address: 10.0.1.1, address6: "2001:db8:1::1"}
nodes:
  h: {}
  r: {role: router}
"""


@pytest.fixture
def ruleset() -> str:
    topo = parse_topology(TOPO, source=Path("t.yaml"))
    return render_security_groups(topo, peer_names(topo))


def test_a_rule_matches_only_the_families_of_its_prefixes(ruleset: str) -> None:
    lines = [line.strip() for line in ruleset.splitlines()]
    assert 'ip saddr { 10.0.0.0/8 } tcp dport 80 return comment "v4 only"' in lines
    assert not any("dport 80" in line and "ip6" in line for line in lines)
    assert 'ip saddr { 10.1.0.0/16 } tcp dport 443 return comment "both"' in lines
    assert 'ip6 saddr { 2001:db8:1::/64 } tcp dport 443 return comment "both"' in lines
    # ::/0 and 0.0.0.0/0 are "any address of my family", not "any packet" (AWS)
    assert 'meta nfproto ipv6 meta l4proto ipv6-icmp return comment "any icmpv6"' in lines
    assert 'meta nfproto ipv4 return comment "egress v4"' in lines
    assert 'meta nfproto ipv6 return comment "egress v6"' in lines


def test_neighbour_discovery_passes_before_any_rule(ruleset: str) -> None:
    forward = ruleset[ruleset.index("chain forward {\n    type filter hook forward priority 0"):]
    nd = forward.index("icmpv6 type { nd-router-solicit")
    assert "nd-neighbor-solicit, nd-neighbor-advert" in forward
    assert nd < forward.index("ct state invalid") < forward.index("jump in_1")


def test_a_group_reference_names_its_members_ipv6_addresses_too() -> None:
    topo = parse_topology(TOPO, source=Path("t.yaml"))
    assert sorted(str(p.network) for p in group_members(topo, "web")) == [
        "10.0.1.10/32", "2001:db8:1::10/128"]
    h = topo.node("h")
    rule = port_layers(topo, h, h.interface("eth0"), "in")[0].rules[3]
    assert rule.label == "members"
    assert {str(p.network) for p in rule.far or ()} == {"10.0.1.10/32", "2001:db8:1::10/128"}


def test_the_switch_sends_bridged_ipv6_through_its_rules_when_the_lab_is_dual_stack() -> None:
    topo = parse_topology(TOPO, source=Path("t.yaml"))
    sysctls = {(s.key, s.value) for s in build_plan(topo) if isinstance(s, SetSysctl)}
    assert ("net.bridge.bridge-nf-call-ip6tables", "1") in sysctls
    v4 = parse_topology(TOPO.replace("    subnet6: 2001:db8:1::/64\n", "").replace(
        ', address6: "2001:db8:1::10"', "").replace(', address6: "2001:db8:1::1"', ""),
        source=Path("t.yaml"))
    assert not any(isinstance(s, SetSysctl) and "ip6tables" in s.key
                   for s in build_plan(v4))


def test_a_prefix_of_neither_family_is_an_error_at_its_path() -> None:
    bad = TOPO.replace('from: ["::/0"]', 'from: ["2001:db8::1::/64"]')
    with pytest.raises(TopologyError) as caught:
        parse_topology(bad, source=Path("t.yaml"))
    assert any(i.path == "security_groups.web.inbound[2].from[0]" for i in caught.value.issues), \
        [(i.path, i.message) for i in caught.value.issues]
