"""Forwarding rules -> one nftables table that carries them out in the kernel.

Pure: config in, ruleset text out. The kernel carries Direct alone (accept,
then SNAT to the service address); every other new flow arriving on the
service interface is decided again in user space, which logs it (session log,
§5.4 "Drop: recorded in session logs", check F7) and carries it (ZIA) or drops
and counts it. The split is made once per connection, before routing, by the
`steer` chain: the same rules, first match, each rule in its place, so
first-match order never changes with what the kernel can do. What goes to user
space is marked and policy-routed to the TUN `ccrt0`:
- a public source (§2.5), unless the config accepts them;
- a synthetic pool address that the kernel did not hand to the ZPA proxy
  (stray, not TCP, or no broker: D4);
- a rule whose method is not Direct (ZIA, Drop, ZPA, Local), and no match at all
  (the default ZIA rule).
A ZIA decision goes through its gateway's chain `gw_N`: user space while the
gateway has a tunnel or is fail-close; while a fail-open gateway has no usable
tunnel the service rewrites that chain to send the flow Direct (§5.4 fail-open).
The forward chain keeps the rules too, as a safety net counted per rule.
FQDN destinations match through a per-rule address set that the service fills
from DNS answers (§5.2: FQDN rules need DNS visibility); TCP to a live synthetic
address (the set `zpa_live`, filled as names are bound) is handed to the ZPA proxy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from ipaddress import IPv4Network, collapse_addresses
from typing import TypeVar, assert_never

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
from connector.core.routed_locations import source_scope
from connector.io.geneve import GENEVE_PORT, PROTO_IPV4, PROTO_IPV6
from connector.io.geneve_tuns import (
    GENEVE_MARK,
    LOCATION_MASK,
    LocationTun,
    location_tuns,
)

T = TypeVar("T")
TABLE = "cclab_connector"
DIRECT_MARK = 0x1
DIVERT_MARK = 0x53  # DNS diverted to the listener; policy routing delivers it locally
DIVERT_PORT = 5353
ZPA_DIVERT_PORT = 5380  # TCP to a synthetic address: handed to the ZPA proxy
ROUTED_TUN = "ccrt0"  # routed flows decided in user space leave the kernel here
USER_MARK = 0x200  # routed connection decided in user space: policy routing sends it to ccrt0
INBOUND_MARK = 0x400  # public-LB inbound flow the rules let in: DNAT, forward, SNAT
FAIL_OPEN_MARK = 0x800  # with DIRECT_MARK: sent Direct by a fail-open gateway's chain
# A connection the kernel decided Direct by the rules (not fail-open, not sent to user space
# first): its later packets skip the rules. A UDP flow stays `ct state new` until answered,
# so without this every packet of a one-way stream was decided again (steer, forward).
DECIDED_DIRECT = (f"ct mark and {DIRECT_MARK | USER_MARK | FAIL_OPEN_MARK:#x} "
                  f"== {DIRECT_MARK:#x}")
FAIL_OPEN_DIRECT = DIRECT_MARK | FAIL_OPEN_MARK
# Decided in user space, which drops it and writes the session log (F7): a public-source
# flow, an inbound one the rules or a missing mapping keep out among them.
MARK_USER = f"ct mark set ct mark or {USER_MARK:#x}"
TO_USER = f"{MARK_USER} return"
LIVE_SET = "zpa_live"  # synthetic addresses with a live mapping (TCP to them: ZPA proxy)


@dataclass(frozen=True, slots=True)
class RenderedRule:
    """One config rule as nft statements (several when criteria expand)."""

    rule: ForwardingRule
    lines: tuple[str, ...]


def render_ruleset(config: ConnectorConfig) -> str:
    """The full `nft -f` input: replaces the table atomically when loaded."""
    rules = [render_rule(r, config.policy, config.service.name, _source_scope(config, r))
             for r in _in_scope(config)]
    body = [*_declarations(config, rules),
            *_forward(config, rules),
            *_postrouting(config),
            *_inbound_dnat(config),
            *_divert(config),
            *_input(config),
            *_geneve_return(config),
            *_geneve_zones(config),
            *_steer(config, rules),
            *_inbound_chain(config, rules),
            *(line for i, name in enumerate(gateway_chain_names(config))
              for line in _gateway_chain(i, name, False))]
    return "\n".join([f"table ip {TABLE}", f"delete table ip {TABLE}",
                      f"table ip {TABLE} {{", *body, "}", ""])


def _declarations(config: ConnectorConfig, rules: list[RenderedRule]) -> list[str]:
    body = [f"    set {name} {{ type ipv4_addr; flags timeout; }}"
            for name in (name_set(r.rule) for r in rules) if name]
    if zpa_pools(config):
        body.append(f"    set {LIVE_SET} {{ type ipv4_addr; }}")
    body += [f"    counter {_counter(r.rule)} {{ }}" for r in rules]
    if config.dataplane.dns_flood_limit:
        keyed = [("dns_sources", "ipv4"), *([("dns_sources_encapsulated", "ipv4"),
                                             ("dns_sources_encapsulated6", "ipv6")]
                                            if config.dataplane.geneve else [])]
        body += [f"    set {name} {{ type {family}_addr; size 65536; flags dynamic,timeout; "
                 "timeout 10s; }" for name, family in keyed]
        body.append("    counter dns_flood_dropped { }")
    body += [f"    counter {name} {{ }}" for name in (
        "default_zia", "pool_drop", "fail_open_direct", "ssh_not_management", "ssh_refused",
        "probe_refused")]
    if config.inbound:
        body += [f"    counter {name} {{ }}" for name in (
            "inbound_dnat", "inbound_unmapped", "inbound_policy_drop", "inbound_not_carriable")]
    return body


def _forward(config: ConnectorConfig, rules: list[RenderedRule]) -> list[str]:
    svc = config.service.name
    pools = _pool_text(config)
    return ["    chain forward {",
            "        type filter hook forward priority 0; policy drop;",
            "        ct state established,related accept",
            "        ct state invalid drop",
            f'        oifname "{ROUTED_TUN}" meta mark and {USER_MARK:#x} == {USER_MARK:#x} '
            'accept comment "decided in user space: to the data plane"',
            *([f"        ct mark and {INBOUND_MARK:#x} == {INBOUND_MARK:#x} ct status dnat "
               'counter name inbound_dnat accept comment "public-LB inbound: to the workload"']
              if config.inbound else []),
            *([f"        ip daddr {{ {pools} }} counter name pool_drop drop "
               'comment "a synthetic address never leaves (D4)"'] if pools else []),
            f'        {DECIDED_DIRECT} accept comment "a connection decided Direct: its later '
            'packets"',
            *_geneve_forward(config),
            f'        iifname "{ROUTED_TUN}" ct direction original ct state new '
            f"ct mark set ct mark or {DIRECT_MARK:#x} accept "
            'comment "a routed flow decided DIRECT in user space: the kernel was behind"',
            f'        iifname "{svc}" ct mark and {FAIL_OPEN_DIRECT:#x} == {FAIL_OPEN_DIRECT:#x} '
            'counter name fail_open_direct accept comment "ZIA gateway down, fail-open"',
            *(f"        {line}" for r in rules for line in r.lines),
            f'        iifname "{svc}" counter name default_zia drop '
            'comment "default ZIA rule: carried in user space, never here"',
            "    }"]


def _postrouting(config: ConnectorConfig) -> list[str]:
    svc = config.service
    return ["    chain postrouting {",
            "        type nat hook postrouting priority srcnat; policy accept;",
            f'        ct mark and {DIRECT_MARK:#x} == {DIRECT_MARK:#x} oifname "{svc.name}" '
            f"snat ip to {svc.address.ip}",
            *([f"        ct mark and {INBOUND_MARK:#x} == {INBOUND_MARK:#x} "
               f'oifname "{svc.name}" snat ip to {config.inbound.snat_to} '
               'comment "public-LB inbound: replies come back through the ILB"']
              if config.inbound else []),
            "    }"]


def _inbound_dnat(config: ConnectorConfig) -> list[str]:
    """Public-LB inbound flows the `inbound` chain let in go to their workload (spec §4.2)."""
    if not config.inbound:
        return []
    svc = config.service.name
    return ["    chain inbound_dnat {",
            "        type nat hook prerouting priority dstnat; policy accept;",
            *(f'        iifname "{svc}" ct mark and {INBOUND_MARK:#x} == {INBOUND_MARK:#x} '
              f"ip daddr {m.frontend} tcp dport {m.port} dnat ip to {m.to}:{m.to_port}"
              for m in config.inbound.mappings),
            "    }"]


def _inbound_classify(config: ConnectorConfig) -> list[str]:
    """In `classify`, before the public-source check: a mapped (frontend, port) is decided
    by the `inbound` chain; public traffic to a frontend on another port is dropped here."""
    inbound = config.inbound
    if not inbound:
        return []
    mapped = ", ".join(f"{m.frontend} . {m.port}" for m in inbound.mappings)
    frontends = ", ".join(str(f) for f in inbound.frontends)
    public = ("" if config.trusted_sources is None else
              f"ip saddr != {{ {', '.join(str(n) for n in _trusted(config))} }} ")
    return [f"        ip daddr . tcp dport {{ {mapped} }} goto inbound",
            f"        {public}ip daddr {{ {frontends} }} counter name inbound_unmapped "
            f'{_keep_out(config)} comment "public-LB frontend, no mapping for this port"']


def _keep_out(config: ConnectorConfig) -> str:
    """An inbound flow kept out: to user space, whose Public Source Drop drops it and
    writes the session log (F7); with public sources accepted, user space would forward
    it by the rules instead, so the kernel drops it (counted only)."""
    return "drop" if config.trusted_sources is None else TO_USER


def _inbound_chain(config: ConnectorConfig, rules: list[RenderedRule]) -> list[str]:
    """The forwarding rules, first match, decide a mapped flow as it arrives (destination:
    the frontend): Direct lets it in, Drop drops it, and a method an inbound flow cannot
    take (ZIA, ECZPA, Local, the default ZIA rule) drops it too (docs/decisions.md)."""
    if not config.inbound:
        return []
    let_in = f"ct mark set ct mark or {INBOUND_MARK:#x} return"
    not_carriable = f"counter name inbound_not_carriable {_keep_out(config)}"
    verdicts = {Method.DIRECT: let_in,
                Method.DROP: f"counter name inbound_policy_drop {_keep_out(config)}"}
    return ["    chain inbound {",
            *(f"        {line.split(' counter name ')[0]} "
              f"{verdicts.get(r.rule.method, not_carriable)}"
              for r in rules for line in r.lines),
            f'        {not_carriable} comment "default ZIA rule: no way in"',
            "    }"]


def _divert(config: ConnectorConfig) -> list[str]:
    """DNS to any destination, arriving on the service interface, goes to the listener;
    TCP to a live synthetic address goes to the ZPA proxy (when the connector carries ZPA)."""
    svc, service_ip = config.service.name, config.service.address.ip
    ifaces = _service_ifaces(config)
    return ["    chain divert {",
            "        type filter hook prerouting priority mangle; policy accept;",
            *_geneve_mark(config),
            *_encapsulated_flood_guard(config),
            *_dns_flood_guard(ifaces, config.dataplane.dns_flood_limit),
            f"        iifname {ifaces} meta l4proto {{ tcp, udp }} th dport 53 "
            f"meta mark set {DIVERT_MARK:#x} tproxy ip to {service_ip}:{DIVERT_PORT} accept",
            *_zpa_divert(config, svc, f"{service_ip}:{ZPA_DIVERT_PORT}"),
            "    }"]


def _zpa_divert(config: ConnectorConfig, svc: str, proxy: str) -> list[str]:
    """GENEVE flows were decided ZPA in user space (so live); routed ones must be live
    in the kernel's own set: a stray synthetic address is never even answered (D4)."""
    pools = zpa_pools(config)
    if not pools:
        return []
    divert = f"meta l4proto tcp meta mark set {DIVERT_MARK:#x} tproxy ip to {proxy} accept"
    lines = [f'        iifname "{svc}" ip daddr @{LIVE_SET} {divert}']
    if config.dataplane.geneve:
        lines.append(f"        iifname {_tun_ifaces(config)} ip daddr {{ {pools} }} {divert}")
    return lines


