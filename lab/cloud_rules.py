"""The cloud's filters as the providers document them, resolved for one bridge port.

One place says which rules judge a packet where, in which order, and what each
peer means there; the fabric's nftables (`lab.security_groups`) and the static
evaluator (`lab.reach`) both read it, so what the lab enforces and what it
expects cannot drift apart. docs/cloud-semantics.md cites the sources.

- A security group (`kind: sg`): its rules in the order written, first match;
  the groups of an interface are one list (AWS: the union of allow-only groups).
- An NSG (`kind: nsg`): by priority, first match, then Azure's default rules
  (AllowVnetInBound 65000, AllowAzureLoadBalancerInBound 65001, DenyAllInBound
  65500, and the outbound three). A subnet's NSG (on the link) and a NIC's both
  judge: inbound the subnet's first, outbound the NIC's first; each must allow.
- A GCP VPC firewall (`kind: gcp-firewall`, `lab.gcp_firewall`): the rules of
  the NIC's network whose target tags the instance carries (no target: all), by
  priority, a deny before an allow of the same priority, first match, then the
  implied rules (allow all egress, deny all ingress, priority 65535).
- Peers: a prefix; a static tag; a computed tag (`VirtualNetwork`: its prefixes
  plus the prefixes of the user-defined routes of the port's subnet); a group
  (`group:NAME`: the private addresses of the interfaces that carry it).
- A network ACL: stateless, by rule number, first match, then deny (32767), on
  the frames that cross between its subnet and its router.
Pure: topology in, values out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network

from lab.gcp_firewall import IMPLIED, IMPLIED_PRIORITY, applies_to, precedence
from lab.model import (
    AclEntry,
    Interface,
    NetworkAcl,
    Node,
    Route,
    SecurityGroup,
    SgRule,
    Topology,
)

ANY = IPv4Network("0.0.0.0/0")
IMPLICIT_DENY = 32767


@dataclass(frozen=True, slots=True)
class Peer:
    """One prefix a rule names, and why it is there (for messages). Either family: a
    rule naming only IPv4 prefixes allows no IPv6, and the other way round (AWS)."""

    network: IPv4Network | IPv6Network
    origin: str


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule resolved at one port. `far`/`near` None: any address."""

    proto: str
    ports: tuple[int, int] | None
    far: tuple[Peer, ...] | None
    near: tuple[Peer, ...] | None
    action: str
    name: str
    path: str
    label: str = ""

    def describe(self) -> str:
        return f"{self.name} ({self.summary()})"

    def summary(self) -> str:
        ports = "" if self.ports is None or self.proto not in ("tcp", "udp") else \
            f" {self.ports[0]}" + (f"-{self.ports[1]}" if self.ports[1] != self.ports[0] else "")
        far = "any" if self.far is None else ", ".join(sorted({p.origin for p in self.far}))
        return f"{self.action} {self.proto}{ports} {far or 'nothing'}"


@dataclass(frozen=True, slots=True)
class Layer:
    """The groups of one level (the NIC's, or its subnet's) and their rules, in order.
    A packet must be allowed by every layer of its port."""

    level: str  # nic | subnet
    kind: str  # sg | nsg | gcp-firewall
    groups: tuple[str, ...]
    rules: tuple[Rule, ...]

    def fallthrough(self, where: str, direction: str) -> str:
        what = {"nsg": "NSG", "gcp-firewall": "VPC firewall"}.get(self.kind, "security group")
        return f"{what} {', '.join(self.groups)} ({where} {direction}): no rule allows"


def guarded(node: Node) -> bool:
    """Subnet NSGs judge the NICs of hosts, servers and connectors, not the cloud's own
    routers and gateways (an Azure subnet NSG is applied to each NIC in the subnet)."""
    return node.role in ("host", "server", "connector")


def port_layers(topo: Topology, node: Node, iface: Interface,
                direction: str) -> tuple[Layer, ...]:
    """The layers judging packets that leave (`out`) or reach (`in`) this port, in order."""
    nic = tuple(topo.security_group(g) for g in iface.security_groups)
    net = topo.network(iface.network)
    subnet = tuple(topo.security_group(g) for g in net.security_groups) if guarded(node) else ()
    levels = [("subnet", subnet), ("nic", nic)]
    if direction == "out":
        levels.reverse()
    return tuple(_layer(topo, node, iface, level, groups, direction)
                 for level, groups in levels if groups)


