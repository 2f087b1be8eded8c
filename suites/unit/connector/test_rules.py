"""Forwarding decisions, one case per rule of spec §5 (check ids F1-F9, D4)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from connector.config_values import parse_ip_match as parse_ip
from connector.core.model import FlowKey, IpProto, Method
from connector.core.names import parse_pattern
from connector.core.policy import Identity, Policy
from connector.core.rules import DEFAULT_ZIA_RULE, STRAY_POOL_RULE, ZPA_RULE, ForwardingPolicy
from suites.unit.connector.policy_builders import (
    ME,
    Health,
    Names,
    Pools,
    flow,
    policy,
    rule,
)

pytestmark = pytest.mark.unit

D, Z, P, X, L = Method.DIRECT, Method.ZIA, Method.ZPA, Method.DROP, Method.LOCAL
GRE = 47  # an IP protocol no network service can name


@dataclass
class Case:
    id: str
    policy: Policy
    flow: FlowKey
    method: Method
    rule: str
    names: Names = field(default_factory=Names)
    pools: Pools = field(default_factory=Pools)
    health: Health = field(default_factory=Health)
    identity: Identity = ME


CASES = [
    Case("F1-first-match-wins", policy(rule(1, D), rule(2, X)), flow(), D, "r1"),
    Case("F1-ascending-order-not-file-order", policy(rule(5, D), rule(2, X)), flow(), X, "r2"),
    Case("F1-disabled-rule-skipped",
         policy(rule(1, X, enabled=False), rule(2, D)), flow(), D, "r2"),
    Case("F2-empty-criteria-match-any", policy(rule(1, D)), flow(src="10.99.0.1"), D, "r1"),
    Case("F2-or-inside-source", policy(rule(1, D, src_ip_groups=("admins", "workloads"))),
         flow(), D, "r1"),
    Case("F2-src-ips-and-groups-are-one-criterion",
         policy(rule(1, D, src_ips=(parse_ip("10.99.0.1"),), src_ip_groups=("workloads",))),
         flow(src="10.99.0.1"), D, "r1"),
    Case("F2-and-across-criteria-service-fails",
         policy(rule(1, D, src_ip_groups=("workloads",), nw_services=("dns",))),
         flow(dport=80), Z, DEFAULT_ZIA_RULE),
    Case("F2-and-across-criteria-all-hold",
         policy(rule(1, D, src_ip_groups=("workloads",), nw_services=("dns",))),
         flow(dport=53, proto=IpProto.UDP), D, "r1"),
    Case("F2-range-source", policy(rule(1, X, src_ips=(parse_ip("10.10.1.10-10.10.1.12"),))),
         flow(), X, "r1"),
    Case("F2-dest-group-prefix", policy(rule(1, D, dest_ip_groups=("internet-web",))),
         flow(), D, "r1"),
    Case("F2-icmp-service", policy(rule(1, X, nw_services=("icmp",))),
         flow(proto=IpProto.ICMP, dport=0), X, "r1"),
    Case("F3-unmatched-goes-to-default-zia",
         policy(rule(1, D, src_ip_groups=("admins",))), flow(), Z, DEFAULT_ZIA_RULE),
    Case("F4-fail-close-drops", policy(rule(1, Z)), flow(), X, "r1", health=Health(set())),
    Case("F4-fail-open-goes-direct", policy(rule(1, Z), fail_closed=False), flow(), D, "r1",
         health=Health(set())),
    Case("F4-default-rule-fail-close", policy(), flow(), X, DEFAULT_ZIA_RULE,
         health=Health(set())),
    Case("F8-wildcard-matches-below", policy(rule(1, D, dest_addresses=(
        parse_pattern("*.example.com"),))), flow(dst="198.51.100.7"), D, "r1",
         names=Names().learn("198.51.100.7", "a.example.com")),
    Case("F8-wildcard-not-apex", policy(rule(1, D, dest_addresses=(
        parse_pattern("*.example.com"),))), flow(dst="198.51.100.7"), Z, DEFAULT_ZIA_RULE,
         names=Names().learn("198.51.100.7", "example.com")),
    Case("F9-fqdn-rule-needs-dns-seen", policy(rule(1, D, dest_addresses=(
        parse_pattern("www.web.example"),))), flow(), Z, DEFAULT_ZIA_RULE),
    Case("F9-fqdn-rule-after-dns", policy(rule(1, D, dest_addresses=(
        parse_pattern("www.web.example"),))), flow(), D, "r1",
         names=Names().learn("198.18.10.10", "www.web.example")),
    Case("F9-fqdn-via-dest-group", policy(rule(1, L, dest_ip_groups=("partners",))),
         flow(dst="198.51.100.9"), L, "r1",
         names=Names().learn("198.51.100.9", "x.partner.example")),
    Case("D4-unmapped-pool-address-dropped-before-rules", policy(rule(1, D)),
         flow(dst="10.254.0.9"), X, STRAY_POOL_RULE),
    Case("ZPA-rule-selects-segment", policy(rule(1, P, zpa_application_segments=("app-a",))),
         flow(dst="10.254.0.9"), P, "r1", names=Names().learn("10.254.0.9", "app-a.corp.example"),
         pools=Pools(live={"10.254.0.9"})),
    Case("ZPA-rule-other-segment-falls-to-predefined",
         policy(rule(1, P, zpa_application_segments=("app-b",))), flow(dst="10.254.0.9"), P,
         ZPA_RULE, names=Names().learn("10.254.0.9", "app-a.corp.example"),
         pools=Pools(live={"10.254.0.9"})),
    Case("ZPA-rule-never-matches-internet", policy(rule(1, P, zpa_all_app_segments=True)),
         flow(), Z, DEFAULT_ZIA_RULE),
    Case("ZPA-rule-no-segments-applies-to-nothing", policy(rule(1, P), rule(2, X)),
         flow(dst="10.254.0.9"), X, "r2", pools=Pools(live={"10.254.0.9"})),
    Case("scope-other-location-skipped", policy(rule(1, X, locations=("vpc-other",)), rule(2, D)),
         flow(), D, "r2"),
    Case("scope-my-group-applies", policy(rule(1, X, ec_groups=("ccg-1",))), flow(), X, "r1"),
    Case("scope-other-group-skipped", policy(rule(1, X, ec_groups=("ccg-other",)), rule(2, D)),
         flow(), D, "r2"),
    Case("F2-service-names-its-protocol", policy(rule(1, D, nw_services=("web",))),
         flow(proto=IpProto.UDP, dport=80), Z, DEFAULT_ZIA_RULE),
    Case("F2-service-never-matches-a-protocol-no-service-names",  # GRE: no ports, no service
         policy(rule(1, D, nw_services=("web",))), flow(proto=GRE, dport=0), Z, DEFAULT_ZIA_RULE),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_forwarding_decision(case: Case) -> None:
    decision = ForwardingPolicy(case.policy, case.identity).decide(
        case.flow, case.names, case.pools, case.health)
    assert (decision.method, decision.rule_name) == (case.method, case.rule), decision.reason


def test_decision_names_the_rule_and_why() -> None:
    decision = ForwardingPolicy(policy(rule(7, D, src_ip_groups=("workloads",))), ME).decide(
        flow(), Names(), Pools(), Health())
    assert (decision.method, decision.rule_name, decision.rule_order, decision.gateway) == (
        D, "r7", 7, None)
    # the reason says which rule matched and by which criterion, for a reader of the log
    assert "r7" in decision.reason
    assert "src_ip_groups" in decision.reason
    assert "dest" not in decision.reason


def test_zia_decision_names_its_gateway() -> None:
    decision = ForwardingPolicy(policy(), ME).decide(flow(), Names(), Pools(), Health())
    assert (decision.method, decision.gateway) == (Z, "default")