def _input(config: ConnectorConfig) -> list[str]:
    dp = config.dataplane
    probers = ", ".join(str(s) for s in dp.probe_sources)
    return ["    chain input {",
            "        type filter hook input priority filter; policy accept;",
            f"        meta l4proto {{ tcp, udp }} th dport {{ 53, {DIVERT_PORT} }} "
            f'iifname != {_service_ifaces(config)} counter drop '
            'comment "DNS only on the service interface"',
            # tproxy leaves the header alone: a segment that really has the proxy's
            # port as destination was sent to it directly, from anywhere: refused.
            f'        tcp dport {ZPA_DIVERT_PORT} counter drop comment "ZPA proxy: only by tproxy"',
            f"        tcp dport {dp.health_port} ip saddr != {{ {probers} }} "
            'counter name probe_refused drop comment "health port: probe sources only (H2)"',
            *_ssh_guard(config.management.name, dp.ssh_sources),
            "    }"]


def _ssh_guard(mgmt: str, sources: tuple[IPv4Network, ...]) -> list[str]:
    """SSH only on the management interface, only from the management sources (A5)."""
    allowed = ", ".join(str(s) for s in sources)
    return [f'        tcp dport 22 iifname != {{ "{mgmt}", "lo" }} counter name ssh_not_management '
            "drop",
            f"        tcp dport 22 ip saddr != {{ {allowed} }} counter name ssh_refused drop"]