def _layer(topo: Topology, node: Node, iface: Interface, level: str,
           groups: tuple[SecurityGroup, ...], direction: str) -> Layer:
    kinds = {g.kind for g in groups}
    kind = "gcp-firewall" if "gcp-firewall" in kinds else "nsg" if "nsg" in kinds else "sg"
    rules: list[tuple[int, Rule]] = []
    for group in groups:
        written = group.inbound if direction == "in" else group.outbound
        for i, rule in enumerate(written):
            if group.kind == "gcp-firewall" and not applies_to(rule.targets, node.network_tags):
                continue  # its target tags are not this instance's
            rules.append((rule.priority or 0, _resolve(topo, iface, group, rule, direction, i)))
        if group.kind == "nsg":
            rules += [(priority, default) for priority, default
                      in azure_defaults(topo, iface, group.name, direction)]
        if group.kind == "gcp-firewall":
            rules.append(implied_rule(group.name, direction))
    if kind == "nsg":
        rules.sort(key=lambda pair: pair[0])
    if kind == "gcp-firewall":
        rules.sort(key=lambda pair: precedence(pair[0], pair[1].action))
    return Layer(level, kind, tuple(g.name for g in groups), tuple(r for _, r in rules))


def _resolve(topo: Topology, iface: Interface, group: SecurityGroup, rule: SgRule,
             direction: str, index: int) -> Rule:
    bound = "inbound" if direction == "in" else "outbound"
    path = f"security_groups.{group.name}.{bound}[{index}]"
    if group.kind == "nsg":
        name = f"NSG {group.name} rule '{rule.label or index}' (priority {rule.priority})"
    elif group.kind == "gcp-firewall":
        name = f"VPC firewall {group.name} rule '{rule.label or index}' " \
            f"(priority {rule.priority})"
    else:
        name = f"security group {group.name} {bound}[{index}]" + \
            (f" '{rule.label}'" if rule.label else "")
    far = _far(topo, iface, rule)
    near = _names(topo, iface, [str(n) for n in rule.local] + list(rule.local_tags)) \
        if (rule.local or rule.local_tags) else None
    return Rule(rule.proto, rule.ports, far, near, rule.action, name, path, rule.label)


def _far(topo: Topology, iface: Interface, rule: SgRule) -> tuple[Peer, ...] | None:
    if rule.written:
        return _names(topo, iface, list(rule.written))
    if not rule.peers and not rule.tags and not rule.groups:
        return None
    return tuple(Peer(p, str(p)) for p in rule.peers)


def _names(topo: Topology, iface: Interface, names: list[str]) -> tuple[Peer, ...]:
    static = dict(topo.tags)
    computed = {t.name: t for t in topo.computed_tags}
    peers: list[Peer] = []
    for name in names:
        if name.startswith("group:"):
            peers += group_members(topo, name[len("group:"):])
        elif name in computed:
            peers += computed_tag(topo, iface, computed[name].name)
        elif name in static:
            peers += [Peer(p, name) for p in static[name]]
        else:
            peers.append(Peer(ip_network(name), name))
    return tuple(peers)


def group_members(topo: Topology, group: str) -> list[Peer]:
    """AWS: a group reference matches the private addresses of its members' interfaces,
    IPv4 and IPv6 (a dual-stack member's /128 too)."""
    return [Peer(ip_network(address), f"group:{group} ({n.name}/{i.name})")
            for n in topo.nodes for i in n.interfaces if group in i.security_groups
            for address in (i.address.ip, *((i.address6.ip,) if i.address6 else ()))]


def computed_tag(topo: Topology, iface: Interface, name: str) -> list[Peer]:
    """`VirtualNetwork` for a NIC: its prefixes, and the prefix of every user-defined
    route of the NIC's subnet (Azure adds UDR prefixes to the tag)."""
    tag = next(t for t in topo.computed_tags if t.name == name)
    peers = [Peer(p, name) for p in tag.prefixes]
    for node, i, route in widening_routes(topo, iface):
        if isinstance(route.to, IPv4Network):  # IPv4 rules: an IPv6 route widens no IPv4 tag
            peers.append(Peer(route.to, f"{name} widened by route '{route.udr}' "
                                        f"(nodes.{node.name}.routes[{i}])"))
    return peers


