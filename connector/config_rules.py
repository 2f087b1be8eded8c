"""Forwarding and DNS rules from parsed config: values, limits, references, restrictions.

Limits and restrictions follow spec §5.1 and §6.1: order unique, name ≤ 31
characters and unique, ≤ 8 locations, ≤ 32 connector groups, ≤ 1,024 network
services, 1,020 rules per type, ≤ 8,000 FQDN entries per rule and 16,000 in all
(§5.2: the higher published figure, see docs/decisions.md), the ECZPA attribute
restrictions, and the required targets of REDIR_ZPA and REDIR_REQ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Any

from connector.config_schema import RawDefaultDnsRule, RawDnsRule, RawForwardingRule
from connector.config_values import IP_HINT, NAME_HINT, parse_dest, parse_ip_match, parse_name
from connector.core.model import DnsAction, DnsGateway, Method
from connector.core.names import NamePattern
from connector.core.policy import (
    AppSegment,
    DestAddress,
    DnsRule,
    ForwardingRule,
    IpMatch,
    NetworkService,
    ZiaGateway,
    default_dns_rule,
)
from yamlissues import Issue

MAX_RULES = 1020
MAX_NAME = 31
MAX_LOCATIONS = 8
MAX_EC_GROUPS = 32
MAX_SERVICES = 1024
MAX_FQDNS_PER_RULE = 8000
MAX_FQDNS = 16000
ZPA_FORBIDDEN = ("dest_addresses", "dest_ip_groups", "proxy_gateway", "nw_services")


@dataclass(frozen=True, slots=True)
class RuleContext:
    """The named objects rules may refer to."""

    locations: frozenset[str]
    source_groups: Mapping[str, tuple[IpMatch, ...]]
    dest_groups: Mapping[str, tuple[DestAddress, ...]]
    services: Mapping[str, NetworkService]
    segments: Mapping[str, AppSegment]
    pools: Mapping[str, IPv4Network]
    zia_gateways: Mapping[str, ZiaGateway]
    dns_gateways: Mapping[str, DnsGateway]


def build_fwd_rules(raw: dict[int, RawForwardingRule | None], ctx: RuleContext,
                    issues: list[Issue]) -> tuple[ForwardingRule, ...]:
    _check_list(raw, "forwarding_rules", issues)
    rules, fqdns = [], 0
    for i, rule in raw.items():
        if rule is None:
            continue
        path = f"forwarding_rules[{i}]"
        _check_common(rule, path, ctx, issues)
        _check_method(rule, path, ctx, issues)
        dests = _parse_all(rule.dest_addresses, f"{path}.dest_addresses", parse_dest, issues,
                           IP_HINT + ", an FQDN (a.example.com) or *.example.com")
        fqdns += _check_fqdns(dests, path, issues)
        rules.append(ForwardingRule(
            rule.order, rule.name, rule.forward_method, rule.state == "ENABLED",
            tuple(rule.locations), tuple(rule.ec_groups),
            _parse_all(rule.src_ips, f"{path}.src_ips", parse_ip_match, issues),
            tuple(rule.src_ip_groups), tuple(rule.nw_services), dests,
            tuple(rule.dest_ip_groups), tuple(rule.zpa_application_segments),
            rule.zpa_all_app_segments, rule.proxy_gateway))
    if fqdns > MAX_FQDNS:
        issues.append(Issue("", "forwarding_rules", f"{fqdns} FQDN/wildcard entries in all, "
                            f"at most {MAX_FQDNS}", "use destination groups shared by rules"))
    return tuple(sorted(rules, key=lambda r: r.order))


def build_dns_rules(raw: dict[int, RawDnsRule | None], ctx: RuleContext,
                    issues: list[Issue]) -> tuple[DnsRule, ...]:
    _check_list(raw, "dns_rules", issues)
    rules = []
    for i, rule in raw.items():
        if rule is None:
            continue
        path = f"dns_rules[{i}]"
        _check_common(rule, path, ctx, issues)
        _check_action(rule, path, ctx, issues)
        names = _parse_all(rule.dest_addresses, f"{path}.dest_addresses", parse_name, issues,
                           NAME_HINT)
        rules.append(DnsRule(
            rule.order, rule.name, rule.action, rule.state == "ENABLED",
            tuple(rule.locations), tuple(rule.ec_groups),
            _parse_all(rule.src_ips, f"{path}.src_ips", parse_ip_match, issues),
            tuple(rule.src_ip_groups), tuple(p for p in names if isinstance(p, NamePattern)),
            tuple(rule.dest_ip_groups), rule.zpa_ip_group, rule.dns_gateway))
    return tuple(sorted(rules, key=lambda r: r.order))


def build_dns_default(raw: RawDefaultDnsRule | None, ctx: RuleContext,
                      issues: list[Issue]) -> DnsRule:
    raw = raw or RawDefaultDnsRule()
    _check_action(raw, "default_dns_rule", ctx, issues)
    return default_dns_rule(raw.action, zpa_ip_group=raw.zpa_ip_group,
                            dns_gateway=raw.dns_gateway)


def _check_list(raw: Mapping[int, Any], section: str, issues: list[Issue]) -> None:
    if len(raw) > MAX_RULES:
        issues.append(Issue("", section, f"{len(raw)} rules, at most {MAX_RULES}",
                            "merge rules that share a method"))
    for key, hint in (("order", "each rule needs its own order"),
                      ("name", "rule names are unique")):
        seen: dict[object, int] = {}
        for i, rule in raw.items():
            if rule is None:
                continue
            value = getattr(rule, key)
            if value in seen:
                issues.append(Issue("", f"{section}[{i}].{key}", f"{key} {value!r} is already "
                                    f"used by {section}[{seen[value]}]", hint))
            seen.setdefault(value, i)


def _check_common(rule: Any, path: str, ctx: RuleContext, issues: list[Issue]) -> None:
    if len(rule.name) > MAX_NAME:
        issues.append(Issue("", f"{path}.name", f"{len(rule.name)} characters, at most "
                            f"{MAX_NAME}", "shorten the rule name"))
    _check_count(rule.locations, MAX_LOCATIONS, f"{path}.locations", issues)
    _check_count(rule.ec_groups, MAX_EC_GROUPS, f"{path}.ec_groups", issues)
    _check_refs(rule.locations, ctx.locations, f"{path}.locations", "locations", issues)
    _check_refs(rule.src_ip_groups, ctx.source_groups, f"{path}.src_ip_groups",
                "source_ip_groups", issues)
    _check_refs(rule.dest_ip_groups, ctx.dest_groups, f"{path}.dest_ip_groups",
                "dest_ip_groups", issues)


def _check_method(rule: RawForwardingRule, path: str, ctx: RuleContext,
                  issues: list[Issue]) -> None:
    _check_count(rule.nw_services, MAX_SERVICES, f"{path}.nw_services", issues)
    _check_refs(rule.nw_services, ctx.services, f"{path}.nw_services", "network_services",
                issues)
    if rule.forward_method is Method.ZPA:
        for key in ZPA_FORBIDDEN:
            if getattr(rule, key):
                issues.append(Issue("", f"{path}.{key}", f"an ECZPA rule cannot set {key}",
                                    "ZPA rules select app segments; remove this criterion"))
        _check_refs(rule.zpa_application_segments, ctx.segments,
                    f"{path}.zpa_application_segments", "app_segments", issues)
        return
    if rule.zpa_application_segments or rule.zpa_all_app_segments:
        issues.append(Issue("", f"{path}.zpa_application_segments",
                            f"a {rule.forward_method.value} rule cannot select ZPA app segments",
                            "use forward_method: ECZPA, or remove the segments"))
    if rule.proxy_gateway is not None and rule.forward_method is not Method.ZIA:
        issues.append(Issue("", f"{path}.proxy_gateway", "only ZIA rules pick a gateway",
                            "remove proxy_gateway"))
    elif rule.proxy_gateway is not None:
        _check_refs([rule.proxy_gateway], ctx.zia_gateways, f"{path}.proxy_gateway",
                    "zia_gateways", issues, single=True)


def _check_action(rule: Any, path: str, ctx: RuleContext, issues: list[Issue]) -> None:
    if rule.action is DnsAction.REDIR_ZPA:
        if rule.zpa_ip_group is None:
            issues.append(Issue("", f"{path}.zpa_ip_group", "REDIR_ZPA needs an IP pool",
                                f"name one of: {', '.join(sorted(ctx.pools))}"))
        if getattr(rule, "dest_ip_groups", None):
            issues.append(Issue("", f"{path}.dest_ip_groups",
                                "a REDIR_ZPA rule cannot set dest_ip_groups",
                                "select the queried names with dest_addresses"))
    elif rule.zpa_ip_group is not None:
        issues.append(Issue("", f"{path}.zpa_ip_group", "only REDIR_ZPA uses an IP pool",
                            "remove zpa_ip_group"))
    if rule.action is DnsAction.REDIR_REQ and rule.dns_gateway is None:
        issues.append(Issue("", f"{path}.dns_gateway", "REDIR_REQ needs a DNS gateway",
                            f"name one of: {', '.join(sorted(ctx.dns_gateways)) or '(none)'}"))
    elif rule.action is not DnsAction.REDIR_REQ and rule.dns_gateway is not None:
        issues.append(Issue("", f"{path}.dns_gateway", "only REDIR_REQ uses a DNS gateway",
                            "remove dns_gateway"))
    if rule.zpa_ip_group is not None:
        _check_refs([rule.zpa_ip_group], ctx.pools, f"{path}.zpa_ip_group", "ip_pools",
                    issues, single=True)
    if rule.dns_gateway is not None:
        _check_refs([rule.dns_gateway], ctx.dns_gateways, f"{path}.dns_gateway",
                    "dns_gateways", issues, single=True)


def _check_count(values: list[str], limit: int, path: str, issues: list[Issue]) -> None:
    if len(values) > limit:
        issues.append(Issue("", path, f"{len(values)} entries, at most {limit}",
                            "split the rule, or use a group"))


def _check_refs(names: list[str], known: Mapping[str, Any] | frozenset[str], path: str,
                section: str, issues: list[Issue], *, single: bool = False) -> None:
    unknown = [(i, name) for i, name in enumerate(names) if name not in known]
    if not unknown:
        return
    what = section[:-1].replace("_", " ")
    listed = ", ".join(f"'{name}'" for _, name in unknown)
    where = path if single or len(unknown) > 1 else f"{path}[{unknown[0][0]}]"
    choices = ", ".join(sorted(known)[:8]) or "(none defined)"
    issues.append(Issue("", where, f"unknown {what}{'s' if len(unknown) > 1 else ''} {listed}",
                        f"define it under `{section}:`; known: {choices}"))


def _parse_all(values: list[str], path: str, parse: Any, issues: list[Issue],
               hint: str = IP_HINT) -> tuple[Any, ...]:
    parsed = []
    for i, text in enumerate(values):
        value = parse(text)
        if isinstance(value, str):
            issues.append(Issue("", f"{path}[{i}]", value, hint))
        else:
            parsed.append(value)
    return tuple(parsed)


def _check_fqdns(dests: tuple[Any, ...], path: str, issues: list[Issue]) -> int:
    count = sum(1 for d in dests if isinstance(d, NamePattern))
    if count > MAX_FQDNS_PER_RULE:
        issues.append(Issue("", f"{path}.dest_addresses", f"{count} FQDN/wildcard entries, "
                            f"at most {MAX_FQDNS_PER_RULE} per rule", "split the rule"))
    return count