def _service_ifaces(config: ConnectorConfig) -> str:
    svc = config.service.name
    if not config.dataplane.geneve:
        return f'"{svc}"'
    return "{ " + ", ".join(f'"{name}"' for name in (svc, *_tun_names(config))) + " }"


def _dns_flood_guard(ifaces: str, limit: int) -> list[str]:
    """Over `limit` UDP queries a second from one source: dropped before the listener."""
    if not limit:
        return []
    return [f"        iifname {ifaces} udp dport 53 "
            f"{_over_limit('dns_sources', 'ip saddr', limit)}"]


def _over_limit(sources: str, key: str, limit: int) -> str:
    """Drop and count what a source (`key`, in the dynamic set `sources`) sends over
    `limit` a second, with a fifth of a second's burst."""
    burst = max(limit // 5, 10)
    return (f"update @{sources} {{ {key} limit rate over {limit}/second burst {burst} "
            "packets } counter name dns_flood_dropped drop")


# Where an encapsulated DNS query's fields are, in bits from the outer UDP header, for
# the header the GWLB sends (spec §4.1): 8 bytes of GENEVE and its three AWS options
# (32 bytes, option length 8 words), then IPv4 without options and UDP.
_GENEVE_AT = 8 * 8
_INNER_AT = (8 + 8 + 32) * 8
_ENCAPSULATED_DNS = (f"udp dport {GENEVE_PORT} @th,{_GENEVE_AT},8 0x08 "
                     f"@th,{_GENEVE_AT + 16},16 {PROTO_IPV4:#06x} @th,{_INNER_AT},8 0x45 "
                     f"@th,{_INNER_AT + 72},8 17 @th,{_INNER_AT + 176},16 53")
_INNER_SOURCE = f"@th,{_INNER_AT + 96},32"
# ... or IPv6 without extension headers, then UDP: the connectors carry no IPv6 (they
# drop it in user space, counted), but a flood of it would be read there frame by frame.
_ENCAPSULATED_DNS6 = (f"udp dport {GENEVE_PORT} @th,{_GENEVE_AT},8 0x08 "
                      f"@th,{_GENEVE_AT + 16},16 {PROTO_IPV6:#06x} @th,{_INNER_AT},4 6 "
                      f"@th,{_INNER_AT + 48},8 17 @th,{_INNER_AT + 336},16 53")
_INNER_SOURCE6 = f"@th,{_INNER_AT + 64},128"


def _encapsulated_flood_guard(config: ConnectorConfig) -> list[str]:
    """The same limit on DNS inside GENEVE, keyed by the inner source, on the service
    interface before the socket: a flood through a GWLB is dropped in the kernel, not
    after the user-space GENEVE plane has paid for each packet (where it crowded out the
    other workloads' packets). A header of another length falls to the TUN's rule.
    Inner IPv6 too, keyed by its own source: the plane drops it anyway (no IPv6 path),
    but only after reading it, and no later rule limits it."""
    limit = config.dataplane.dns_flood_limit
    if not (limit and config.dataplane.geneve):
        return []
    svc = f'        iifname "{config.service.name}"'
    return [f"{svc} {_ENCAPSULATED_DNS} "
            f"{_over_limit('dns_sources_encapsulated', _INNER_SOURCE, limit)}",
            f"{svc} {_ENCAPSULATED_DNS6} "
            f"{_over_limit('dns_sources_encapsulated6', _INNER_SOURCE6, limit)}"]


def zpa_pools(config: ConnectorConfig) -> str | None:
    """The synthetic pools, when this connector carries ZPA (app segments and a broker)."""
    policy = config.policy
    if not (policy.app_segments and config.dataplane.zpa_brokers and policy.ip_pools):
        return None
    return _pool_text(config)


def _pool_text(config: ConnectorConfig) -> str:
    return ", ".join(str(net) for _, net in sorted(config.policy.ip_pools.items()))


def _geneve_forward(config: ConnectorConfig) -> list[str]:
    """Inner packets the data plane wrote to a TUN were decided Direct in user space."""
    if not config.dataplane.geneve:
        return []
    return [f"        iifname {_tun_ifaces(config)} ct mark set ct mark or {DIRECT_MARK:#x} "
            'accept comment "GENEVE flow decided DIRECT by the data plane"']


def geneve_tuns(config: ConnectorConfig) -> tuple[LocationTun, ...]:
    """The TUNs of a GENEVE connector: its own location's, and one per sub-location."""
    return location_tuns(location for _, location in config.dataplane.geneve_locations)


def _tun_names(config: ConnectorConfig) -> list[str]:
    return [tun.name for tun in geneve_tuns(config)]


def _tun_ifaces(config: ConnectorConfig) -> str:
    names = _tun_names(config)
    if len(names) == 1:
        return f'"{names[0]}"'
    return "{ " + ", ".join(f'"{name}"' for name in names) + " }"


def _steer(config: ConnectorConfig, rules: list[RenderedRule]) -> list[str]:
    """The same rules, first match, decide each new routed connection once more before
    routing: Direct stays in the kernel, everything else is marked for user space.
    Local traffic and diverted traffic (DNS, ZPA) are left alone."""
    svc = config.service.name
    gateways = gateway_chain_names(config)
    index = {name: i for i, name in enumerate(gateways)}
    classify = [f"        {line.split(' counter name ')[0]} "
                f"{_steer_verdict(r.rule, config.policy, index)}"
                for r in rules for line in r.lines]
    user = MARK_USER
    trusted = config.trusted_sources
    public = ([f"        ip saddr != {{ {', '.join(str(n) for n in _trusted(config))} }} "
               f'{user} return comment "public source (spec 2.5)"'] if trusted is not None else [])
    pools = _pool_text(config)
    default = index[config.policy.zia_gateway(None).name]
    return ["    chain steer {",
            "        type filter hook prerouting priority mangle + 5; policy accept;",
            f'        iifname != "{svc}" return',
            f"        meta mark and {DIVERT_MARK:#x} == {DIVERT_MARK:#x} return",
            "        ct direction reply return",
            f'        {DECIDED_DIRECT} return comment "decided Direct on its first packet"',
            "        ct state new fib daddr type != local jump classify",
            f"        ct mark and {USER_MARK:#x} == {USER_MARK:#x} "
            f"meta mark set meta mark or {USER_MARK:#x}",
            "    }",
            "    chain classify {",
            *_inbound_classify(config),
            *public,
            *([f"        ip daddr {{ {pools} }} {user} return "
               'comment "synthetic address not handed to ZPA"'] if pools else []),
            *classify,
            f'        goto gw_{default} comment "default ZIA rule"',
            "    }"]


def _trusted(config: ConnectorConfig) -> list[IPv4Network]:
    trusted = config.trusted_sources or ()
    return list(collapse_addresses([*trusted, *config.policy.workload_networks()]))


def _steer_verdict(rule: ForwardingRule, policy: Policy, gateways: Mapping[str, int]) -> str:
    match rule.method:
        case Method.DIRECT:
            return "return"
        case Method.ZIA:
            return f"goto gw_{gateways[policy.zia_gateway(rule.proxy_gateway).name]}"
        case Method.DROP | Method.ZPA | Method.LOCAL:
            return f"ct mark set ct mark or {USER_MARK:#x} return"
        case _:
            assert_never(rule.method)


def gateway_chain_names(config: ConnectorConfig) -> list[str]:
    """The ZIA gateways routed flows can be sent to, in chain order (`gw_0`, `gw_1`...)."""
    policy = config.policy
    names = {policy.zia_gateway(None).name} | {
        policy.zia_gateway(r.proxy_gateway).name for r in _in_scope(config)
        if r.method is Method.ZIA}
    return sorted(names)


def _gateway_chain(index: int, name: str, direct: bool) -> list[str]:
    return [f"    chain gw_{index} {{", *_gateway_lines(name, direct), "    }"]


def _gateway_lines(name: str, direct: bool) -> list[str]:
    if direct:
        return [f"        ct mark set ct mark or {FAIL_OPEN_DIRECT:#x} "
                f'comment "ZIA gateway {name}: no usable tunnel, fail-open"']
    return [f"        ct mark set ct mark or {USER_MARK:#x} "
            f'comment "ZIA gateway {name}: through the tunnel, in user space"']


def gateway_chain_update(index: int, name: str, direct: bool) -> str:
    """`nft -f` input that switches one gateway's chain (fail-open while it is down)."""
    return "\n".join([f"flush chain ip {TABLE} gw_{index}",
                      *(f"add rule ip {TABLE} gw_{index} {line.strip()}"
                        for line in _gateway_lines(name, direct)), ""])


def _geneve_mark(config: ConnectorConfig) -> list[str]:
    if not config.dataplane.geneve:
        return []
    return [*(f'        iifname "{tun.name}" ct state new ct mark set ct mark or {tun.mark:#x}'
              for tun in geneve_tuns(config)),
            *_reply_to_tun(config, "prerouting")]


def _reply_to_tun(config: ConnectorConfig, where: str) -> list[str]:
    """A GENEVE connection's replies get its location's mark: routed into its TUN."""
    tuns = geneve_tuns(config)
    mask = GENEVE_MARK if len(tuns) == 1 else GENEVE_MARK | LOCATION_MASK
    return [f"        ct direction reply ct mark and {mask:#x} == {tun.mark:#x} "
            f"meta mark set meta mark or {tun.mark:#x} "
            f'comment "{where}: back over GENEVE{_from(tun)}"' for tun in tuns]


def _from(tun: LocationTun) -> str:
    return f" to {tun.location}" if tun.location else ""


def _geneve_return(config: ConnectorConfig) -> list[str]:
    """Local replies (the DNS listener's) to GENEVE flows are routed to the TUN too."""
    if not config.dataplane.geneve:
        return []
    return ["    chain output {",
            "        type route hook output priority mangle; policy accept;",
            *_reply_to_tun(config, "output"),
            "    }"]


def _geneve_zones(config: ConnectorConfig) -> list[str]:
    """Each sub-location's flows are tracked in a zone of their own (original direction
    only), so the same 5-tuple from two locations is two connections; SNAT gives the
    later one another port, by which its replies find it in the shared reply zone."""
    tuns = [tun for tun in geneve_tuns(config) if tun.zone]
    if not config.dataplane.geneve or not tuns:
        return []
    return ["    chain location_zones {",
            "        type filter hook prerouting priority raw; policy accept;",
            *(f'        iifname "{tun.name}" ct original zone set {tun.zone} '
              f'comment "sub-location {tun.location}"' for tun in tuns),
            "    }"]


def render_rule(rule: ForwardingRule, policy: Policy, iif: str, scope: str = ""
                ) -> RenderedRule:
    """`scope`: a match on the sources the rule's locations cover (routed sub-locations)."""
    verdict = _verdict(rule)
    matches = [f'iifname "{iif}"' + "".join(f" {m}" for m in (scope, *combo) if m)
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
    """The rules routed traffic may meet here: the own location's, and each routed
    sub-location's (`runtime.routed_locations`), each narrowed to its sources."""
    me = config.identity
    mine = [me, *(replace(me, location=loc.location) for loc in config.dataplane.routed_locations)]
    return (r for r in config.policy.forwarding_rules
            if any(who.in_scope(r.locations, r.ec_groups) for who in mine))


def _source_scope(config: ConnectorConfig, rule: ForwardingRule) -> str:
    scope = source_scope(rule.locations, config.identity.location,
                         config.dataplane.routed_locations)
    if scope is None:
        return ""
    nets = ", ".join(str(net) for net in scope.networks)
    return f"ip saddr {'' if scope.inside else '!= '}{{ {nets} }}"


def _verdict(rule: ForwardingRule) -> str:
    """In the forward chain (a safety net: steer sent every non-Direct flow to user space)."""
    match rule.method:
        case Method.DIRECT:
            return f"ct mark set {DIRECT_MARK:#x} accept"
        case Method.ZIA | Method.DROP | Method.ZPA | Method.LOCAL:
            return "drop"
        case _:
            assert_never(rule.method)


def _counter(rule: ForwardingRule) -> str:
    return f"rule_{rule.order}"


def _criteria(rule: ForwardingRule, policy: Policy) -> Iterator[tuple[str, ...]]:
    """Every (source, destination, service) combination the rule ORs together."""
    if rule.method is Method.ZPA:
        return  # matches only live synthetic addresses, which user space decides
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
