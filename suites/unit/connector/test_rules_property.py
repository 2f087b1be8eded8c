"""The indexed matcher agrees with a naive scan written here, on random policies (F1, F2)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.core.model import FlowKey, IpProto, Method
from connector.core.names import NamePattern
from connector.core.policy import (
    AddressRange,
    ForwardingRule,
    NetworkService,
    Policy,
    PortRange,
    ServiceEntry,
    ServiceProto,
    interval_of,
)
from connector.core.rules import DEFAULT_ZIA_RULE, STRAY_POOL_RULE, ForwardingPolicy
from suites.unit.connector.policy_builders import ME, Health, Names, Pools

pytestmark = pytest.mark.unit

BASE = int(IPv4Address("10.0.0.0"))
NAMES = ["a.example", "b.a.example", "c.example", "x.b.a.example"]
PATTERNS = [NamePattern("a.example"), NamePattern("a.example", True), NamePattern("c.example"),
            NamePattern("example", True)]

addresses = st.integers(0, 63).map(lambda i: IPv4Address(BASE + i))
ip_matches = st.one_of(
    addresses,
    st.sampled_from([IPv4Network("10.0.0.0/28"), IPv4Network("10.0.0.16/29"),
                     IPv4Network("10.0.0.0/26")]),
    st.tuples(addresses, addresses).map(lambda p: AddressRange(min(p), max(p))),
)
dests = st.one_of(ip_matches, st.sampled_from(PATTERNS))
services = st.sampled_from(["web", "dns", "any", "udp-all"])
SERVICES = {
    "web": NetworkService("web", (ServiceEntry(ServiceProto.TCP, (PortRange(80, 443),)),)),
    "dns": NetworkService("dns", (ServiceEntry(ServiceProto.UDP, (PortRange(53, 53),)),)),
    "any": NetworkService("any", (ServiceEntry(ServiceProto.ANY),)),
    "udp-all": NetworkService("udp-all", (ServiceEntry(ServiceProto.UDP),)),
}


@st.composite
def rules(draw: st.DrawFn) -> tuple[ForwardingRule, ...]:
    count = draw(st.integers(0, 12))
    orders = draw(st.lists(st.integers(1, 1020), min_size=count, max_size=count, unique=True))
    return tuple(ForwardingRule(
        order, f"r{order}", draw(st.sampled_from([Method.DIRECT, Method.DROP, Method.LOCAL])),
        enabled=draw(st.booleans()),
        src_ips=tuple(draw(st.lists(ip_matches, max_size=2))),
        src_ip_groups=tuple(draw(st.lists(st.sampled_from(["g1", "g2"]), max_size=1))),
        nw_services=tuple(draw(st.lists(services, max_size=2))),
        dest_addresses=tuple(draw(st.lists(dests, max_size=2))),
    ) for order in orders)


flows = st.builds(lambda proto, src, dst, port: FlowKey(proto, src, dst, 1234, port),
                  st.sampled_from([IpProto.TCP, IpProto.UDP, IpProto.ICMP]), addresses,
                  addresses, st.sampled_from([0, 53, 80, 200, 443, 8080]))


POOL = IPv4Network("10.0.0.48/28")  # the synthetic pool of the property's policies


def naive(policy: Policy, flow: FlowKey, names: frozenset[str], live: set[str]) -> str:
    """First match, read off the spec: a pool address with no mapping is stray; a live
    one meets only Drop (and ECZPA) rules; otherwise every enabled rule in order."""
    in_pool = flow.dst in POOL
    if in_pool and str(flow.dst) not in live:
        return STRAY_POOL_RULE
    for rule in sorted(policy.forwarding_rules, key=lambda r: r.order):
        if in_pool and rule.method is not Method.DROP:
            continue
        if rule.enabled and _src_ok(policy, rule, flow) and _dst_ok(rule, flow, names) \
                and _svc_ok(rule, flow):
            return rule.name
    return DEFAULT_ZIA_RULE


def _covers(match: object, addr: IPv4Address) -> bool:
    lo, hi = interval_of(match)  # type: ignore[arg-type]
    return lo <= int(addr) <= hi


def _src_ok(policy: Policy, rule: ForwardingRule, flow: FlowKey) -> bool:
    items = [*rule.src_ips, *(i for g in rule.src_ip_groups for i in policy.source_ip_groups[g])]
    return not items or any(_covers(i, flow.src) for i in items)


def _dst_ok(rule: ForwardingRule, flow: FlowKey, names: frozenset[str]) -> bool:
    if not rule.dest_addresses:
        return True
    return any(any(d.matches(n) for n in names) if isinstance(d, NamePattern)
               else _covers(d, flow.dst) for d in rule.dest_addresses)


def _svc_ok(rule: ForwardingRule, flow: FlowKey) -> bool:
    entries = [e for s in rule.nw_services for e in SERVICES[s].entries]
    return not entries or any(_entry_ok(e, flow) for e in entries)


def _entry_ok(entry: ServiceEntry, flow: FlowKey) -> bool:
    if entry.protocol is ServiceProto.ANY:
        return True
    if {ServiceProto.TCP: 6, ServiceProto.UDP: 17, ServiceProto.ICMP: 1}[entry.protocol] \
            != flow.proto:
        return False
    return not entry.dest_ports or any(p.first <= flow.dport <= p.last for p in entry.dest_ports)


@settings(max_examples=400, deadline=None)
@given(rules(), st.lists(flows, min_size=1, max_size=8),
       st.lists(st.sampled_from(NAMES), max_size=2),
       st.sets(st.integers(48, 63).map(lambda i: str(IPv4Address(BASE + i))), max_size=8))
def test_indexed_matcher_agrees_with_naive_scan(rule_set: tuple[ForwardingRule, ...],
                                                 flow_list: list[FlowKey],
                                                 learned: list[str], live: set[str]) -> None:
    policy = Policy(forwarding_rules=rule_set, network_services=SERVICES,
                    source_ip_groups={"g1": (IPv4Network("10.0.0.0/27"),),
                                      "g2": (AddressRange(IPv4Address(BASE + 30),
                                                          IPv4Address(BASE + 40)),)})
    engine = ForwardingPolicy(policy, ME)
    for flow in flow_list:
        names = Names()
        for name in learned:
            names.learn(str(flow.dst), name)
        pools = Pools(networks={"p": POOL}, live=live)
        got = engine.decide(flow, names, pools, Health()).rule_name
        assert got == naive(policy, flow, names.names_for(flow.dst), live)
