"""The policy's small values as a user writes and reads them (spec §5.1, §6.1, §6.4).

Domain names and wildcards (`*.example.com` matches below the apex, never the apex;
`*abc.example.com` and `a.*.example.com` are invalid), which app segment a name
falls in, port ranges and address ranges as text, rule scope, the default ZIA gateway,
and the bounded memories' rule (full: start again).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from connector.core.memo import remember
from connector.core.model import DnsAction
from connector.core.names import (
    NamePattern,
    name_problem,
    normalise_name,
    parent_domains,
    parse_pattern,
)
from connector.core.policy import (
    DEFAULT_DNS_RULE_NAME,
    AddressRange,
    AppSegment,
    Identity,
    Policy,
    PortRange,
    ZiaGateway,
    default_dns_rule,
    interval_of,
)
from connector.core.segments import SegmentIndex

pytestmark = pytest.mark.unit


def test_names_are_compared_lower_case_without_trailing_dot_or_spaces() -> None:
    assert normalise_name("  App-A.Corp.Example. ") == "app-a.corp.example"


@pytest.mark.parametrize(("text", "pattern", "shown"), [
    ("*.Example.COM.", NamePattern("example.com", wildcard=True), "*.example.com"),
    ("Host.Example.com", NamePattern("host.example.com"), "host.example.com")])
def test_patterns_parse_normalised_and_print_as_written(text: str, pattern: NamePattern,
                                                        shown: str) -> None:
    assert parse_pattern(text) == pattern
    assert str(pattern) == shown


def test_a_wildcard_matches_names_below_its_domain_only() -> None:
    wild = parse_pattern("*.example.com")
    assert wild.matches("a.example.com")
    assert wild.matches("a.b.example.com")
    assert not wild.matches("example.com")  # the apex
    assert not wild.matches("badexample.com")
    assert parse_pattern("example.com").matches("example.com")
    assert not parse_pattern("example.com").matches("a.example.com")


def test_parent_domains_nearest_first() -> None:
    assert list(parent_domains("a.b.c")) == ["b.c", "c"]
    assert list(parent_domains("c")) == []


@pytest.mark.parametrize("text", ["example.com", "*.example.com", "*.x.example", "A_B.example.com.",
                                  "x" * 63 + ".com", ("a" * 62 + ".") * 4 + "b"])
def test_valid_names(text: str) -> None:
    assert name_problem(text) is None


WILDCARD = "a wildcard must be `*.` followed by a domain; `*abc.x` and `a.*.x` are invalid"
LENGTH = "a domain name has 1 to 253 characters"


@pytest.mark.parametrize(("text", "problem"), [
    ("*abc.example.com", WILDCARD),
    ("abs.*.example.com", WILDCARD),
    ("*.*.example.com", WILDCARD),
    ("", LENGTH),
    (("a" * 62 + ".") * 4 + "bc", LENGTH),  # 254 characters
    ("x" * 64 + ".com", f"invalid label '{'x' * 64}' (letters, digits, '-', '_'; 1-63 characters)"),
    ("-a.example.com", "invalid label '-a' (letters, digits, '-', '_'; 1-63 characters)"),
    ("a-.example.com", "invalid label 'a-' (letters, digits, '-', '_'; 1-63 characters)"),
    ("a..example.com", "invalid label '' (letters, digits, '-', '_'; 1-63 characters)"),
    ("a b.example.com", "invalid label 'a b' (letters, digits, '-', '_'; 1-63 characters)"),
])
def test_invalid_names_say_why(text: str, problem: str) -> None:
    assert name_problem(text) == problem


def segments(**domains: tuple[str, ...]) -> SegmentIndex:
    return SegmentIndex({name: AppSegment(name, tuple(parse_pattern(d) for d in ds))
                         for name, ds in domains.items()})


def test_the_most_specific_segment_wins() -> None:
    index = segments(wide=("*.example.com",), narrow=("*.corp.example.com",),
                     exact=("app.corp.example.com",), also_wide=("*.example.com",))
    assert index.segments_for("App.Corp.Example.com.") == ("exact", "narrow", "also_wide",
                                                           "wide")
    assert index.segment_for("x.corp.example.com") == "narrow"
    assert index.segment_for("example.com") is None  # no wildcard matches its apex


def test_is_zpa_name_means_some_segment_matches() -> None:
    index = segments(app=("*.corp.example",))
    assert index.is_zpa_name("a.corp.example")
    assert not index.is_zpa_name("corp.example")


@pytest.mark.parametrize(("ports", "text"), [(PortRange(443, 443), "443"),
                                             (PortRange(8000, 8080), "8000-8080")])
def test_port_ranges_print_as_written(ports: PortRange, text: str) -> None:
    assert str(ports) == text


def test_address_matches_cover_inclusive_intervals() -> None:
    one = IPv4Address("10.0.0.5")
    span = AddressRange(IPv4Address("10.0.0.9"), IPv4Address("10.0.0.20"))
    assert interval_of(one) == (int(one), int(one))
    assert interval_of(IPv4Network("10.0.1.0/24")) == (int(IPv4Address("10.0.1.0")),
                                                       int(IPv4Address("10.0.1.255")))
    assert interval_of(span) == (int(span.first), int(span.last))
    assert str(span) == "10.0.0.9-10.0.0.20"


@pytest.mark.parametrize(("locations", "groups", "applies"), [
    ((), (), True), (("vpc-lab",), (), True), (("vpc-b",), (), False),
    ((), ("ccg-1",), True), ((), ("ccg-2",), False), (("vpc-lab",), ("ccg-2",), False),
    (("vpc-b", "vpc-lab"), ("ccg-2", "ccg-1"), True)])
def test_empty_scope_means_every_connector(locations: tuple[str, ...], groups: tuple[str, ...],
                                           applies: bool) -> None:
    assert Identity("cc1", "ccg-1", "vpc-lab").in_scope(locations, groups) is applies


def test_default_zia_gateway_is_automatic_and_fail_close() -> None:
    named = ZiaGateway("edge", IPv4Address("198.19.1.1"), fail_closed=False)
    policy = Policy(zia_gateways={"edge": named})
    assert policy.zia_gateway("edge") == named
    assert policy.zia_gateway(None) == ZiaGateway("default", None, None, fail_closed=True)
    assert policy.zia_gateway("missing").fail_closed


def test_default_dns_rule_is_the_named_catch_all() -> None:
    rule = default_dns_rule()
    assert (rule.name, rule.action, rule.order) == (DEFAULT_DNS_RULE_NAME, DnsAction.ALLOW, 0)
    assert (rule.src_ips, rule.dest_addresses, rule.locations, rule.ec_groups) == ((),) * 4
    zpa = default_dns_rule(DnsAction.REDIR_ZPA, zpa_ip_group="east")
    redirect = default_dns_rule(DnsAction.REDIR_REQ, dns_gateway="gw")
    assert (zpa.zpa_ip_group, zpa.dns_gateway) == ("east", None)
    assert (redirect.zpa_ip_group, redirect.dns_gateway) == (None, "gw")


def test_a_memory_that_is_full_starts_again() -> None:
    table: dict[str, int] = {}
    assert remember(table, "a", 1, limit=2) == 1
    remember(table, "b", 2, limit=2)
    assert table == {"a": 1, "b": 2}  # up to the limit, everything is kept
    assert remember(table, "c", 3, limit=2) == 3
    assert table == {"c": 3}


def test_workload_networks_are_the_source_groups_networks_and_hosts_each_once() -> None:
    """A host address names a /32 network; a range is left out; a network in two
    groups is listed once, in the order the groups give them."""
    lan, host = IPv4Network("10.10.1.0/24"), IPv4Address("10.10.2.5")
    hosts = AddressRange(IPv4Address("10.10.3.1"), IPv4Address("10.10.3.9"))
    policy = Policy(source_ip_groups={"lan": (lan, host, hosts), "again": (lan,)})
    assert policy.workload_networks() == (lan, IPv4Network("10.10.2.5/32"))
