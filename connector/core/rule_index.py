"""Compile forwarding rules into per-criterion bitmask indexes (spec §5.1-5.2).

One bit per rule in evaluation order. For every criterion, `any` holds the
rules that leave it empty (empty = any) and the index holds the others, so the
rules matching a packet are `(any | index.lookup(value))` AND-ed across criteria.
Source (src_ips + src_ip_groups) is one criterion, destination (dest_addresses +
dest_ip_groups, addresses and names together) another, services a third and ZPA
segments a fourth: OR inside each, AND across them (docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from connector.core.intervals import IntervalIndex, NameIndex
from connector.core.model import IpProto, Method
from connector.core.names import NamePattern
from connector.core.policy import (
    ALL_PORTS,
    DestAddress,
    ForwardingRule,
    IpMatch,
    Policy,
    ServiceProto,
    interval_of,
)

_PROTOS = {ServiceProto.TCP: IpProto.TCP, ServiceProto.UDP: IpProto.UDP,
           ServiceProto.ICMP: IpProto.ICMP}


@dataclass(frozen=True, slots=True)
class RuleIndex:
    rules: tuple[ForwardingRule, ...]
    src_any: int
    src: IntervalIndex
    dst_any: int
    dst_ip: IntervalIndex
    dst_name: NameIndex
    svc_any: int
    svc_ports: dict[int, IntervalIndex]  # IP protocol -> port intervals
    not_zpa: int  # rules with no segment criterion (every non-ECZPA rule)
    drops: int  # Drop rules: with ECZPA rules, the only ones a live synthetic address meets
    zpa_all: int  # ECZPA rules with "apply to all app segments"
    zpa_segments: dict[str, int]  # segment -> ECZPA rules selecting it


def compile_rules(policy: Policy, rules: Iterable[ForwardingRule]) -> RuleIndex:
    """Index enabled `rules` (already in order and in scope) of `policy`."""
    live = tuple(r for r in rules if r.enabled)
    sources = [(bit, _sources(policy, r)) for bit, r in enumerate(live)]
    dests = [(bit, _dests(policy, r)) for bit, r in enumerate(live)]
    return RuleIndex(
        live,
        src_any=_mask(bit for bit, items in sources if not items),
        src=IntervalIndex((*interval_of(i), bit) for bit, items in sources for i in items),
        dst_any=_mask(bit for bit, items in dests if not items),
        dst_ip=IntervalIndex((*interval_of(i), bit) for bit, items in dests for i in items
                             if not isinstance(i, NamePattern)),
        dst_name=NameIndex((i, bit) for bit, items in dests for i in items
                           if isinstance(i, NamePattern)),
        svc_any=_mask(bit for bit, r in enumerate(live) if _any_service(policy, r)),
        svc_ports=_service_index(policy, live),
        not_zpa=_mask(bit for bit, r in enumerate(live) if r.method is not Method.ZPA),
        drops=_mask(bit for bit, r in enumerate(live) if r.method is Method.DROP),
        zpa_all=_mask(bit for bit, r in enumerate(live)
                      if r.method is Method.ZPA and r.zpa_all_app_segments),
        zpa_segments=_segment_masks(live),
    )


def _mask(bits: Iterable[int]) -> int:
    mask = 0
    for bit in bits:
        mask |= 1 << bit
    return mask


def _sources(policy: Policy, rule: ForwardingRule) -> list[IpMatch]:
    return [*rule.src_ips, *(i for g in rule.src_ip_groups for i in policy.source_ip_groups[g])]


def _dests(policy: Policy, rule: ForwardingRule) -> list[DestAddress]:
    return [*rule.dest_addresses,
            *(i for g in rule.dest_ip_groups for i in policy.dest_ip_groups[g])]


def _any_service(policy: Policy, rule: ForwardingRule) -> bool:
    entries = [e for s in rule.nw_services for e in policy.network_services[s].entries]
    return not entries or any(e.protocol is ServiceProto.ANY for e in entries)


def _service_index(policy: Policy, rules: tuple[ForwardingRule, ...]) -> dict[int, IntervalIndex]:
    per_proto: dict[int, list[tuple[int, int, int]]] = {p: [] for p in _PROTOS.values()}
    for bit, rule in enumerate(rules):
        for proto, first, last in _port_ranges(policy, rule):
            per_proto[proto].append((first, last, bit))
    return {proto: IntervalIndex(items) for proto, items in per_proto.items()}


def _port_ranges(policy: Policy, rule: ForwardingRule) -> Iterator[tuple[int, int, int]]:
    for service in rule.nw_services:
        for entry in policy.network_services[service].entries:
            proto = _PROTOS.get(entry.protocol)
            if proto is None:
                continue  # ANY: counted in svc_any
            for ports in entry.dest_ports or (ALL_PORTS,):
                yield proto, ports.first, ports.last


def _segment_masks(rules: tuple[ForwardingRule, ...]) -> dict[str, int]:
    masks: dict[str, int] = {}
    for bit, rule in enumerate(rules):
        if rule.method is Method.ZPA:
            for segment in rule.zpa_application_segments:
                masks[segment] = masks.get(segment, 0) | (1 << bit)
    return masks
