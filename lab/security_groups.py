"""Security groups enforced in the fabric, where a hypervisor enforces them.

Rendered as nftables for the lab's switch namespace: a bridge-family chain
marks each frame with the port it came in on (high 16 bits) and the port it
leaves by (low 16 bits); an inet-family chain, which sees bridged IPv4 through
br_netfilter and so has conntrack, sends each marked frame through the
outbound rules of its source port and the inbound rules of its destination
port. Replies of an allowed flow pass (stateful, as AWS and Azure are).
Which rules judge a port, in which order, is `lab.cloud_rules`' to say: the
groups of the NIC and, on Azure, its subnet's NSG (one chain each, both must
allow). Network ACLs are stateless, so they live in the bridge table itself,
on the frames that cross their subnet's router port, entries by number.
Pure: topology in, ruleset text out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, collapse_addresses

from lab.cloud_rules import (
    AclPort,
    Layer,
    Peer,
    Rule,
    acl_ports,
    acl_rules,
    guarded,
    port_layers,
)
from lab.model import AclEntry, Topology

PORT_TABLE = "cclab_ports"
SG_TABLE = "cclab_sg"
LINK_ICMPV6 = ("nd-router-solicit", "nd-router-advert", "nd-neighbor-solicit",
               "nd-neighbor-advert", "mld-listener-query", "mld-listener-report",
               "mld2-listener-report")


@dataclass(frozen=True, slots=True)
class GuardedPort:
    """A bridge port whose endpoint has security groups; `pid` is its mark (1..65535)."""

    pid: int
    port: str
    where: str
    groups: tuple[str, ...]


def guarded_ports(topo: Topology, peer_of: dict[tuple[str, str], str]) -> list[GuardedPort]:
    ports: list[GuardedPort] = []
    for node in topo.nodes:
        for iface in node.interfaces:
            groups = _groups_of(topo, node.name, iface.name)
            if groups:
                ports.append(GuardedPort(len(ports) + 1, peer_of[(node.name, iface.name)],
                                         f"{node.name}/{iface.name}", groups))
    return ports


def _groups_of(topo: Topology, node_name: str, ifname: str) -> tuple[str, ...]:
    node = topo.node(node_name)
    iface = node.interface(ifname)
    subnet = topo.network(iface.network).security_groups if guarded(node) else ()
    return (*subnet, *iface.security_groups)


def fabric_endpoints(topo: Topology) -> set[tuple[str, str]]:
    """The endpoints whose bridge ports the fabric's ruleset names (guarded, or where a
    network ACL acts): a backend that must find their host-side names finds these."""
    ends = {(n.name, i.name) for n in topo.nodes for i in n.interfaces
            if _groups_of(topo, n.name, i.name)}
    return ends | {(p.node, p.iface) for p in acl_ports(topo)}


@dataclass(frozen=True, slots=True)
class SgTables:
    """Where the ruleset lives. The netns switch holds only lab bridges. On a shared
    host (docker) the tables are per instance and must leave other frames alone: no
    mark is reset (a frame entering a bridge from a container has mark 0, since
    crossing namespaces scrubs it), a frame of another lab's bridge is accepted first
    (every lab numbers its ports from 1, so marks alone would not tell whose frame it
    is), and unmarked packets next. `first_zone`: the lab's bridges take conntrack zones
    from there (on a shared host, a block no other lab holds: lab.conntrack_zones)."""

    ports: str = PORT_TABLE
    sg: str = SG_TABLE
    shared_host: bool = False
    first_zone: int = 1


def render_security_groups(topo: Topology, peer_of: dict[tuple[str, str], str],
                           tables: SgTables = SgTables(),
                           bridges: Mapping[str, str] | None = None) -> str:
    """The fabric's ruleset, or '' when no endpoint has a security group. `bridges`
    (link -> bridge device) gives each bridge a conntrack zone of its own."""
    ports = guarded_ports(topo, peer_of)
    acls = acl_ports(topo)
    if not ports and not acls:
        return ""
    return "\n".join([*_port_marks(ports, tables, _acl_chains(acls, peer_of)),
                      *_sg_table(topo, ports, tables, bridges or {})]) + "\n"


def _port_marks(ports: list[GuardedPort], tables: SgTables, acls: list[str]) -> Iterator[str]:
    yield f"table bridge {tables.ports} {{"
    yield "  chain forward {"
    yield "    type filter hook forward priority -200; policy accept;"
    if not tables.shared_host:
        yield "    meta mark set 0"
    for p in ports:
        yield f'    iifname "{p.port}" meta mark set 0x{p.pid << 16:08x}  # from {p.where}'
    for p in ports:
        yield f'    oifname "{p.port}" meta mark set meta mark or 0x{p.pid:08x}  # to {p.where}'
    yield "  }"
    yield from acls
    yield "}"


def _acl_chains(acls: list[AclPort], peer_of: dict[tuple[str, str], str]) -> list[str]:
    """Network ACLs, stateless: every IPv4 frame entering a subnet by its router's port is
    judged by the inbound entries, every one leaving by it by the outbound entries."""
    if not acls:
        return []
    lines = ["  chain nacl {", "    type filter hook forward priority -190; policy accept;",
             "    ether type != ip accept"]
    for k, p in enumerate(acls, start=1):
        port = peer_of[(p.node, p.iface)]
        lines.append(f'    iifname "{port}" jump nacl_in_{k}  # into {p.network}: {p.acl.name}')
        lines.append(f'    oifname "{port}" jump nacl_out_{k}  # out of {p.network}: {p.acl.name}')
    lines.append("  }")
    for k, p in enumerate(acls, start=1):
        for direction in ("in", "out"):
            far = "saddr" if direction == "in" else "daddr"
            lines.append(f"  chain nacl_{direction}_{k} {{  # {p.acl.name} {direction}bound, "
                         f"link {p.network}")
            for rule in acl_rules(p.acl, direction):
                lines.append(f"    {_acl_entry(rule.entry, far)}"
                             f' comment "{_comment(rule.name)}"')
            lines.append("  }")
    return lines


def _acl_entry(entry: AclEntry, far: str) -> str:
    parts = [] if entry.cidr.prefixlen == 0 else [f"ip {far} {entry.cidr}"]
    parts += _proto_match(entry.proto, entry.ports)
    return " ".join([*parts, "return" if entry.action == "allow" else "counter drop"])


def _sg_table(topo: Topology, ports: list[GuardedPort], tables: SgTables,
              bridges: Mapping[str, str]) -> Iterator[str]:
    yield f"table inet {tables.sg} {{"
    yield from _zones(topo, bridges, tables.first_zone)
    for p in ports:
        for direction in ("out", "in"):
            yield from _port_chain(topo, p, direction)
    yield "  chain forward {"
    yield "    type filter hook forward priority 0; policy accept;"
    if tables.shared_host:
        own = sorted(set(bridges.values()))
        if own:  # other labs' marks use the same numbers: their frames are theirs to judge
            names = ", ".join(f'"{b}"' for b in own)
            yield f"    iifname != {{ {names} }} accept  # another lab's bridge"
        yield "    meta mark 0 accept  # neither from nor to a guarded port"
    yield "    ct state established,related accept"
    # Neighbour discovery and MLD are the link's, never a security group's (as ARP, which
    # is no IP packet, never reaches this table): a dual-stack port must find its router.
    yield f"    icmpv6 type {{ {', '.join(LINK_ICMPV6)} }} accept"
    # Only guarded traffic is judged: a bridge without a guarded port may see one side
    # of an asymmetric flow (the ILB's), which its zone cannot call anything but invalid.
    yield "    meta mark != 0 ct state invalid counter drop"
    for p in ports:
        yield f"    meta mark and 0xffff0000 == 0x{p.pid << 16:08x} jump out_{p.pid}  # {p.where}"
    for p in ports:
        yield f"    meta mark and 0x0000ffff == 0x{p.pid:08x} jump in_{p.pid}  # {p.where}"
    yield "  }"
    yield "}"


def _zones(topo: Topology, bridges: Mapping[str, str], first: int) -> Iterator[str]:
    """One conntrack zone per bridge. A routed flow crosses several bridges of the fabric
    (attachment, then service); in one zone the second crossing of a packet that ends
    the connection (a RST) would be judged invalid and dropped. Zones keep each
    bridge's view apart, as separate hypervisor switches are (and two isolated sites
    with the same addresses never share a conntrack entry)."""
    if not bridges:
        return
    yield "  chain zones {"
    yield "    type filter hook prerouting priority raw; policy accept;"
    for zone, net in enumerate(topo.networks, start=first):
        if net.name in bridges:
            yield f'    iifname "{bridges[net.name]}" ct zone set {zone}  # {net.name}'
    yield "  }"


def _port_chain(topo: Topology, p: GuardedPort, direction: str) -> Iterator[str]:
    node, _, ifname = p.where.partition("/")
    layers = port_layers(topo, topo.node(node), topo.node(node).interface(ifname), direction)
    head = f"  chain {direction}_{p.pid} {{  # {p.where}: {', '.join(p.groups)} {direction}bound"
    if len(layers) == 1:
        yield head
        yield from _layer_rules(layers[0], direction)
        yield f'    counter drop comment "{p.where} {direction}: no rule allows"'
        yield "  }"
        return
    yield head  # every layer must allow: each returns here, or drops
    for k, _ in enumerate(layers, start=1):
        yield f"    jump {direction}_{p.pid}_{k}"
    yield "  }"
    for k, layer in enumerate(layers, start=1):
        yield f"  chain {direction}_{p.pid}_{k} {{  # {p.where}: {layer.level} " \
              f"{', '.join(layer.groups)}"
        yield from _layer_rules(layer, direction)
        yield f'    counter drop comment "{_comment(layer.fallthrough(p.where, direction))}"'
        yield "  }"


def _layer_rules(layer: Layer, direction: str) -> Iterator[str]:
    for rule in layer.rules:
        for line in _rule(rule, direction):
            yield f"    {line}"


def _rule(rule: Rule, direction: str) -> list[str]:
    """One line per address family the rule names (none if it names no address): a
    rule's IPv4 prefixes never match IPv6 and its IPv6 ones never IPv4 (AWS); a rule
    naming no address at all (an NSG's DenyAll) matches both."""
    far, near = ("daddr", "saddr") if direction == "out" else ("saddr", "daddr")
    verdict = "return" if rule.action == "allow" else "counter drop"
    comment = f' comment "{_comment(rule.label)}"' if rule.label else ""
    families: tuple[int | None, ...] = (None,) if rule.far is None and rule.near is None \
        else (4, 6)
    lines = []
    for family in families:
        parts: list[str] | None = []
        for field, peers in ((far, rule.far), (near, rule.near)):
            match = _address_match(field, peers, family)
            parts = None if match is None or parts is None else parts + match
        if parts is None:
            continue  # names no address of this family: never matches it
        parts = list(dict.fromkeys(parts))  # one family match, if both sides say it
        parts += _proto_match(rule.proto, rule.ports)
        lines.append(" ".join([*parts, verdict]) + comment)
    return lines


def _address_match(field: str, peers: tuple[Peer, ...] | None,
                   family: int | None) -> list[str] | None:
    """The match on `field` for the rule's prefixes of `family`; None: it has none."""
    if peers is None:
        return []
    nets = [p.network for p in peers if p.network.version == family]
    if not nets:
        return None
    if any(n.prefixlen == 0 for n in nets):
        return [f"meta nfproto ipv{family}"]
    keyword = "ip" if family == 4 else "ip6"
    collapsed = sorted(collapse_addresses(nets), key=_order)  # type: ignore[type-var]
    return [f"{keyword} {field} {{ {', '.join(str(n) for n in collapsed)} }}"]


def _order(net: IPv4Network | IPv6Network) -> tuple[int, int]:
    return int(net.network_address), net.prefixlen


def _comment(text: str) -> str:
    """nftables comments: no double quotes, at most 128 bytes."""
    return text.replace('"', "'")[:120]


def _proto_match(proto: str, ports: tuple[int, int] | None) -> list[str]:
    if proto == "all":
        return []
    if proto in ("icmp", "icmpv6"):  # each its family's: icmp is IPv4's, icmpv6 IPv6's
        return [f"meta l4proto {'ipv6-icmp' if proto == 'icmpv6' else 'icmp'}"]
    if proto not in ("tcp", "udp"):
        return [f"meta l4proto {proto}"]  # AWS: any other protocol number means every port
    if ports is None or ports == (0, 65535):
        return [f"meta l4proto {proto}"]
    low, high = ports
    return [f"{proto} dport {low if low == high else f'{low}-{high}'}"]
