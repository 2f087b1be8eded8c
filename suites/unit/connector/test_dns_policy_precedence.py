"""DNS policy: which rule wins, what the decision says about it (spec §6.1-6.4).

First match in ascending order, scope by connector group, REDIR_ZPA only for ZPA
names wherever it stands in the list, the predefined rules' pool and order, and the
reason each decision carries into the DNS log: the deciding rule and why.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from connector.core.dns_policy import ZPA_RESOLVER, DnsPolicy, on_gateway_failure
from connector.core.model import (
    DnsAction,
    DnsDecision,
    DnsGateway,
    DnsOutcome,
    DnsQuestion,
    FailureBehavior,
)
from connector.core.policy import DEFAULT_DNS_RULE_NAME, DnsRule, Policy, default_dns_rule
from suites.unit.connector.policy_builders import ME, SEGMENTS

pytestmark = pytest.mark.unit

GATEWAYS = {
    "ret-err": DnsGateway("ret-err", IPv4Address("198.18.53.53")),
    "to-original": DnsGateway("to-original", IPv4Address("198.18.53.53"),
                              failure_behavior=FailureBehavior.FAIL_ALLOW_IGNORE_DNAT),
}


def decide(*rules: DnsRule, default: DnsRule | None = None, name: str = "www.web.example",
           src: str = "10.10.1.11", qtype: str = "A") -> DnsDecision:
    policy = Policy(dns_rules=rules, dns_default=default or default_dns_rule(),
                    app_segments=SEGMENTS, dns_gateways=GATEWAYS,
                    ip_pools={"default": IPv4Network("10.254.0.0/19"),
                              "east": IPv4Network("10.253.0.0/24")},
                    source_ip_groups={"workloads": (IPv4Network("10.10.1.0/24"),)})
    question = DnsQuestion(name, qtype, IPv4Address(src), IPv4Address("10.10.3.31"))
    return DnsPolicy(policy, ME).decide(question)


def r(order: int, action: DnsAction, **criteria: object) -> DnsRule:
    return DnsRule(order, f"d{order}", action, **criteria)  # type: ignore[arg-type]


def test_of_two_matching_rules_the_lower_order_decides() -> None:
    decision = decide(r(7, DnsAction.ALLOW), r(5, DnsAction.BLOCK))
    assert (decision.rule_name, decision.rule_order, decision.outcome) == \
        ("d5", 5, DnsOutcome.DROP_SILENT)
    assert decision.reason == "first match: rule 'd5'"


def test_a_redir_zpa_rule_anywhere_in_the_list_passes_non_zpa_names_on() -> None:
    rules = (r(1, DnsAction.ALLOW, src_ip_groups=("workloads",)),  # does not match the source
             r(2, DnsAction.REDIR_ZPA, zpa_ip_group="east"))
    blocked = decide(*rules, default=default_dns_rule(DnsAction.BLOCK), src="10.99.0.1")
    assert (blocked.rule_name, blocked.outcome) == (DEFAULT_DNS_RULE_NAME, DnsOutcome.DROP_SILENT)
    zpa = decide(*rules, default=default_dns_rule(DnsAction.BLOCK), src="10.99.0.1",
                 name="app-a.corp.example")
    assert (zpa.rule_name, zpa.pool, zpa.outcome) == ("d2", "east", DnsOutcome.ANSWER_SYNTHETIC)


@pytest.mark.parametrize(("groups", "decides"), [(("ccg-2",), DEFAULT_DNS_RULE_NAME),
                                                 (("ccg-1", "ccg-2"), "d1")],
                         ids=["other-connector-group-skipped", "own-group-applies"])
def test_rules_apply_only_to_their_connector_groups(groups: tuple[str, ...], decides: str) -> None:
    assert decide(r(1, DnsAction.BLOCK, ec_groups=groups)).rule_name == decides


def test_default_rule_decision_is_unnumbered_and_says_no_rule_matched() -> None:
    decision = decide(name="WWW.Web.Example.")
    assert decision == DnsDecision(DnsAction.ALLOW, DnsOutcome.FORWARD_ORIGINAL,
                                   DEFAULT_DNS_RULE_NAME, None,
                                   f"no rule matched: rule '{DEFAULT_DNS_RULE_NAME}'",
                                   "www.web.example")


def test_default_rule_can_redirect_to_a_gateway() -> None:
    decision = decide(default=default_dns_rule(DnsAction.REDIR_REQ, dns_gateway="ret-err"))
    assert (decision.outcome, decision.gateway) == (DnsOutcome.FORWARD_GATEWAY,
                                                    GATEWAYS["ret-err"])


def test_zpa_resolver_is_unnumbered_and_names_the_segment() -> None:
    decision = decide(name="App-A.Corp.Example")
    assert (decision.rule_name, decision.rule_order, decision.app_segment) == \
        (ZPA_RESOLVER, None, "app-a")
    assert decision.reason == \
        f"'app-a.corp.example' is in app segment 'app-a': rule '{ZPA_RESOLVER}'"


def test_zpa_resolver_uses_the_pool_of_a_redir_zpa_default_rule() -> None:
    default = default_dns_rule(DnsAction.REDIR_ZPA, zpa_ip_group="east")
    assert decide(default=default, name="app-a.corp.example").pool == "east"


def test_zpa_resolver_ignores_the_pool_of_a_default_rule_that_is_not_redir_zpa() -> None:
    stale = default_dns_rule(DnsAction.ALLOW, zpa_ip_group="east")
    assert decide(default=stale, name="app-a.corp.example").pool == "default"


def test_redir_zpa_for_a_non_zpa_name_says_it_was_allowed() -> None:
    decision = decide(default=default_dns_rule(DnsAction.REDIR_ZPA, zpa_ip_group="east"))
    assert decision.outcome is DnsOutcome.FORWARD_ORIGINAL
    assert decision.reason == (f"no rule matched: rule '{DEFAULT_DNS_RULE_NAME}'; "
                               "'www.web.example' is not a ZPA name: allowed")
    allowed = decide(r(3, DnsAction.ALLOW))
    assert allowed.reason == "first match: rule 'd3'"  # ALLOW itself needs no such note


@pytest.mark.parametrize(("gateway", "suffix"), [
    ("ret-err", "gateway down: SERVFAIL"),
    ("to-original", "gateway down: forward to original server")])
def test_gateway_failure_reason_keeps_the_rule_and_says_what_was_done(gateway: str,
                                                                      suffix: str) -> None:
    decision = decide(r(4, DnsAction.REDIR_REQ, dns_gateway=gateway))
    assert on_gateway_failure(decision).reason == f"first match: rule 'd4'; {suffix}"
