"""An Azure subscription as the importer reads it: the network objects that decide L3/L4
reachability.

The Azure CLI JSON front end (`lab.imports.azure_cli`) builds it from `az network ...
list` answers, the Terraform one (`lab.imports.terraform_azure`) from a plan's or
state's `azurerm_*` resources; `lab.imports.azure_lab` lays it onto the lab. Identifiers are Azure
resource ids, compared in lower case (Azure treats them case-insensitively and its
own exports mix cases). Every object keeps its origin (file and JSON path).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from lab.imports.problems import Origin


def rid(text: str) -> str:
    """A resource id as the importer compares it."""
    return text.strip().lower()


def leaf(resource_id: str) -> str:
    """The name an id ends with: `.../subnets/cc-mgmt` -> `cc-mgmt`."""
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class NsgRule:
    """One security rule, its address and port lists already split out."""

    name: str
    priority: int
    inbound: bool
    allow: bool
    proto: str  # tcp | udp | icmp | all | a protocol number
    sources: tuple[str, ...]  # prefixes or service tags, `*` as 0.0.0.0/0
    destinations: tuple[str, ...]
    ports: tuple[str, ...]  # destination port ranges; () = any
    origin: Origin


@dataclass(frozen=True, slots=True)
class Nsg:
    id: str
    name: str
    rules: tuple[NsgRule, ...]
    origin: Origin


@dataclass(frozen=True, slots=True)
class AzSubnet:
    id: str
    name: str
    vnet: str
    cidr: IPv4Network
    nsg: str  # resource id, '' for none
    route_table: str
    nat_gateway: str
    origin: Origin


@dataclass(frozen=True, slots=True)
class Vnet:
    id: str
    name: str
    prefixes: tuple[IPv4Network, ...]
    peered: tuple[IPv4Network, ...]  # the remote address spaces of its peerings
    origin: Origin


@dataclass(frozen=True, slots=True)
class AzRoute:
    name: str
    prefix: IPv4Network
    hop: str  # nextHopType as Azure writes it: VirtualAppliance, Internet, VnetLocal...
    hop_ip: IPv4Address | None
    origin: Origin


@dataclass(frozen=True, slots=True)
class AzRouteTable:
    id: str
    name: str
    routes: tuple[AzRoute, ...]
    origin: Origin


@dataclass(frozen=True, slots=True)
class Nic:
    id: str
    name: str
    vm: str  # the virtual machine's id, '' when detached
    primary: bool
    address: IPv4Address
    subnet: str
    public_ip: str  # the public IP resource's id, '' for none
    nsg: str
    tags: tuple[tuple[str, str], ...]
    origin: Origin


@dataclass(frozen=True, slots=True)
class Frontend:
    """A load balancer's private frontend: the address a UDR names as next hop."""

    balancer: str
    address: IPv4Address
    subnet: str
    probe_port: int | None
    origin: Origin


@dataclass
class Subscription:
    sources: list[str]
    vnets: list[Vnet] = field(default_factory=list)
    subnets: list[AzSubnet] = field(default_factory=list)
    nsgs: list[Nsg] = field(default_factory=list)
    route_tables: list[AzRouteTable] = field(default_factory=list)
    nics: list[Nic] = field(default_factory=list)
    frontends: list[Frontend] = field(default_factory=list)
    public_ips: dict[str, IPv4Address] = field(default_factory=dict)  # id -> address
    # VNet id -> where a VPN or ExpressRoute gateway of that VNet is written: the prefixes
    # it learns join the VNet's VirtualNetwork tag, and no export here lists them
    gateways: dict[str, Origin] = field(default_factory=dict)
