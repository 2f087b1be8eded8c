"""DNS policy decisions, one case per rule of spec §6 (check ids D1, D2, D5, D7, D8, D10)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network

import pytest

from connector.core.dns_policy import (
    ZPA_RESOLVER,
    DnsPolicy,
    on_gateway_failure,
    on_pool_exhausted,
)
from connector.core.model import (
    DnsAction,
    DnsGateway,
    DnsOutcome,
    DnsQuestion,
    FailureBehavior,
)
from connector.core.names import parse_pattern
from connector.core.policy import DEFAULT_DNS_RULE_NAME, DnsRule, Identity, Policy, default_dns_rule
from suites.unit.connector.policy_builders import ME, SEGMENTS

pytestmark = pytest.mark.unit

GATEWAYS = {
    "ret-err": DnsGateway("ret-err", IPv4Address("198.18.53.53"), IPv4Address("198.18.53.54")),
    "to-original": DnsGateway("to-original", IPv4Address("198.18.53.53"),
                              failure_behavior=FailureBehavior.FAIL_ALLOW_IGNORE_DNAT),
}
POOLS = {"default": IPv4Network("10.254.0.0/19"), "east": IPv4Network("10.253.0.0/24")}


def dns_policy(*rules: DnsRule, default: DnsRule | None = None) -> Policy:
    return Policy(dns_rules=rules, dns_default=default or default_dns_rule(),
                  app_segments=SEGMENTS, dns_gateways=GATEWAYS, ip_pools=POOLS,
                  source_ip_groups={"workloads": (IPv4Network("10.10.1.0/24"),)},
                  dest_ip_groups={"google": (IPv4Address("8.8.8.8"),)})


def q(name: str, qtype: str = "A", src: str = "10.10.1.11", dst: str = "10.10.3.31") -> DnsQuestion:
    return DnsQuestion(name, qtype, IPv4Address(src), IPv4Address(dst))


def r(order: int, action: DnsAction, **criteria: object) -> DnsRule:
    return DnsRule(order, f"d{order}", action, **criteria)  # type: ignore[arg-type]


@dataclass
class Case:
    id: str
    policy: Policy
    question: DnsQuestion
    outcome: DnsOutcome
    rule: str
    pool: str | None = None
    identity: Identity = ME


CASES = [
    Case("D1-zpa-name-to-service-ip", dns_policy(), q("app-a.corp.example"),
         DnsOutcome.ANSWER_SYNTHETIC, ZPA_RESOLVER, "default"),
    Case("D1-zpa-name-to-any-resolver", dns_policy(), q("app-a.corp.example", dst="8.8.8.8"),
         DnsOutcome.ANSWER_SYNTHETIC, ZPA_RESOLVER, "default"),
    Case("D1-zpa-name-to-global-vip", dns_policy(),
         q("APP-A.Corp.Example.", dst="185.46.212.88"), DnsOutcome.ANSWER_SYNTHETIC,
         ZPA_RESOLVER, "default"),
    Case("D1-zpa-wildcard-segment", dns_policy(), q("x.y.partner.example"),
         DnsOutcome.ANSWER_SYNTHETIC, ZPA_RESOLVER, "default"),
    Case("D1-wildcard-segment-not-apex", dns_policy(), q("partner.example"),
         DnsOutcome.FORWARD_ORIGINAL, DEFAULT_DNS_RULE_NAME),
    Case("D2-aaaa-for-zpa-name-nodata", dns_policy(), q("app-a.corp.example", "AAAA"),
         DnsOutcome.ANSWER_NODATA, ZPA_RESOLVER, "default"),
    Case("D2-mx-for-zpa-name-nodata", dns_policy(), q("app-a.corp.example", "MX"),
         DnsOutcome.ANSWER_NODATA, ZPA_RESOLVER, "default"),
    Case("pool-chosen-by-first-redir-zpa-rule",
         dns_policy(r(1, DnsAction.REDIR_ZPA, zpa_ip_group="east", src_ip_groups=("workloads",))),
         q("app-a.corp.example"), DnsOutcome.ANSWER_SYNTHETIC, "d1", "east"),
    Case("pool-rule-for-other-location-skipped",
         dns_policy(r(1, DnsAction.REDIR_ZPA, zpa_ip_group="east", locations=("vpc-b",))),
         q("app-a.corp.example"), DnsOutcome.ANSWER_SYNTHETIC, ZPA_RESOLVER, "default"),
    Case("redir-zpa-rule-skips-non-zpa-names",
         dns_policy(r(1, DnsAction.REDIR_ZPA, zpa_ip_group="east"), r(2, DnsAction.BLOCK)),
         q("www.web.example"), DnsOutcome.DROP_SILENT, "d2"),
    Case("default-rule-pool-used-by-zpa-resolver",
         dns_policy(default=default_dns_rule(DnsAction.REDIR_ZPA, zpa_ip_group="east")),
         q("app-a.corp.example"), DnsOutcome.ANSWER_SYNTHETIC, ZPA_RESOLVER, "east"),
    Case("default-redir-zpa-allows-non-zpa-names",
         dns_policy(default=default_dns_rule(DnsAction.REDIR_ZPA, zpa_ip_group="east")),
         q("www.web.example"), DnsOutcome.FORWARD_ORIGINAL, DEFAULT_DNS_RULE_NAME),
    Case("D5-redirect-to-gateway",
         dns_policy(r(1, DnsAction.REDIR_REQ, dns_gateway="ret-err")), q("www.web.example"),
         DnsOutcome.FORWARD_GATEWAY, "d1"),
    Case("D7-block-is-silent", dns_policy(r(1, DnsAction.BLOCK, dest_addresses=(
        parse_pattern("*.web.example"),))), q("www.web.example"), DnsOutcome.DROP_SILENT, "d1"),
    Case("D7-block-can-stop-zpa-names", dns_policy(r(1, DnsAction.BLOCK, dest_addresses=(
        parse_pattern("app-a.corp.example"),))), q("app-a.corp.example"),
         DnsOutcome.DROP_SILENT, "d1"),
    Case("D8-default-rule-allows", dns_policy(), q("www.web.example"),
         DnsOutcome.FORWARD_ORIGINAL, DEFAULT_DNS_RULE_NAME),
    Case("disabled-rule-skipped", dns_policy(r(1, DnsAction.BLOCK, enabled=False)),
         q("www.web.example"), DnsOutcome.FORWARD_ORIGINAL, DEFAULT_DNS_RULE_NAME),
    Case("dest-ip-group-matches-query-destination",
         dns_policy(r(1, DnsAction.BLOCK, dest_ip_groups=("google",))),
         q("www.web.example", dst="8.8.8.8"), DnsOutcome.DROP_SILENT, "d1"),
    Case("source-criterion-fails", dns_policy(r(1, DnsAction.BLOCK, src_ip_groups=("workloads",))),
         q("www.web.example", src="10.99.0.1"), DnsOutcome.FORWARD_ORIGINAL,
         DEFAULT_DNS_RULE_NAME),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_dns_decision(case: Case) -> None:
    decision = DnsPolicy(case.policy, case.identity).decide(case.question)
    assert (decision.outcome, decision.rule_name, decision.pool) == \
        (case.outcome, case.rule, case.pool), decision.reason


def test_synthetic_decision_names_segment_not_real_address() -> None:
    decision = DnsPolicy(dns_policy(), ME).decide(q("app-a.corp.example."))
    assert decision.app_segment == "app-a"
    assert decision.qname == "app-a.corp.example"
    assert "192.0.2.10" not in repr(decision)


@pytest.mark.parametrize(("gateway", "outcome"), [
    ("ret-err", DnsOutcome.ANSWER_SERVFAIL), ("to-original", DnsOutcome.FORWARD_ORIGINAL)],
    ids=["D5-fail-ret-err-servfail", "D5-fail-allow-forwards-to-original"])
def test_gateway_failure_behaviour(gateway: str, outcome: DnsOutcome) -> None:
    decision = DnsPolicy(dns_policy(r(1, DnsAction.REDIR_REQ, dns_gateway=gateway)), ME).decide(
        q("www.web.example"))
    assert on_gateway_failure(decision).outcome is outcome


def test_D3_pool_exhausted_answers_servfail() -> None:  # noqa: N802 - check id
    decision = DnsPolicy(dns_policy(), ME).decide(q("app-a.corp.example"))
    failed = on_pool_exhausted(decision)
    assert failed.outcome is DnsOutcome.ANSWER_SERVFAIL
    assert "exhausted" in failed.reason


def test_an_action_or_failure_behaviour_no_case_handles_fails_loudly_naming_it() -> None:
    """The run-time side of the exhaustive-dispatch check (test_exhaustive_dispatch): a
    value no case handles stops the decision with its name; it never passes as None."""
    unknown = "TELEPORT"
    rule = replace(r(1, DnsAction.BLOCK), action=unknown)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match=unknown):
        DnsPolicy(dns_policy(rule), ME).decide(q("www.web.example"))
    decision = DnsPolicy(dns_policy(r(1, DnsAction.REDIR_REQ, dns_gateway="ret-err")), ME).decide(
        q("www.web.example"))
    gateway = replace(GATEWAYS["ret-err"], failure_behavior=unknown)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match=unknown):
        on_gateway_failure(replace(decision, gateway=gateway))
