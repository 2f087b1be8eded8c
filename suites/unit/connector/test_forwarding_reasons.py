"""What a forwarding decision says about itself in the session log (spec §5.3-5.4, F4, F7).

Every new flow's decision is written to the session log (`flow.new`: method, rule,
reason, gateway). The rule and gateway are what the cloud and the suites match on;
the reason is the sentence an operator reads: which rule decided and by which
criteria (named as the API names them), or which predefined rule and why; for a ZIA
decision turned Drop or Direct, the rule that chose ZIA and the gateway that failed.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address

import pytest

from connector.config_values import parse_ip_match as parse_ip
from connector.core.model import Decision, Method
from connector.core.names import parse_pattern
from connector.core.policy import Policy, ZiaGateway
from connector.core.rules import (
    DEFAULT_ZIA_RULE,
    PUBLIC_SOURCE_RULE,
    STRAY_POOL_RULE,
    ZPA_RULE,
    ForwardingPolicy,
)
from suites.unit.connector.policy_builders import ME, Health, Names, Pools, flow, policy, rule

pytestmark = pytest.mark.unit
D, Z, P, X = Method.DIRECT, Method.ZIA, Method.ZPA, Method.DROP


def _decide(pol: Policy, *, dst: str = "198.18.10.10", src: str = "10.10.1.11",
            names: Names | None = None, pools: Pools | None = None,
            health: Health | None = None) -> Decision:
    return ForwardingPolicy(pol, ME).decide(flow(src=src, dst=dst), names or Names(),
                                            pools or Pools(), health or Health())


def test_a_user_rule_is_named_with_its_order_and_the_criteria_it_holds() -> None:
    every = rule(4, D, src_ips=(parse_ip("10.10.1.11"),), src_ip_groups=("workloads",),
                 nw_services=("web",), dest_addresses=(parse_pattern("198.18.10.0/24"),),
                 dest_ip_groups=("internet-web",))
    assert _decide(policy(every)).reason == (
        "first match: rule 4 'r4' (src_ips, src_ip_groups, nw_services, dest_addresses, "
        "dest_ip_groups)")
    assert _decide(policy(rule(9, X))).reason == \
        "first match: rule 9 'r9' (no criteria (any traffic))"


def test_a_zpa_rule_names_its_segments_or_all_of_them() -> None:
    synthetic = "10.254.0.9"
    names = Names().learn(synthetic, "app-a.corp.example")
    pools = Pools(live={synthetic})
    some = _decide(policy(rule(2, P, zpa_application_segments=("app-a",))), dst=synthetic,
                   names=names, pools=pools)
    every = _decide(policy(rule(3, P, zpa_all_app_segments=True)), dst=synthetic,
                    names=names, pools=pools)
    assert (some.rule_name, some.reason) == (
        "r2", "first match: rule 2 'r2' (zpa_application_segments)")
    assert (every.rule_name, every.reason) == (
        "r3", "first match: rule 3 'r3' (zpa_all_app_segments)")


def test_predefined_rules_say_which_address_and_pool() -> None:
    stray = _decide(policy(rule(1, D)), dst="10.254.0.9")
    assert (stray.method, stray.rule_name, stray.rule_order, stray.reason) == (
        X, STRAY_POOL_RULE, None, "10.254.0.9 is in pool 'default' with no live mapping")
    live = _decide(policy(), dst="10.254.0.9", pools=Pools(live={"10.254.0.9"}),
                   names=Names().learn("10.254.0.9", "app-a.corp.example"))
    assert (live.method, live.rule_name, live.rule_order, live.reason) == (
        P, ZPA_RULE, None, "10.254.0.9 is a live synthetic address in pool 'default'")
    public = _decide(policy(rule(1, D)), src="203.0.113.9")
    assert (public.method, public.rule_name, public.rule_order, public.reason) == (
        X, PUBLIC_SOURCE_RULE, None, "203.0.113.9 is a public source on the service interface")
    default = _decide(policy())
    assert (default.method, default.rule_name, default.rule_order, default.reason,
            default.gateway) == (Z, DEFAULT_ZIA_RULE, None, "no rule matched", "default")


def test_a_zia_rule_that_cannot_reach_its_gateway_keeps_its_name_order_and_gateway() -> None:
    """F4: the decision still names the rule that chose ZIA (decisions.md), and the
    gateway whose tunnels are down, whether it then drops (fail-close) or goes Direct."""
    closed = _decide(policy(rule(5, Z)), health=Health(set()))
    assert closed == Decision(X, "r5", 5, "first match: rule 5 'r5' (no criteria (any traffic)); "
                              "ZIA gateway 'default' unusable: fail-close", "default")
    opened = _decide(policy(rule(5, Z), fail_closed=False), health=Health(set()))
    assert opened == Decision(D, "r5", 5, "first match: rule 5 'r5' (no criteria (any traffic)); "
                              "ZIA gateway 'default' unusable: fail-open", "default")
    usable = _decide(policy(rule(5, Z)))
    assert usable == Decision(Z, "r5", 5, "first match: rule 5 'r5' (no criteria (any traffic))",
                              "default")


def test_a_zia_rule_uses_its_own_proxy_gateway() -> None:
    """§5.1 `proxy_gateway`: a ZIA rule's gateway, not the default one; its health is
    that gateway's."""
    base = policy(rule(1, Z, proxy_gateway="branch"))
    pol = replace(base, zia_gateways={
        **base.zia_gateways,
        "branch": ZiaGateway("branch", IPv4Address("198.19.2.1"), fail_closed=False)})
    up = _decide(pol, health=Health({"default", "branch"}))
    assert (up.method, up.gateway) == (Z, "branch")
    branch_down = _decide(pol, health=Health({"default"}))
    assert (branch_down.method, branch_down.gateway) == (D, "branch"), "branch is fail-open"
    assert branch_down.reason.endswith("ZIA gateway 'branch' unusable: fail-open")
