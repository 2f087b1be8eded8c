"""An imported account as the lab needs it, whatever the provider: the neutral middle.

Each provider's importer reads its exports into its own model, decides which
subnets hold the workloads, the connectors' interfaces and the load balancer,
and writes the result as a `LabCloud`; `lab.imports.layout` turns any
`LabCloud` into a topology. Rules are already in the topology's terms here
(prefixes, tag names, `group:NAME`), and every part keeps a comment saying where
in the export it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule in the topology's terms."""

    proto: str
    ports: str | None
    peers: tuple[str, ...]
    action: str = "allow"
    priority: int | None = None
    local: tuple[str, ...] = ()
    label: str = ""


@dataclass(frozen=True, slots=True)
class GroupSpec:
    name: str
    kind: str  # sg | nsg
    inbound: tuple[RuleSpec, ...]
    outbound: tuple[RuleSpec, ...]
    comment: str


@dataclass(frozen=True, slots=True)
class AclEntrySpec:
    number: int
    proto: str
    ports: str | None
    cidr: str
    action: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class AclSpec:
    name: str
    inbound: tuple[AclEntrySpec, ...]
    outbound: tuple[AclEntrySpec, ...]
    comment: str


@dataclass(frozen=True, slots=True)
class SubnetSpec:
    name: str
    cidr: IPv4Network
    comment: str
    acl: str = ""
    nsg: str = ""

    @property
    def router(self) -> IPv4Address:
        """The cloud's router in the subnet: its first host address (AWS's VPC router,
        Azure's default gateway)."""
        return self.cidr.network_address + 1


@dataclass(frozen=True, slots=True)
class NicSpec:
    subnet: str
    address: IPv4Address
    public: IPv4Address | None
    groups: tuple[str, ...]
    comment: str


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    name: str
    management: NicSpec
    service: NicSpec


# Where a route sends its packets, in the lab: the internet gateway, the NAT
# gateway, or the load balancer in front of the connectors.
HOPS = ("internet", "nat", "balancer")


@dataclass(frozen=True, slots=True)
class RouteSpec:
    subnet: str
    to: IPv4Network
    hop: str  # one of HOPS
    comment: str
    udr: str = ""  # Azure: the route's name (its prefix joins VirtualNetwork)


@dataclass(frozen=True, slots=True)
class BalancerSpec:
    """The GWLB (endpoint `address` in its subnet, GENEVE from `source` in the connectors'
    service subnet) or the ILB (frontend `address`)."""

    kind: str  # gwlb | ilb
    subnet: str
    address: IPv4Address
    comment: str
    source: IPv4Address | None = None
    source_subnet: str = ""
    probe_port: int = 50000


@dataclass(frozen=True, slots=True)
class NatSpec:
    subnet: str
    address: IPv4Address
    public: IPv4Address
    comment: str


@dataclass(frozen=True, slots=True)
class LabCloud:
    provider: str  # aws | azure
    sources: tuple[str, ...]
    address_space: tuple[IPv4Network, ...]
    subnets: tuple[SubnetSpec, ...]
    connectors: tuple[ConnectorSpec, ...]
    groups: tuple[GroupSpec, ...]
    balancer: BalancerSpec
    workloads: str
    management: str
    acls: tuple[AclSpec, ...] = ()
    routes: tuple[RouteSpec, ...] = ()
    nat: NatSpec | None = None
    tags: tuple[tuple[str, tuple[str, ...], str], ...] = ()  # name, values, comment
    virtual_network: tuple[IPv4Network, ...] = ()  # Azure: VirtualNetwork before UDRs
    notes: tuple[str, ...] = field(default=())
    workload_groups: tuple[str, ...] = ()  # the groups of the account's own workloads

    def subnet(self, name: str) -> SubnetSpec:
        return next(s for s in self.subnets if s.name == name)
