"""ECZPA rules and the app segments they select (spec §5.1, §5.2, §6.6 item 6).

A ZPA rule matches a live synthetic destination whose name is in one of its segments,
or in any segment with "apply to all app segments"; among several ZPA rules the first
matching in order decides, wherever it stands and however many select one segment.
"""

from __future__ import annotations

import pytest

from connector.core.model import Decision, Method
from connector.core.policy import ForwardingRule
from connector.core.rules import ZPA_RULE, ForwardingPolicy
from suites.unit.connector.policy_builders import ME, Health, Names, Pools, flow, policy, rule

pytestmark = pytest.mark.unit

ADDR = "10.254.0.5"  # a live synthetic address in the default pool
PARTNER = Names().learn(ADDR, "x.partner.example")  # app-b's wildcard
APP_A = Names().learn(ADDR, "app-a.corp.example")


def decide(*rules: ForwardingRule, names: Names, src: str = "10.10.1.11") -> Decision:
    return ForwardingPolicy(policy(*rules), ME).decide(
        flow(src=src, dst=ADDR, dport=443), names, Pools(live={ADDR}), Health())


def test_apply_to_all_app_segments_matches_any_segment() -> None:
    decision = decide(rule(1, Method.ZPA, zpa_all_app_segments=True), names=PARTNER)
    assert (decision.method, decision.rule_name) == (Method.ZPA, "r1")


def test_the_rule_selecting_the_segment_decides_wherever_it_stands() -> None:
    rules = (rule(1, Method.ZPA, zpa_application_segments=("app-a",)),
             rule(2, Method.ZPA, zpa_application_segments=("app-b",)))
    assert decide(*rules, names=PARTNER).rule_name == "r2"
    assert decide(*rules, names=APP_A).rule_name == "r1"
    assert decide(rules[0], names=PARTNER).rule_name == ZPA_RULE  # no user rule selects app-b


def test_two_rules_selecting_one_segment_keep_first_match() -> None:
    rules = (rule(1, Method.DROP, src_ip_groups=("admins",)),  # not ZPA: any destination
             rule(2, Method.ZPA, zpa_application_segments=("app-a",), src_ip_groups=("admins",)),
             rule(3, Method.ZPA, zpa_application_segments=("app-a",)))
    assert decide(*rules[1:], names=APP_A, src="10.10.9.5").rule_name == "r2"
    assert decide(*rules[1:], names=APP_A).rule_name == "r3"  # not an admin
    assert decide(*rules, names=APP_A, src="10.10.9.5").rule_name == "r1"
