"""Forwarding rules -> one nftables table that carries them out in the kernel.

Pure: config in, ruleset text out. The kernel path carries the methods the
kernel can do alone: DIRECT (accept, then SNAT to the service address) and DROP.
Rules whose method needs a tunnel (ZIA, ECZPA) or east-west switching (LOCAL)
are rendered in their place as counted drops naming why, so first-match order
is never changed by what the kernel cannot do; the default ZIA rule closes the
chain the same way, which is the spec's fail-close default while no ZIA tunnel
is usable (§5.4). FQDN destinations match through a per-rule address set that
the service fills from DNS answers (§5.2: FQDN rules need DNS visibility).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import TypeVar

from connector.config import ConnectorConfig
from connector.core.model import Method
from connector.core.names import NamePattern
from connector.core.policy import (
    AddressRange,
    DestAddress,
    ForwardingRule,
    IpMatch,
    Policy,
    ServiceEntry,
    ServiceProto,
)

T = TypeVar("T")
TABLE = "cclab_connector"
DIRECT_MARK = 0x1
DIVERT_MARK = 0x53  # DNS diverted to the listener; policy routing delivers it locally
DIVERT_PORT = 5353
ZPA_DIVERT_PORT = 5380  # TCP to a synthetic address: handed to the ZPA proxy
TUN_NAME = "ccgnv0"  # GENEVE inner packets enter the kernel here, their replies leave here
GENEVE_MARK = 0x100  # connection arrived over GENEVE: its replies route to the TUN
ROUTED_TUN = "ccrt0"  # routed flows decided ZIA leave the kernel here for the tunnel
ZIA_MARK = 0x200  # routed connection decided ZIA: policy routing sends it to ROUTED_TUN


@dataclass(frozen=True, slots=True)
class RenderedRule:
    """One config rule as nft statements (several when criteria expand)."""

    rule: ForwardingRule
    lines: tuple[str, ...]


def render_ruleset(config: ConnectorConfig) -> str:
    """The full `nft -f` input: replaces the table atomically when loaded."""
    svc = config.service
    rules = [render_rule(r, config.policy, svc.name) for r in _in_scope(config)]
    body = [f"    set {name} {{ type ipv4_addr; flags timeout; }}"
            for name in (name_set(r.rule) for r in rules) if name]
    body += [f"    counter {_counter(r.rule)} {{ }}" for r in rules]
    geneve = config.dataplane.geneve
    if config.dataplane.dns_flood_limit:
        body += ["    set dns_sources { type ipv4_addr; size 65536; flags dynamic,timeout; "
                 "timeout 10s; }",
                 "    counter dns_flood_dropped { }"]
    body += ["    counter default_zia { }",
             "    counter ssh_not_management { }",
             "    counter ssh_refused { }",
             "    chain forward {",
             "        type filter hook forward priority 0; policy drop;",
             "        ct state established,related accept",
             "        ct state invalid drop",
             *_geneve_forward(geneve),
             *_routed_forward(config.routed_zia)]
    body += [f"        {line}" for r in rules for line in r.lines]
    body += [f'        iifname "{svc.name}" counter name default_zia drop '
             f'comment "default ZIA rule: no usable ZIA gateway, fail-close"',
             "    }",
             "    chain postrouting {",
             "        type nat hook postrouting priority srcnat; policy accept;",
             f'        ct mark and {DIRECT_MARK:#x} == {DIRECT_MARK:#x} oifname "{svc.name}" '
             f"snat ip to {svc.address.ip}",
             "    }",
             *_dns_divert(svc.name, str(svc.address.ip), geneve,
                          _ssh_guard(config.management.name, config.dataplane.ssh_sources),
                          _zpa_pools(config), config.dataplane.dns_flood_limit),
             *_geneve_return(geneve),
             *_routed_steer(config, rules)]
    return "\n".join([f"table ip {TABLE}", f"delete table ip {TABLE}",
                      f"table ip {TABLE} {{", *body, "}", ""])


def _ssh_guard(mgmt: str, sources: tuple[IPv4Network, ...]) -> list[str]:
    """SSH only on the management interface, only from the management sources (A5)."""
    allowed = ", ".join(str(s) for s in sources)
    return [f'        tcp dport 22 iifname != {{ "{mgmt}", "lo" }} counter name ssh_not_management '
            "drop",
            f"        tcp dport 22 ip saddr != {{ {allowed} }} counter name ssh_refused drop"]


def _dns_divert(iif: str, service_ip: str, geneve: bool, guards: list[str],
                pools: str | None, flood_limit: int = 0) -> list[str]:
    """DNS to any destination, arriving on the service interface, goes to the listener;
    TCP to a synthetic address goes to the ZPA proxy (when the connector carries ZPA)."""
    ifaces = f'{{ "{iif}", "{TUN_NAME}" }}' if geneve else f'"{iif}"'
    zpa = ([f"        iifname {ifaces} ip daddr {{ {pools} }} meta l4proto tcp "
            f"meta mark set {DIVERT_MARK:#x} tproxy ip to {service_ip}:{ZPA_DIVERT_PORT} accept"]
           if pools else [])
    return ["    chain divert {",
            "        type filter hook prerouting priority mangle; policy accept;",
            *_geneve_mark(geneve),
            *_dns_flood_guard(ifaces, flood_limit),
            f"        iifname {ifaces} meta l4proto {{ tcp, udp }} th dport 53 "
            f"meta mark set {DIVERT_MARK:#x} tproxy ip to {service_ip}:{DIVERT_PORT} accept",
            *zpa,
            "    }",
            "    chain input {",
            "        type filter hook input priority filter; policy accept;",
            f"        meta l4proto {{ tcp, udp }} th dport {{ 53, {DIVERT_PORT} }} "
            f'iifname != {ifaces} counter drop comment "DNS only on the service interface"',
            # tproxy leaves the header alone: a segment that really has the proxy's
            # port as destination was sent to it directly, from anywhere: refused.
            f'        tcp dport {ZPA_DIVERT_PORT} counter drop comment "ZPA proxy: only by tproxy"',
            *guards,
            "    }"]


def _dns_flood_guard(ifaces: str, limit: int) -> list[str]:
    """Over `limit` UDP queries a second from one source: dropped before the listener."""
    if not limit:
        return []
    burst = max(limit // 5, 10)
    return [f"        iifname {ifaces} udp dport 53 update @dns_sources {{ ip saddr limit rate "
            f"over {limit}/second burst {burst} packets }} counter name dns_flood_dropped drop"]


def _zpa_pools(config: ConnectorConfig) -> str | None:
    """The synthetic pools, when this connector carries ZPA (app segments and a broker)."""
    policy = config.policy
    if not (policy.app_segments and config.dataplane.zpa_brokers and policy.ip_pools):
        return None
    return ", ".join(str(net) for _, net in sorted(policy.ip_pools.items()))


def _geneve_forward(geneve: bool) -> list[str]:
    """Inner packets the data plane wrote to the TUN were decided Direct in user space."""
    if not geneve:
        return []
    return [f'        iifname "{TUN_NAME}" ct mark set ct mark or {DIRECT_MARK:#x} accept '
            'comment "GENEVE flow decided DIRECT by the data plane"']


def _routed_forward(routed_zia: bool) -> list[str]:
    if not routed_zia:
        return []
    return [f'        oifname "{ROUTED_TUN}" meta mark and {ZIA_MARK:#x} == {ZIA_MARK:#x} accept '
            'comment "routed flow decided ZIA: to the tunnel"']


def _routed_steer(config: ConnectorConfig, rules: list[RenderedRule]) -> list[str]:
    """Routed mode: the same rules, first match, decide each new connection once more
    before routing; ZIA (or no match: the default ZIA rule) marks it for the ZIA TUN.
    Local traffic, diverted traffic (DNS, ZPA) and synthetic addresses are left alone."""
    if not config.routed_zia:
        return []
    svc = config.service.name
    pools = _zpa_pools(config) or ", ".join(str(n) for n in config.policy.ip_pools.values())
    skip_pools = [f"        ip daddr {{ {pools} }} return"] if pools else []
    classify = [f"        {line.split(' counter name ')[0]} {_steer_verdict(r.rule)}"
                for r in rules for line in r.lines]
    return ["    chain steer {",
            "        type filter hook prerouting priority mangle + 5; policy accept;",
            f'        iifname != "{svc}" return',
            f"        meta mark and {DIVERT_MARK:#x} == {DIVERT_MARK:#x} return",
            "        ct direction reply return",
            "        ct state new fib daddr type != local jump classify",
            f"        ct mark and {ZIA_MARK:#x} == {ZIA_MARK:#x} "
            f"meta mark set meta mark or {ZIA_MARK:#x}",
            "    }",
            "    chain classify {",
            *skip_pools,
            *classify,
            f"        ct mark set ct mark or {ZIA_MARK:#x} comment \"default ZIA rule\"",
            "    }"]


def _steer_verdict(rule: ForwardingRule) -> str:
    if rule.method is Method.ZIA:
        return f"ct mark set ct mark or {ZIA_MARK:#x} return"
    return "return"


def _geneve_mark(geneve: bool) -> list[str]:
    if not geneve:
        return []
    return [f'        iifname "{TUN_NAME}" ct state new ct mark set ct mark or {GENEVE_MARK:#x}',
            *_reply_to_tun("prerouting")]


def _reply_to_tun(where: str) -> list[str]:
    return [f"        ct direction reply ct mark and {GENEVE_MARK:#x} == {GENEVE_MARK:#x} "
            f'meta mark set meta mark or {GENEVE_MARK:#x} comment "{where}: back over GENEVE"']


def _geneve_return(geneve: bool) -> list[str]:
    """Local replies (the DNS listener's) to GENEVE flows are routed to the TUN too."""
    if not geneve:
        return []
    return ["    chain output {",
            "        type route hook output priority mangle; policy accept;",
            *_reply_to_tun("output"),
            "    }"]


def render_rule(rule: ForwardingRule, policy: Policy, iif: str) -> RenderedRule:
    verdict = _verdict(rule)
    matches = [f'iifname "{iif}"' + "".join(f" {m}" for m in combo if m)
               for combo in _criteria(rule, policy)]
    lines = tuple(f"{m} counter name {_counter(rule)} {verdict} "
                  f'comment "{rule.order} {rule.name} {rule.method.value}"' for m in matches)
    return RenderedRule(rule, lines if rule.enabled else ())


def name_set(rule: ForwardingRule) -> str | None:
    """The address set the service fills for a rule's FQDN destinations, if it has any."""
    if any(isinstance(d, NamePattern) for d in rule.dest_addresses):
        return f"r{rule.order}_names"
    return None


def _in_scope(config: ConnectorConfig) -> Iterator[ForwardingRule]:
    me = config.identity
    return (r for r in config.policy.forwarding_rules if me.in_scope(r.locations, r.ec_groups))


def _verdict(rule: ForwardingRule) -> str:
    if rule.method is Method.DIRECT:
        return f"ct mark set {DIRECT_MARK:#x} accept"
    return "drop"


def _counter(rule: ForwardingRule) -> str:
    return f"rule_{rule.order}"


def _criteria(rule: ForwardingRule, policy: Policy) -> Iterator[tuple[str, ...]]:
    """Every (source, destination, service) combination the rule ORs together."""
    if rule.method is Method.ZPA:
        return  # matches only live synthetic addresses, which the kernel path never has
    sources = _ip_set("saddr", [*rule.src_ips, *_group_items(policy.source_ip_groups,
                                                              rule.src_ip_groups)])
    for dest in _destinations(rule, policy):
        for service in _services(rule, policy):
            yield (sources, dest, service)


def _destinations(rule: ForwardingRule, policy: Policy) -> Iterator[str]:
    items: list[DestAddress] = [*rule.dest_addresses,
                                *_group_items(policy.dest_ip_groups, rule.dest_ip_groups)]
    if not items:
        yield ""
        return
    ips = [d for d in items if not isinstance(d, NamePattern)]
    if ips:
        yield _ip_set("daddr", ips)
    if len(ips) < len(items):
        yield f"ip daddr @r{rule.order}_names"


def _services(rule: ForwardingRule, policy: Policy) -> Iterator[str]:
    entries = [e for name in rule.nw_services for e in policy.network_services[name].entries]
    if not entries:
        yield ""
        return
    for entry in entries:
        yield _service(entry)


def _service(entry: ServiceEntry) -> str:
    if entry.protocol is ServiceProto.ANY:
        return ""
    proto = entry.protocol.value.lower()
    if entry.protocol is ServiceProto.ICMP or not entry.dest_ports:
        return f"meta l4proto {proto}"
    ports = ", ".join(str(p) for p in entry.dest_ports)
    return f"{proto} dport {{ {ports} }}"


def _ip_set(field: str, items: list[IpMatch] | list[DestAddress]) -> str:
    if not items:
        return ""
    return f"ip {field} {{ {', '.join(_ip_text(i) for i in items)} }}"


def _ip_text(item: object) -> str:
    if isinstance(item, AddressRange):
        return f"{item.first}-{item.last}"
    return str(item)


def _group_items(groups: Mapping[str, tuple[T, ...]], names: tuple[str, ...]) -> list[T]:
    return [item for name in names for item in groups[name]]
