"""The topology model: frozen, typed values with no I/O (the mininet `Topo` idea).

A `Topology` is what a YAML file in `lab/topologies/` means once validated:
networks (L2 segments with a subnet), nodes (with interfaces, routes, sysctls,
an optional nftables ruleset and services to start). Backends never read YAML;
they receive a plan built from this model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Network:
    """An L2 segment (a bridge) with its IPv4 subnet; `isolated` ones may share a subnet."""

    name: str
    subnet: IPv4Network
    isolated: bool = False


@dataclass(frozen=True, slots=True)
class Interface:
    """A node's interface on one network, with its address and security groups."""

    name: str
    network: str
    address: IPv4Interface
    public: IPv4Address | None = None
    security_groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SgRule:
    """One allow (or deny) rule of a security group; `peers` are the far side's prefixes."""

    proto: str  # tcp | udp | icmp | all
    ports: tuple[int, int] | None
    peers: tuple[IPv4Network, ...]
    action: str = "allow"  # allow | deny (Azure NSGs have both)
    label: str = ""


@dataclass(frozen=True, slots=True)
class SecurityGroup:
    """Stateful rules per direction, evaluated in order; what no rule allows is dropped."""

    name: str
    inbound: tuple[SgRule, ...]
    outbound: tuple[SgRule, ...]


@dataclass(frozen=True, slots=True)
class Route:
    """A route; `source` selects a per-source route table (a subnet's route table)."""

    to: IPv4Network
    via: IPv4Address
    source: IPv4Network | None = None


@dataclass(frozen=True, slots=True)
class Service:
    """A process the lab starts in a node: a fake cloud node, or the connector."""

    kind: str
    options: tuple[tuple[str, str], ...] = ()

    def option(self, key: str, default: str = "") -> str:
        return dict(self.options).get(key, default)


@dataclass(frozen=True, slots=True)
class Gateway:
    """A cloud gateway a node plays: `internet` (IGW, 1:1 NAT) or `nat` (NAT gateway)."""

    kind: str
    inside: str
    outside: str
    vpc: tuple[IPv4Network, ...]
    anti_spoofing: bool = True


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

    def interface(self, name: str) -> Interface:
        for iface in self.interfaces:
            if iface.name == name:
                return iface
        raise KeyError(name)

    @property
    def forwards(self) -> bool:
        return self.role in ("router", "connector", "gateway")


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

    def security_group(self, name: str) -> SecurityGroup:
        for group in self.security_groups:
            if group.name == name:
                return group
        raise KeyError(name)

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def owner_of(self, address: IPv4Address) -> tuple[Node, Interface] | None:
        for node in self.nodes:
            for iface in node.interfaces:
                if iface.address.ip == address:
                    return node, iface
        return None
