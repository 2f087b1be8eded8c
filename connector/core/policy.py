"""The policy objects, as typed values: rules, groups, services, segments, gateways, pools.

`connector.config` builds a `Policy` from YAML; code (tests, benchmarks) may build
one directly. Names in rules (`src_ip_groups`, `nw_services`, ...) refer to the
mappings of the same `Policy`; `Policy` does not check that, the config loader does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from ipaddress import IPv4Address, IPv4Network

from connector.core.model import DnsAction, DnsGateway, Method
from connector.core.names import NamePattern

DEFAULT_POOL = "default"
DEFAULT_POOL_NETWORK = IPv4Network("10.254.0.0/19")
DEFAULT_ZIA_GATEWAY = "default"
DEFAULT_DNS_RULE_NAME = "Default Connector DNS Rule"


@dataclass(frozen=True, slots=True)
class AddressRange:
    """An inclusive `first-last` IPv4 range."""

    first: IPv4Address
    last: IPv4Address

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


IpMatch = IPv4Address | IPv4Network | AddressRange
DestAddress = IPv4Address | IPv4Network | AddressRange | NamePattern


def interval_of(match: IpMatch) -> tuple[int, int]:
    """The inclusive integer interval an address, prefix or range covers."""
    if isinstance(match, IPv4Address):
        return int(match), int(match)
    if isinstance(match, IPv4Network):
        return int(match.network_address), int(match.broadcast_address)
    return int(match.first), int(match.last)


@dataclass(frozen=True, slots=True)
class PortRange:
    first: int
    last: int

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"


ALL_PORTS = PortRange(0, 65535)


class ServiceProto(Enum):
    TCP = "TCP"
    UDP = "UDP"
    ICMP = "ICMP"
    ANY = "ANY"


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    """A protocol and its destination ports; no ports means every port."""

    protocol: ServiceProto
    dest_ports: tuple[PortRange, ...] = ()


@dataclass(frozen=True, slots=True)
class NetworkService:
    name: str
    entries: tuple[ServiceEntry, ...]


@dataclass(frozen=True, slots=True)
class ZiaGateway:
    """Primary/secondary ZIA edges (None = automatic) and the fail-close switch."""

    name: str
    primary: IPv4Address | None = None
    secondary: IPv4Address | None = None
    fail_closed: bool = True


@dataclass(frozen=True, slots=True)
class AppSegment:
    """A ZPA application segment: the domains it answers for, and where the app lives."""

    name: str
    domains: tuple[NamePattern, ...]
    servers: tuple[IPv4Address, ...] = ()
    app_connector_group: str = ""


@dataclass(frozen=True, slots=True)
class ForwardingRule:
    """One `EC_RDR` rule. Empty criteria mean any; see rules.py for the semantics."""

    order: int
    name: str
    method: Method
    enabled: bool = True
    locations: tuple[str, ...] = ()
    ec_groups: tuple[str, ...] = ()
    src_ips: tuple[IpMatch, ...] = ()
    src_ip_groups: tuple[str, ...] = ()
    nw_services: tuple[str, ...] = ()
    dest_addresses: tuple[DestAddress, ...] = ()
    dest_ip_groups: tuple[str, ...] = ()
    zpa_application_segments: tuple[str, ...] = ()
    zpa_all_app_segments: bool = False
    proxy_gateway: str | None = None


@dataclass(frozen=True, slots=True)
class DnsRule:
    """One `EC_DNS` rule; `dest_addresses` are the queried names."""

    order: int
    name: str
    action: DnsAction
    enabled: bool = True
    locations: tuple[str, ...] = ()
    ec_groups: tuple[str, ...] = ()
    src_ips: tuple[IpMatch, ...] = ()
    src_ip_groups: tuple[str, ...] = ()
    dest_addresses: tuple[NamePattern, ...] = ()
    dest_ip_groups: tuple[str, ...] = ()
    zpa_ip_group: str | None = None
    dns_gateway: str | None = None


def default_dns_rule(action: DnsAction = DnsAction.ALLOW, *, zpa_ip_group: str | None = None,
                     dns_gateway: str | None = None) -> DnsRule:
    """The undeletable catch-all, always last; only its action (and target) change."""
    return DnsRule(0, DEFAULT_DNS_RULE_NAME, action, zpa_ip_group=zpa_ip_group,
                   dns_gateway=dns_gateway)


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything the decision core needs, already validated."""

    forwarding_rules: tuple[ForwardingRule, ...] = ()
    dns_rules: tuple[DnsRule, ...] = ()
    dns_default: DnsRule = field(default_factory=default_dns_rule)
    source_ip_groups: Mapping[str, tuple[IpMatch, ...]] = field(default_factory=dict)
    dest_ip_groups: Mapping[str, tuple[DestAddress, ...]] = field(default_factory=dict)
    network_services: Mapping[str, NetworkService] = field(default_factory=dict)
    app_segments: Mapping[str, AppSegment] = field(default_factory=dict)
    zia_gateways: Mapping[str, ZiaGateway] = field(default_factory=dict)
    dns_gateways: Mapping[str, DnsGateway] = field(default_factory=dict)
    ip_pools: Mapping[str, IPv4Network] = field(
        default_factory=lambda: {DEFAULT_POOL: DEFAULT_POOL_NETWORK})

    def zia_gateway(self, name: str | None) -> ZiaGateway:
        """The named gateway, or the default one (automatic edges, fail-close)."""
        key = name or DEFAULT_ZIA_GATEWAY
        return self.zia_gateways.get(key) or ZiaGateway(key)

    def workload_networks(self) -> tuple[IPv4Network, ...]:
        """The networks of the source IP groups: where workloads are (DNS ACL default,
        licences, trusted sources). Ranges are left out: they name hosts, not networks."""
        return tuple(dict.fromkeys(
            item if isinstance(item, IPv4Network) else IPv4Network(f"{item}/32")
            for items in self.source_ip_groups.values() for item in items
            if isinstance(item, IPv4Network | IPv4Address)))


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the deciding connector is: rules naming other locations/groups skip it."""

    name: str
    ec_group: str
    location: str

    def in_scope(self, locations: tuple[str, ...], ec_groups: tuple[str, ...]) -> bool:
        return (not locations or self.location in locations) and (
            not ec_groups or self.ec_group in ec_groups)
