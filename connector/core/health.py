"""Is the connector healthy, and if not, why (spec §3.5).

Healthy only when the data plane and the DNS listener are up and every
forwarding path the policy needs is usable: an alive ZIA tunnel for every ZIA
gateway the policy can send to, or fail-open permitted for it; and, when the
policy has ZPA app segments and brokers, a broker that answers. Pure: the service
gathers the facts, this returns the verdict with its reasons (reasons are shown
on the management interface only).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GatewayState:
    name: str
    usable: bool
    fail_closed: bool


@dataclass(frozen=True, slots=True)
class HealthFacts:
    dataplane_up: bool
    dns_up: bool
    gateways: tuple[GatewayState, ...]
    zpa_reachable: bool | None = None  # None: the policy sends nothing to ZPA


@dataclass(frozen=True, slots=True)
class HealthVerdict:
    healthy: bool
    reasons: tuple[str, ...]


def judge(facts: HealthFacts) -> HealthVerdict:
    reasons = []
    if not facts.dataplane_up:
        reasons.append("data plane is down")
    if not facts.dns_up:
        reasons.append("DNS listener is down")
    for g in facts.gateways:
        if not g.usable and g.fail_closed:
            reasons.append(f"ZIA gateway '{g.name}': no tunnel alive and fail-close")
    if facts.zpa_reachable is False:
        reasons.append("ZPA: no broker reachable")
    return HealthVerdict(not reasons, tuple(reasons))
