"""The DNS policy decision for one query (spec §6.1-6.4, §6.6).

Order of evaluation, first match wins:
1. The user DNS rules in ascending order (disabled and out-of-scope rules
   skipped). A REDIR_ZPA rule matches only names of a ZPA app segment.
2. "ZPA Resolver" (predefined): any remaining ZPA name is resolved by ZPA, in
   the default rule's pool when that rule is REDIR_ZPA, else in the default pool.
3. "Default Connector DNS Rule", always last; as REDIR_ZPA it allows non-ZPA names.
The query's destination address never matters for ZPA names: a ZPA name sent
to any resolver is intercepted (§6.4). Only requests are policed; responses
pass untouched (§6.4 "Response Action: None"; the service never re-decides an answer).
"""

from __future__ import annotations

from dataclasses import replace
from typing import assert_never

from connector.core.intervals import IntervalIndex, NameIndex
from connector.core.memo import remember
from connector.core.model import (
    DnsAction,
    DnsDecision,
    DnsOutcome,
    DnsQuestion,
    FailureBehavior,
)
from connector.core.names import NamePattern, normalise_name
from connector.core.policy import DEFAULT_POOL, DnsRule, Identity, Policy, interval_of
from connector.core.segments import SegmentIndex

ZPA_RESOLVER = "ZPA Resolver"
MEMO_SIZE = 16_384


class DnsPolicy:
    def __init__(self, policy: Policy, identity: Identity) -> None:
        self.policy = policy
        self.segments = SegmentIndex(policy.app_segments)
        rules = sorted((r for r in policy.dns_rules
                        if r.enabled and identity.in_scope(r.locations, r.ec_groups)),
                       key=lambda r: r.order)
        self._rules = tuple(rules)
        self._src_any, self._src = _source_index(policy, rules)
        self._name_any, self._names = _name_index(rules)
        self._dst_any, self._dst = _dest_index(policy, rules)
        self._zpa_only = sum(1 << b for b, r in enumerate(rules) if r.action is DnsAction.REDIR_ZPA)
        self._memo: dict[tuple[str, str, int, int], DnsDecision] = {}

    def decide(self, question: DnsQuestion) -> DnsDecision:
        """The decision depends on the policy (fixed) and the question alone, so it is
        remembered: a workload asks the same names again and again."""
        key = (question.qname, question.qtype, int(question.src), int(question.dst))
        decision = self._memo.get(key)
        if decision is None:
            decision = remember(self._memo, key, self._decide(question), MEMO_SIZE)
        return decision

    def _decide(self, question: DnsQuestion) -> DnsDecision:
        qname = normalise_name(question.qname)
        segment = self.segments.segment_for(qname)
        mask = ((self._src_any | self._src.lookup(int(question.src)))
                & (self._name_any | self._names.lookup(qname))
                & (self._dst_any | self._dst.lookup(int(question.dst))))
        if segment is None:
            mask &= ~self._zpa_only
        if mask:
            rule = self._rules[(mask & -mask).bit_length() - 1]
            return _outcome(rule, question, qname, segment, self.policy, "first match")
        if segment is not None:
            return self._zpa_resolver(question, qname, segment)
        return _outcome(self.policy.dns_default, question, qname, None, self.policy,
                        "no rule matched")

    def _zpa_resolver(self, question: DnsQuestion, qname: str, segment: str) -> DnsDecision:
        default = self.policy.dns_default
        pool = default.zpa_ip_group if default.action is DnsAction.REDIR_ZPA else None
        rule = DnsRule(0, ZPA_RESOLVER, DnsAction.REDIR_ZPA, zpa_ip_group=pool or DEFAULT_POOL)
        return _outcome(rule, question, qname, segment, self.policy,
                        f"'{qname}' is in app segment '{segment}'")


def on_gateway_failure(decision: DnsDecision) -> DnsDecision:
    """Both servers of the decision's DNS gateway are down: its failure behaviour."""
    assert decision.gateway is not None
    match decision.gateway.failure_behavior:
        case FailureBehavior.FAIL_ALLOW_IGNORE_DNAT:
            return replace(decision, outcome=DnsOutcome.FORWARD_ORIGINAL,
                           reason=f"{decision.reason}; gateway down: forward to original server")
        case FailureBehavior.FAIL_RET_ERR:
            return replace(decision, outcome=DnsOutcome.ANSWER_SERVFAIL,
                           reason=f"{decision.reason}; gateway down: SERVFAIL")
        case _:
            assert_never(decision.gateway.failure_behavior)


def on_pool_exhausted(decision: DnsDecision) -> DnsDecision:
    """No synthetic address could be given: SERVFAIL, never the real address (§6.6)."""
    return replace(decision, outcome=DnsOutcome.ANSWER_SERVFAIL,
                   reason=f"{decision.reason}; pool '{decision.pool}' exhausted")


def _outcome(rule: DnsRule, question: DnsQuestion, qname: str, segment: str | None,
             policy: Policy, why: str) -> DnsDecision:
    order = rule.order or None
    reason = f"{why}: rule '{rule.name}'"
    base = DnsDecision(rule.action, DnsOutcome.FORWARD_ORIGINAL, rule.name, order, reason, qname)
    match rule.action:
        case DnsAction.BLOCK:
            return replace(base, outcome=DnsOutcome.DROP_SILENT)
        case DnsAction.REDIR_REQ:
            gateway = policy.dns_gateways[rule.dns_gateway or ""]
            return replace(base, outcome=DnsOutcome.FORWARD_GATEWAY, gateway=gateway)
        case DnsAction.REDIR_ZPA if segment is not None:
            outcome = DnsOutcome.ANSWER_SYNTHETIC if question.qtype.upper() == "A" \
                else DnsOutcome.ANSWER_NODATA
            return replace(base, outcome=outcome, pool=rule.zpa_ip_group or DEFAULT_POOL,
                           app_segment=segment)
        case DnsAction.REDIR_ZPA:
            return replace(base, reason=f"{reason}; '{qname}' is not a ZPA name: allowed")
        case DnsAction.ALLOW:
            return base
        case _:
            assert_never(rule.action)


def _source_index(policy: Policy, rules: list[DnsRule]) -> tuple[int, IntervalIndex]:
    items = [(b, [*r.src_ips, *(i for g in r.src_ip_groups for i in policy.source_ip_groups[g])])
             for b, r in enumerate(rules)]
    return (sum(1 << b for b, s in items if not s),
            IntervalIndex((*interval_of(i), b) for b, s in items for i in s))


def _name_index(rules: list[DnsRule]) -> tuple[int, NameIndex]:
    return (sum(1 << b for b, r in enumerate(rules) if not r.dest_addresses),
            NameIndex((p, b) for b, r in enumerate(rules) for p in r.dest_addresses))


def _dest_index(policy: Policy, rules: list[DnsRule]) -> tuple[int, IntervalIndex]:
    """dest_ip_groups of a DNS rule match the query's destination address."""
    items = [(b, [i for g in r.dest_ip_groups for i in policy.dest_ip_groups[g]
                  if not isinstance(i, NamePattern)]) for b, r in enumerate(rules)]
    return (sum(1 << b for b, r in enumerate(rules) if not r.dest_ip_groups),
            IntervalIndex((*interval_of(i), b) for b, s in items for i in s))
