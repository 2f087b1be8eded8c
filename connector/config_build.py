"""Turn parsed config sections into a core `Policy`, collecting every problem.

Named objects (groups, services, segments, pools, gateways) are built first;
rules (config_rules) then resolve their references against them.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Any

from pydantic import TypeAdapter, ValidationError

from connector.config_rules import RuleContext, build_dns_default, build_dns_rules, build_fwd_rules
from connector.config_schema import RawAppSegment, RawDnsGateway, RawServiceEntry, RawZiaGateway
from connector.config_values import (
    IP_HINT,
    NAME_HINT,
    parse_dest,
    parse_ip_match,
    parse_name,
    parse_ports,
)
from connector.core.model import DnsGateway
from connector.core.names import NamePattern
from connector.core.policy import (
    DEFAULT_POOL,
    DEFAULT_POOL_NETWORK,
    AppSegment,
    DestAddress,
    IpMatch,
    NetworkService,
    Policy,
    PortRange,
    ServiceEntry,
    ServiceProto,
    ZiaGateway,
)
from yamlissues import Issue

MAX_DNS_GATEWAYS = 255
_ENTRIES = TypeAdapter(list[RawServiceEntry])


def build_policy(data: dict[str, Any], raw: dict[str, Any], issues: list[Issue]) -> Policy:
    ctx = RuleContext(
        locations=frozenset(_str_list(data.get("locations"), "locations", issues)),
        source_groups=_groups(data.get("source_ip_groups"), "source_ip_groups",
                              parse_ip_match, issues),
        dest_groups=_groups(data.get("dest_ip_groups"), "dest_ip_groups", parse_dest, issues),
        services=_services(data.get("network_services"), issues),
        segments=_segments(raw["app_segments"], issues),
        pools=_pools(data.get("ip_pools"), issues),
        zia_gateways=_zia(raw["zia_gateways"]),
        dns_gateways=_dns_gateways(raw["dns_gateways"], issues),
    )
    return Policy(
        forwarding_rules=build_fwd_rules(raw["forwarding_rules"], ctx, issues),
        dns_rules=build_dns_rules(raw["dns_rules"], ctx, issues),
        dns_default=build_dns_default(raw["default_dns_rule"], ctx, issues),
        source_ip_groups=ctx.source_groups, dest_ip_groups=ctx.dest_groups,
        network_services=ctx.services, app_segments=ctx.segments,
        zia_gateways=ctx.zia_gateways, dns_gateways=ctx.dns_gateways, ip_pools=ctx.pools)


def _str_list(value: Any, path: str, issues: list[Issue]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        issues.append(Issue("", path, "must be a list of names", f"write `{path}: [name, ...]`"))
        return []
    return value


def _groups(value: Any, path: str, parse: Any, issues: list[Issue]) -> dict[str, tuple[Any, ...]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        issues.append(Issue("", path, "must be a mapping of group name to a list",
                            f"write `{path}: {{name: [10.1.0.0/16, ...]}}`"))
        return {}
    groups: dict[str, tuple[Any, ...]] = {}
    for name, items in value.items():
        entries = _str_list([str(i) for i in items] if isinstance(items, list) else items,
                            f"{path}.{name}", issues)
        parsed = [parse(item) for item in entries]
        for i, item in enumerate(parsed):
            if isinstance(item, str):
                issues.append(Issue("", f"{path}.{name}[{i}]", item, IP_HINT))
        groups[str(name)] = tuple(p for p in parsed if not isinstance(p, str))
    return groups


def _services(value: Any, issues: list[Issue]) -> dict[str, NetworkService]:
    if not isinstance(value, dict):
        if value is not None:
            issues.append(Issue("", "network_services", "must be a mapping of name to entries",
                                "write `network_services: {dns: [{protocol: UDP, dest_ports: "
                                "[53]}]}`"))
        return {}
    services = {}
    for name, entries in value.items():
        path = f"network_services.{name}"
        try:
            raw_entries = _ENTRIES.validate_python(entries)
        except ValidationError as exc:
            issues.append(Issue("", path, exc.errors()[0]["msg"].lower(),
                                "each entry is {protocol: TCP|UDP|ICMP|ANY, dest_ports: [...]}"))
            continue
        built = [_service_entry(e, f"{path}[{i}]", issues) for i, e in enumerate(raw_entries)]
        services[str(name)] = NetworkService(str(name), tuple(built))
    return services


def _service_entry(raw: RawServiceEntry, path: str, issues: list[Issue]) -> ServiceEntry:
    ports: list[PortRange] = []
    for i, value in enumerate(raw.dest_ports):
        parsed = parse_ports(value)
        if isinstance(parsed, str):
            issues.append(Issue("", f"{path}.dest_ports[{i}]", parsed,
                                "write a port (443) or a range (\"8000-8100\")"))
        else:
            ports.append(parsed)
    if ports and raw.protocol in ("ICMP", "ANY"):
        issues.append(Issue("", f"{path}.dest_ports", f"{raw.protocol} has no ports",
                            "remove dest_ports, or use TCP or UDP"))
    return ServiceEntry(ServiceProto(raw.protocol), tuple(ports))


def _segments(raw: dict[str, RawAppSegment | None], issues: list[Issue]) -> dict[str, AppSegment]:
    segments = {}
    for name, seg in raw.items():
        if seg is None:
            continue
        domains: list[NamePattern] = []
        for i, text in enumerate(seg.domains):
            parsed = parse_name(text)
            if isinstance(parsed, NamePattern):
                domains.append(parsed)
            else:
                issues.append(Issue("", f"app_segments.{name}.domains[{i}]", str(parsed),
                                    NAME_HINT))
        segments[name] = AppSegment(name, tuple(domains), tuple(seg.servers),
                                    seg.app_connector_group)
    return segments


def _pools(value: Any, issues: list[Issue]) -> dict[str, IPv4Network]:
    pools = {DEFAULT_POOL: DEFAULT_POOL_NETWORK}
    if value is None:
        return pools
    if not isinstance(value, dict):
        issues.append(Issue("", "ip_pools", "must be a mapping of pool name to one CIDR",
                            "write `ip_pools: {default: 10.254.0.0/19}`"))
        return pools
    for name, cidr in value.items():
        parsed = parse_ip_match(str(cidr))
        if not isinstance(parsed, IPv4Network) or parsed.num_addresses < 4:
            issues.append(Issue("", f"ip_pools.{name}", f"'{cidr}' is not a usable pool",
                                "one CIDR per pool, /30 or larger (10.254.0.0/19)"))
            continue
        pools[str(name)] = parsed
    return pools


def _zia(raw: dict[str, RawZiaGateway | None]) -> dict[str, ZiaGateway]:
    return {name: ZiaGateway(name, g.primary, g.secondary, g.fail_closed)
            for name, g in raw.items() if g is not None}


def _dns_gateways(raw: dict[str, RawDnsGateway | None],
                  issues: list[Issue]) -> dict[str, DnsGateway]:
    if len(raw) > MAX_DNS_GATEWAYS:
        issues.append(Issue("", "dns_gateways", f"{len(raw)} gateways, at most "
                            f"{MAX_DNS_GATEWAYS}", "merge gateways that share servers"))
    return {name: DnsGateway(name, g.primary, g.secondary, g.failure_behavior)
            for name, g in raw.items() if g is not None}


__all__ = ["build_policy", "DestAddress", "IpMatch"]
