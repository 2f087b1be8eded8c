"""What the checks look at: the connectors' interfaces by role, the ranges that count as
local and as management, the internet's side, and the addresses that stand for a range."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from lab.gateways import RFC1918
from lab.model import Interface, Node, Topology

CGNAT = IPv4Network("100.64.0.0/10")
AZURE_PROBE_SOURCE = IPv4Network("168.63.129.16/32")  # spec §3.3 (M2): AzureLoadBalancer


@dataclass(frozen=True, slots=True)
class Port:
    """A connector's interface and its role (`management` or `service`)."""

    node: Node
    iface: Interface
    role: str

    def text(self) -> str:
        return f"{self.node.name}/{self.iface.name}"


@dataclass(frozen=True, slots=True)
class Scope:
    topo: Topology
    ports: tuple[Port, ...]
    local: tuple[IPv4Network, ...]  # RFC 1918, CGNAT, the VPC/VNet, the platform's probes
    management: tuple[IPv4Network, ...]
    internet: tuple[Node, IPv4Address] | None  # a node beyond the internet gateway

    def role(self, role: str) -> tuple[Port, ...]:
        return tuple(p for p in self.ports if p.role == role)


def scope_of(topo: Topology, roles: Mapping[str, tuple[str, str]] | None = None,
             management: Sequence[IPv4Network] = ()) -> Scope:
    """`roles`: node -> (management, service) interface names, as the connector's config
    says; a connector missing there: an interface named like `mgmt` is its management one,
    the others its service ones. `management`: the management range (default: the
    subnets of the connectors' management interfaces)."""
    ports = []
    for node in topo.nodes:
        if not any(s.kind == "connector" for s in node.services):
            continue
        mgmt = (roles or {}).get(node.name, ("", ""))[0]
        for iface in node.interfaces:
            named = iface.name == mgmt if mgmt else "mgmt" in iface.name
            ports.append(Port(node, iface, "management" if named else "service"))
    mgmt_subnets = {topo.network(p.iface.network).subnet for p in ports
                    if p.role == "management"}
    return Scope(topo, tuple(ports), local_ranges(topo),
                 tuple(management) or tuple(sorted(mgmt_subnets)), internet_side(topo))


def local_ranges(topo: Topology) -> tuple[IPv4Network, ...]:
    nets = [IPv4Network(p) for p in RFC1918] + [CGNAT, AZURE_PROBE_SOURCE]
    # IPv4 only: the rules linted are IPv4 (an egress-only gateway's IPv6 VPC is not here)
    nets += [p for node in topo.nodes if node.gateway for p in node.gateway.vpc
             if p.version == 4]
    nets += [p for tag in topo.computed_tags for p in tag.prefixes]
    tags = dict(topo.tags)
    for name in ("VirtualNetwork", "AzureLoadBalancer"):
        nets += [p for p in tags.get(name, ()) if isinstance(p, IPv4Network)]
    return tuple(sorted(set(nets)))


def internet_side(topo: Topology) -> tuple[Node, IPv4Address] | None:
    """A host on the internet gateway's outside link (`attacker` when there is one) and its
    address: where an internet source starts."""
    for gw in topo.nodes:
        if gw.gateway is None or gw.gateway.kind != "internet":
            continue
        outside = gw.interface(gw.gateway.outside).network
        hosts = [(n, i.address.ip) for n in topo.nodes if n is not gw
                 for i in n.interfaces if i.network == outside and n.routes]
        hosts.sort(key=lambda h: h[0].name != "attacker")
        if hosts:
            return hosts[0]
    return None


def outside(net: IPv4Network, ranges: Sequence[IPv4Network],
            prefer: IPv4Address | None = None) -> IPv4Address | None:
    """An address of `net` in none of `ranges` (`prefer` when it is one), or None."""
    pieces = [net]
    for cut in ranges:
        rest: list[IPv4Network] = []
        for piece in pieces:
            if not piece.overlaps(cut):
                rest.append(piece)
            elif not piece.subnet_of(cut):
                rest += piece.address_exclude(cut)
        pieces = rest
    if not pieces:
        return None
    if prefer is not None and any(prefer in p for p in pieces):
        return prefer
    first = min(pieces)
    return first.network_address + (1 if first.num_addresses > 2 else 0)


def inside(net: IPv4Network, ranges: Sequence[IPv4Network],
           but_not: Sequence[IPv4Network]) -> IPv4Address | None:
    """An address of `net` that is in one of `ranges` and in none of `but_not`."""
    for cut in ranges:
        if net.overlaps(cut):
            both = net if net.subnet_of(cut) else cut
            found = outside(both, but_not)
            if found is not None:
                return found
    return None