def widening_routes(topo: Topology, iface: Interface) -> list[tuple[Node, int, Route]]:
    """The user-defined routes of the NIC's subnet: their prefixes join `VirtualNetwork`."""
    subnet = topo.network(iface.network).subnet
    return [(node, i, route) for node, i, route in user_routes(topo)
            if isinstance(route.source, IPv4Network) and subnet.subnet_of(route.source)]


def user_routes(topo: Topology) -> Iterator[tuple[Node, int, Route]]:
    for node in topo.nodes:
        for i, route in enumerate(node.routes):
            if route.udr:
                yield node, i, route


def azure_defaults(topo: Topology, iface: Interface, group: str,
                   direction: str) -> list[tuple[int, Rule]]:
    """An NSG's default rules (they cannot be removed; rules with a lower priority number
    come first)."""
    vnet = computed_tag(topo, iface, "VirtualNetwork") if any(
        t.name == "VirtualNetwork" for t in topo.computed_tags) else \
        [Peer(p, "VirtualNetwork") for p in dict(topo.tags).get("VirtualNetwork", ())]
    static = dict(topo.tags)
    where = f"security_groups.{group}"

    def rule(name: str, priority: int, far: list[Peer] | None, near: list[Peer] | None,
             action: str) -> tuple[int, Rule]:
        return priority, Rule("all", None, None if far is None else tuple(far),
                              None if near is None else tuple(near), action,
                              f"NSG {group} default rule '{name}' (priority {priority})",
                              f"{where} (default rule {name})", name)

    if direction == "in":
        lb = [Peer(p, "AzureLoadBalancer") for p in static.get("AzureLoadBalancer", ())]
        return [rule("AllowVnetInBound", 65000, vnet, vnet, "allow"),
                rule("AllowAzureLoadBalancerInBound", 65001, lb, None, "allow"),
                rule("DenyAllInBound", 65500, None, None, "deny")]
    internet = [Peer(p, "Internet") for p in static.get("Internet", ())]
    return [rule("AllowVnetOutBound", 65000, vnet, vnet, "allow"),
            rule("AllowInternetOutBound", 65001, internet, None, "allow"),
            rule("DenyAllOutBound", 65500, None, None, "deny")]


def implied_rule(group: str, direction: str) -> tuple[int, Rule]:
    """A GCP network's implied rule for one direction (egress allowed, ingress denied)."""
    name, action = IMPLIED[direction]
    return IMPLIED_PRIORITY, Rule("all", None, None, None, action,
                                  f"VPC firewall {group} implied rule '{name}' "
                                  f"(priority {IMPLIED_PRIORITY})",
                                  f"security_groups.{group} (implied rule {name})", name)


# -- network ACLs ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AclRule:
    """A network ACL entry with its name and path, the implicit deny included."""

    entry: AclEntry
    name: str
    path: str


def acl_rules(acl: NetworkAcl, direction: str) -> tuple[AclRule, ...]:
    bound = "inbound" if direction == "in" else "outbound"
    written = acl.inbound if direction == "in" else acl.outbound
    rules = [AclRule(e, f"network ACL {acl.name} {bound} rule {e.number}"
                     + (f" '{e.label}'" if e.label else ""),
                     f"network_acls.{acl.name}.{bound}[{i}]")
             for i, e in sorted(enumerate(written), key=lambda pair: pair[1].number)]
    rules.append(AclRule(AclEntry(IMPLICIT_DENY, "all", None, ANY, "deny", "*"),
                         f"network ACL {acl.name} {bound} rule * (implicit deny)",
                         f"network_acls.{acl.name}.{bound} (rule *)"))
    return tuple(rules)


@dataclass(frozen=True, slots=True)
class AclPort:
    """Where a subnet meets its router: frames in by this port enter the subnet."""

    network: str
    acl: NetworkAcl
    node: str
    iface: str


def acl_ports(topo: Topology) -> list[AclPort]:
    ports = []
    for net in topo.networks:
        if not net.network_acl:
            continue
        acl = topo.network_acl(net.network_acl)
        for node in topo.nodes:
            if node.name == acl.router:
                ports += [AclPort(net.name, acl, node.name, i.name)
                          for i in node.interfaces if i.network == net.name]
    return ports
