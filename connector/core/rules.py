"""The forwarding decision for a flow's first packet (spec §5.2-5.4).

Order of evaluation, first match wins:
0. "Public Source Drop" (§2.5): a new flow whose source is public (not RFC 1918,
   not CGNAT, not a workload network) arrived from outside the cloud's private
   space; forwarding it would relay internet-originated traffic to ZPA apps or
   the internet. Dropped, unless the connector is configured to accept it.
1. "ZPA Pool For Stray Traffic" (predefined Drop): a destination inside a
   synthetic pool with no live mapping is dropped before any user rule, so no
   rule can forward a stale or scanned pool address anywhere.
2. The user rules in ascending order; disabled rules and rules scoped to other
   locations or connector groups are skipped (they keep their place). A live
   synthetic destination meets only ECZPA and Drop rules: a synthetic address
   means nothing outside the connector, so no Direct, ZIA or Local rule may send
   it anywhere (§6.6 item 6: "goes to the ZPA tunnel for that app").
3. "ZPA Forwarding Rule" (predefined ECZPA, present when app segments exist):
   a live synthetic destination no user rule claimed goes to ZPA.
4. The default ZIA rule.
A ZIA verdict whose gateway has no usable edge becomes Drop (fail-close, the
default) or Direct (fail-open), naming the rule that chose ZIA.
"""

from __future__ import annotations

from ipaddress import IPv4Network

from connector.core.model import (
    Decision,
    FlowKey,
    GatewayHealth,
    Method,
    NameLookup,
    PoolLookup,
)
from connector.core.policy import ForwardingRule, Identity, Policy
from connector.core.rule_index import RuleIndex, compile_rules
from connector.core.segments import SegmentIndex

PUBLIC_SOURCE_RULE = "Public Source Drop"
STRAY_POOL_RULE = "ZPA Pool For Stray Traffic"
# Private space (§2.5): RFC 1918 and the shared address space of RFC 6598 (CGNAT).
PRIVATE_NETWORKS = (IPv4Network("10.0.0.0/8"), IPv4Network("172.16.0.0/12"),
                    IPv4Network("192.168.0.0/16"), IPv4Network("100.64.0.0/10"))
ZPA_RULE = "ZPA Forwarding Rule"
DEFAULT_ZIA_RULE = "Default ZIA Rule"


class ForwardingPolicy:
    """A compiled rule set for one connector; `decide` is pure given its lookups."""

    def __init__(self, policy: Policy, identity: Identity, *,
                 trusted_sources: tuple[IPv4Network, ...] | None = PRIVATE_NETWORKS) -> None:
        """`trusted_sources`: where a new flow may come from (None: anywhere, the
        configured exception); the policy's workload networks are always trusted."""
        self.policy = policy
        self._trusted = None if trusted_sources is None else _ranges(
            (*trusted_sources, *policy.workload_networks()))
        scoped = [r for r in policy.forwarding_rules
                  if identity.in_scope(r.locations, r.ec_groups)]
        self._index: RuleIndex = compile_rules(policy, sorted(scoped, key=lambda r: r.order))
        self._segments = SegmentIndex(policy.app_segments)
        self._reasons = tuple(_describe(r) for r in self._index.rules)

    def decide(self, flow: FlowKey, names: NameLookup, pools: PoolLookup,
               health: GatewayHealth) -> Decision:
        if self._trusted is not None and not _inside(int(flow.src), self._trusted):
            return Decision(Method.DROP, PUBLIC_SOURCE_RULE, None,
                            f"{flow.src} is a public source on the service interface")
        pool = pools.pool_of(flow.dst)
        live = pool is not None and pools.has_live_mapping(flow.dst)
        if pool is not None and not live:
            return Decision(Method.DROP, STRAY_POOL_RULE, None,
                            f"{flow.dst} is in pool '{pool}' with no live mapping")
        dst_names = names.names_for(flow.dst)
        mask = self._matching(flow, dst_names, live)
        if mask:
            bit = (mask & -mask).bit_length() - 1
            rule = self._index.rules[bit]
            return self._apply(rule.method, rule.name, rule.order, self._reasons[bit],
                               rule.proxy_gateway, health)
        if live and self.policy.app_segments:
            return Decision(Method.ZPA, ZPA_RULE, None,
                            f"{flow.dst} is a live synthetic address in pool '{pool}'")
        return self._apply(Method.ZIA, DEFAULT_ZIA_RULE, None, "no rule matched", None, health)

    def _matching(self, flow: FlowKey, dst_names: frozenset[str], live: bool) -> int:
        ix = self._index
        mask = ix.src_any | ix.src.lookup(int(flow.src))
        if not mask:
            return 0
        dst = ix.dst_any | ix.dst_ip.lookup(int(flow.dst))
        if dst_names:
            dst |= ix.dst_name.lookup_any(dst_names)
        mask &= dst
        if not mask:
            return 0
        ports = ix.svc_ports.get(flow.proto)
        mask &= ix.svc_any | (ports.lookup(flow.dport) if ports is not None else 0)
        if not mask:
            return 0
        return mask & (ix.drops | self._zpa_mask(dst_names) if live else ix.not_zpa)

    def _zpa_mask(self, dst_names: frozenset[str]) -> int:
        """The ECZPA rules for a live synthetic destination with these names."""
        mask = self._index.zpa_all
        for name in dst_names:
            for segment in self._segments.segments_for(name):
                mask |= self._index.zpa_segments.get(segment, 0)
        return mask

    def _apply(self, method: Method, name: str, order: int | None, reason: str,
               gateway_name: str | None, health: GatewayHealth) -> Decision:
        if method is not Method.ZIA:
            return Decision(method, name, order, reason)
        gateway = self.policy.zia_gateway(gateway_name)
        if health.is_usable(gateway.name):
            return Decision(Method.ZIA, name, order, reason, gateway.name)
        if gateway.fail_closed:
            return Decision(Method.DROP, name, order,
                            f"{reason}; ZIA gateway '{gateway.name}' unusable: fail-close",
                            gateway.name)
        return Decision(Method.DIRECT, name, order,
                        f"{reason}; ZIA gateway '{gateway.name}' unusable: fail-open",
                        gateway.name)


def _ranges(networks: tuple[IPv4Network, ...]) -> tuple[tuple[int, int], ...]:
    return tuple((int(n.network_address), int(n.broadcast_address)) for n in networks)


def _inside(addr: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= addr <= hi for lo, hi in ranges)


def _describe(rule: ForwardingRule) -> str:
    set_criteria = [key for key in ("src_ips", "src_ip_groups", "nw_services", "dest_addresses",
                                    "dest_ip_groups", "zpa_application_segments")
                    if getattr(rule, key)]
    if rule.zpa_all_app_segments:
        set_criteria.append("zpa_all_app_segments")
    held = ", ".join(set_criteria) if set_criteria else "no criteria (any traffic)"
    return f"first match: rule {rule.order} '{rule.name}' ({held})"
