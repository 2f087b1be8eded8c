"""Sub-locations of routed traffic by source range (issue 18 part 2), pure and in process.

Routed traffic (ILB next hop) has no GWLB endpoint; `runtime.routed_locations`
names each sub-location's source ranges, as ZIA defines sub-locations by internal
IP ranges. Expected outcomes come from spec §5.1 (`locations`: a rule naming
locations applies to their flows only; none means all) and §5.2 (first match),
applied to the ranges written in each test, not from the code.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network

import pytest
from scapy.layers.inet import IP, TCP

from connector.core.model import Method, NoNames, NoPools
from connector.core.routed_locations import (
    RoutedLocation,
    SourceLocations,
    SourceScope,
    source_scope,
)
from connector.core.rules import ForwardingPolicy
from connector.core.steering import NewFlow, Steering
from connector.core.tunnel_health import KeepaliveTiming, TunnelHealth
from connector.service.counters import Counters
from connector.service.routed_path import RoutedPath
from suites.unit.connector.policy_builders import ME, policy, rule

pytestmark = pytest.mark.unit
A_NETS = (IPv4Network("10.10.1.128/26"), IPv4Network("10.10.8.0/24"))
B_NETS = (IPv4Network("10.10.1.192/26"),)
ROUTED = (RoutedLocation("loc-a", A_NETS), RoutedLocation("loc-b", B_NETS))


def test_a_source_is_in_the_location_whose_range_holds_it_else_the_own() -> None:
    where = SourceLocations(ROUTED)
    assert where.location_of(IPv4Address("10.10.1.130")) == "loc-a"
    assert where.location_of(IPv4Address("10.10.8.1")) == "loc-a"
    assert where.location_of(IPv4Address("10.10.1.200")) == "loc-b"
    assert where.location_of(IPv4Address("10.10.1.11")) == ""  # in no range: own
    assert SourceLocations().location_of(IPv4Address("10.10.1.130")) == ""


@pytest.mark.parametrize(("locations", "expected"), [
    ((), None),  # no locations: every source
    (("loc-a",), SourceScope(True, A_NETS)),
    (("loc-a", "loc-b"), SourceScope(True, (*A_NETS, *B_NETS))),
    (("vpc-lab",), SourceScope(False, (*A_NETS, *B_NETS))),  # own: all but the ranges
    (("vpc-lab", "loc-b"), SourceScope(False, A_NETS)),
    (("vpc-lab", "loc-a", "loc-b"), None),  # every location there is
])
def test_a_rules_locations_narrow_the_routed_sources_it_matches(
        locations: tuple[str, ...], expected: SourceScope | None) -> None:
    assert source_scope(locations, "vpc-lab", ROUTED) == expected


def test_without_routed_locations_a_rule_is_scoped_as_before() -> None:
    assert source_scope((), "vpc-lab", ()) is None
    assert source_scope(("vpc-lab",), "vpc-lab", ()) is None


def test_a_rule_naming_neither_the_own_nor_a_routed_location_matches_no_source() -> None:
    """Such a rule is for another location's flows (a GWLB endpoint's): no routed source
    is in it, with routed locations or without, so its scope is inside no network."""
    nowhere = SourceScope(True, ())
    assert source_scope(("loc-gwlb",), "vpc-lab", ()) == nowhere
    assert source_scope(("loc-gwlb",), "vpc-lab", ROUTED) == nowhere


def test_the_routed_locations_are_named_in_their_configured_order() -> None:
    assert SourceLocations(ROUTED).names() == ("loc-a", "loc-b")
    assert SourceLocations().names() == ()


# web:80 is dropped for loc-b's sources only (rule 1), ZIA for loc-a's (rule 2),
# else the default ZIA rule, which, fail-close with no tunnel up, drops too.
PER_LOCATION = (rule(1, Method.DROP, locations=("loc-b",)),
                rule(2, Method.ZIA, locations=("loc-a",)))


def _routed_path(log: list[NewFlow]) -> RoutedPath:
    pol = policy(*PER_LOCATION)
    tunnels = TunnelHealth(pol.zia_gateways, KeepaliveTiming(1.0, 3.0), lambda: 0.0)
    located = {loc: ForwardingPolicy(pol, replace(ME, location=loc)) for loc in ("loc-a", "loc-b")}
    steering = Steering(ForwardingPolicy(pol, ME), NoNames(), NoPools(), tunnels,
                        on_new_flow=log.append, locations=located)
    return RoutedPath(steering, Counters(), locations=SourceLocations(ROUTED))


def test_a_routed_flow_is_decided_and_logged_by_its_sources_location() -> None:
    log: list[NewFlow] = []
    path = _routed_path(log)
    for src in ("10.10.1.200", "10.10.1.130", "10.10.1.11"):
        path.handle(bytes(IP(src=src, dst="198.18.10.10") / TCP(sport=40000, dport=80)))
    assert [(f.key.location, f.decision.rule_name) for f in log] == [
        ("loc-b", "r1"), ("loc-a", "r2"), ("", "Default ZIA Rule")]
    assert path.counters.get("dropped_policy_drop") == 1  # loc-b's, by its own rule
