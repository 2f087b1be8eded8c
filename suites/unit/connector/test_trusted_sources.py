"""New flows from public sources on the service interface are dropped (spec §2.5, row X3).

The oracle is the spec's own definition: private means RFC 1918 or CGNAT
(RFC 6598); a configured workload network is trusted whatever its space.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network

import pytest

from connector.core.model import FlowKey, IpProto, Method, NoNames, NoPools
from connector.core.policy import ForwardingRule
from connector.core.rules import ForwardingPolicy
from connector.core.steering import Dropped, Segment, Steering, ToKernel, drop_reason
from connector.core.tunnel_health import KeepaliveTiming, TunnelHealth
from suites.unit.connector.policy_builders import ME, policy, rule

pytestmark = pytest.mark.unit
WEB = IPv4Address("198.18.10.10")
SPEC_PRIVATE = [IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                         "100.64.0.0/10")]


def _decide(src: str, *rules: ForwardingRule, trusted: object = "default") -> Method:
    pol = policy(*rules)
    kwargs = {} if trusted == "default" else {"trusted_sources": trusted}
    core = ForwardingPolicy(pol, ME, **kwargs)  # type: ignore[arg-type]
    health = TunnelHealth(pol.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: 0.0)
    decision = core.decide(FlowKey(IpProto.TCP, IPv4Address(src), WEB, 40000, 80),
                           NoNames(), NoPools(), health)
    return decision.method


@pytest.mark.parametrize("src", [
    "10.0.0.1", "10.255.255.254", "172.16.0.1", "172.31.255.254", "192.168.0.1",
    "192.168.255.254", "100.64.0.1", "100.127.255.254"])
def test_private_and_cgnat_sources_reach_the_rules(src: str) -> None:
    assert any(IPv4Address(src) in n for n in SPEC_PRIVATE)
    assert _decide(src, rule(1, Method.DIRECT)) is Method.DIRECT


@pytest.mark.parametrize("src", [
    "9.255.255.255", "11.0.0.0", "172.15.255.255", "172.32.0.0", "192.167.255.255",
    "192.169.0.0", "100.63.255.255", "100.128.0.0", "198.18.99.99", "203.0.113.9"])
def test_public_sources_are_dropped_before_any_rule(src: str) -> None:
    assert not any(IPv4Address(src) in n for n in SPEC_PRIVATE)
    assert _decide(src, rule(1, Method.DIRECT)) is Method.DROP


def test_a_workload_network_in_public_space_is_trusted() -> None:
    """policy_builders' `workloads` group is 10.10.1.0/24; a policy may name others."""
    pol_rule = rule(1, Method.DIRECT)
    pol = policy(pol_rule)
    public_workloads = {**pol.source_ip_groups, "dmz": (IPv4Network("198.51.100.0/24"),)}
    core = ForwardingPolicy(replace(pol, source_ip_groups=public_workloads), ME)
    health = TunnelHealth(pol.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: 0.0)
    key = FlowKey(IpProto.TCP, IPv4Address("198.51.100.7"), WEB, 40000, 80)
    assert core.decide(key, NoNames(), NoPools(), health).method is Method.DIRECT
    outside = FlowKey(IpProto.TCP, IPv4Address("198.51.101.7"), WEB, 40000, 80)
    assert core.decide(outside, NoNames(), NoPools(), health).method is Method.DROP


def test_a_workload_group_naming_one_public_host_trusts_exactly_that_host() -> None:
    """A single address in a source group is a /32 workload network: its one address is
    both the first and the last of the range."""
    pol = policy(rule(1, Method.DIRECT))
    jump = {**pol.source_ip_groups, "jump": (IPv4Address("198.51.100.7"),)}
    core = ForwardingPolicy(replace(pol, source_ip_groups=jump), ME)
    health = TunnelHealth(pol.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: 0.0)
    methods = [core.decide(FlowKey(IpProto.TCP, IPv4Address(src), WEB, 40000, 80), NoNames(),
                           NoPools(), health).method
               for src in ("198.51.100.6", "198.51.100.7", "198.51.100.8")]
    assert methods == [Method.DROP, Method.DIRECT, Method.DROP]


def test_accepting_public_sources_is_an_explicit_setting() -> None:
    assert _decide("203.0.113.9", rule(1, Method.DIRECT), trusted=None) is Method.DIRECT


def test_the_drop_is_counted_and_logged_by_its_own_reason() -> None:
    pol = policy(rule(1, Method.DIRECT))
    health = TunnelHealth(pol.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: 0.0)
    logged = []
    steer = Steering(ForwardingPolicy(pol, ME), NoNames(), NoPools(), health,
                     on_new_flow=logged.append)
    seg = Segment(FlowKey(IpProto.TCP, IPv4Address("203.0.113.9"), WEB, 40000, 80), 60, 0x02)
    action = steer.inbound(seg, b"", None, 0.0)
    assert isinstance(action, Dropped)
    assert action.reason == "public_source"
    assert [f.decision.method for f in logged] == [Method.DROP]
    private = Segment(FlowKey(IpProto.TCP, IPv4Address("10.10.1.11"), WEB, 40000, 80), 60, 2)
    assert isinstance(steer.inbound(private, b"", None, 0.0), ToKernel)


def test_drop_reasons_name_the_predefined_rules_and_fail_close() -> None:
    pol = policy(rule(1, Method.DROP))
    health = TunnelHealth(pol.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: 0.0)
    core = ForwardingPolicy(pol, ME)
    from_rule = core.decide(FlowKey(IpProto.TCP, IPv4Address("10.10.1.11"), WEB, 1, 80),
                            NoNames(), NoPools(), health)
    assert drop_reason(from_rule) == "policy_drop"
    no_rule = ForwardingPolicy(policy(), ME).decide(
        FlowKey(IpProto.TCP, IPv4Address("10.10.1.11"), WEB, 1, 80), NoNames(), NoPools(),
        health)  # the default ZIA rule, no tunnel alive, fail-close (the default)
    assert no_rule.method is Method.DROP
    assert drop_reason(no_rule) == "zia_fail_close"
