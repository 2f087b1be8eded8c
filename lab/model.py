"""The topology model: frozen, typed values with no I/O (the mininet `Topo` idea).

A `Topology` is what a YAML file in `lab/topologies/` means once validated:
networks (L2 segments with a subnet), nodes (with interfaces, routes, sysctls,
an optional nftables ruleset and services to start). Backends never read YAML;
they receive a plan built from this model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    IPv6Address,
    IPv6Interface,
    IPv6Network,
)
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Network:
    """An L2 segment (a bridge) with its IPv4 subnet and, dual stack, an IPv6 one;
    `isolated` ones may share a subnet."""

    name: str
    subnet: IPv4Network
    isolated: bool = False
    network_acl: str = ""  # AWS: the subnet's network ACL, stateless, at its router's port
    security_groups: tuple[str, ...] = ()  # Azure: the subnet's NSG, on each of its NICs
    subnet6: IPv6Network | None = None


@dataclass(frozen=True, slots=True)
class Interface:
    """A node's interface on one network, with its address (and IPv6 address, on a dual
    stack link) and security groups."""

    name: str
    network: str
    address: IPv4Interface
    public: IPv4Address | None = None
    security_groups: tuple[str, ...] = ()
    address6: IPv6Interface | None = None


@dataclass(frozen=True, slots=True)
class SgRule:
    """One allow (or deny) rule of a security group; `peers` are the far side's prefixes.

    Peers written as a computed tag (`tags`) or a security group (`groups`) are
    resolved per interface by `lab.cloud_rules`; `written` keeps them as the
    file says, for messages. `local` narrows the near side (an NSG's
    destination inbound, its source outbound); empty: any.
    """

    proto: str  # tcp | udp | icmp | icmpv6 | all | an IP protocol number ("50")
    ports: tuple[int, int] | None
    peers: tuple[IPv4Network | IPv6Network, ...]  # either family (AWS: a rule has one)
    action: str = "allow"  # allow | deny (Azure NSGs have both)
    label: str = ""
    priority: int | None = None  # an NSG's: the lowest number is evaluated first
    tags: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    local: tuple[IPv4Network | IPv6Network, ...] = ()
    local_tags: tuple[str, ...] = ()
    written: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()  # a GCP firewall rule's target tags; empty: every instance


@dataclass(frozen=True, slots=True)
class SecurityGroup:
    """Stateful rules per direction; what no rule allows is dropped.

    `kind` sg: the rules in the order written, first match (AWS groups are
    allow-only, so order does not matter there); nsg: an Azure NSG, by priority,
    first match, with Azure's default rules after the written ones; gcp-firewall:
    the VPC firewall rules of one GCP network, by priority (deny first at equal
    priority), only the rules whose target tags the instance carries, then the
    implied rules at 65535.
    """

    name: str
    inbound: tuple[SgRule, ...]
    outbound: tuple[SgRule, ...]
    kind: str = "sg"  # sg | nsg | gcp-firewall


@dataclass(frozen=True, slots=True)
class AclEntry:
    """One numbered entry of a network ACL; `cidr` is the far side."""

    number: int
    proto: str
    ports: tuple[int, int] | None
    cidr: IPv4Network
    action: str  # allow | deny
    label: str = ""


@dataclass(frozen=True, slots=True)
class NetworkAcl:
    """An AWS network ACL: stateless, entries by number (kept here as written), first
    match, then deny. It acts where its subnets meet `router` (the node that stands for
    the VPC router)."""

    name: str
    inbound: tuple[AclEntry, ...]
    outbound: tuple[AclEntry, ...]
    router: str = "fabric"


@dataclass(frozen=True, slots=True)
class ComputedTag:
    """Azure's `VirtualNetwork` tag: `prefixes` (address space, peerings, gateway
    prefixes) plus, for a NIC, the prefixes of the user-defined routes of its subnet
    (routes with `udr` whose `from` is that subnet)."""

    name: str
    prefixes: tuple[IPv4Network, ...]


@dataclass(frozen=True, slots=True)
class Route:
    """A route; `source` selects a per-source route table (a subnet's route table).
    An IPv6 route has an IPv6 prefix, next hop and source (the schema checks they agree)."""

    to: IPv4Network | IPv6Network
    via: IPv4Address | IPv6Address
    source: IPv4Network | IPv6Network | None = None
    udr: str = ""  # Azure: the user-defined route this is (its prefix widens VirtualNetwork)


@dataclass(frozen=True, slots=True)
class Service:
    """A process the lab starts in a node: a fake cloud node, or the connector."""

    kind: str
    options: tuple[tuple[str, str], ...] = ()

    def option(self, key: str, default: str = "") -> str:
        return dict(self.options).get(key, default)


@dataclass(frozen=True, slots=True)
class Gateway:
    """A cloud gateway a node plays: `internet` (IGW, 1:1 NAT), `nat` (NAT gateway) or
    `egress-only` (AWS's egress-only internet gateway: IPv6 out, and only replies in)."""

    kind: str
    inside: str
    outside: str
    vpc: tuple[IPv4Network | IPv6Network, ...]
    anti_spoofing: bool = True
    # The provider's own source ranges (GCP: health checks, Cloud DNS forwarders) and
    # whether the edge drops them when they arrive from the internet.
    provider_ranges: tuple[IPv4Network, ...] = ()
    drop_provider_ranges: bool = False


@dataclass(frozen=True, slots=True)
class Node:
    """A host, router or appliance: one network namespace or container."""

    name: str
    role: str
    interfaces: tuple[Interface, ...]
    routes: tuple[Route, ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()
    nftables: str = ""
    services: tuple[Service, ...] = ()
    gateway: Gateway | None = None
    network_tags: tuple[str, ...] = ()  # GCP: the instance's network tags (firewall targets)

    def interface(self, name: str) -> Interface:
        for iface in self.interfaces:
            if iface.name == name:
                return iface
        raise KeyError(name)

    @property
    def forwards(self) -> bool:
        return self.role in ("router", "connector", "gateway")

    @property
    def dual_stack(self) -> bool:
        """It has an IPv6 address (an IPv4-only node keeps IPv6 disabled)."""
        return any(iface.address6 is not None for iface in self.interfaces)


@dataclass(frozen=True, slots=True)
class Topology:
    """A whole lab: networks, nodes and the resolvers its nodes use."""

    name: str
    description: str
    networks: tuple[Network, ...]
    nodes: tuple[Node, ...]
    dns: tuple[IPv4Address, ...] = ()
    security_groups: tuple[SecurityGroup, ...] = ()
    source: Path | None = field(default=None, compare=False)
    network_acls: tuple[NetworkAcl, ...] = ()
    computed_tags: tuple[ComputedTag, ...] = ()
    tags: tuple[tuple[str, tuple[IPv4Network | IPv6Network, ...]], ...] = ()  # static, by name

    def security_group(self, name: str) -> SecurityGroup:
        for group in self.security_groups:
            if group.name == name:
                return group
        raise KeyError(name)

    def network_acl(self, name: str) -> NetworkAcl:
        for acl in self.network_acls:
            if acl.name == name:
                return acl
        raise KeyError(name)

    def network(self, name: str) -> Network:
        for net in self.networks:
            if net.name == name:
                return net
        raise KeyError(name)

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def owner_of(self, address: IPv4Address | IPv6Address) -> tuple[Node, Interface] | None:
        for node in self.nodes:
            for iface in node.interfaces:
                if address in (iface.address.ip, iface.address6 and iface.address6.ip):
                    return node, iface
        return None
