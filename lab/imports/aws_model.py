"""An AWS account as the importer reads it: the EC2 objects that decide L3/L4 reachability.

The AWS CLI/boto3 JSON front end (`lab.imports.aws_cli`) builds it, and so does
the Terraform one (`lab.imports.terraform_aws`, with resource addresses as
identifiers where ids are unknown before apply); `lab.imports.aws_lab` lays it
onto the lab. Every object keeps its origin (file and JSON path) for
messages. Identifiers are the export's (sg-..., subnet-...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from lab.imports.problems import Origin


@dataclass(frozen=True, slots=True)
class Permission:
    """One IpPermission: a protocol and port range, and the peers it names."""

    proto: str  # tcp | udp | icmp | all | a protocol number
    ports: tuple[int, int] | None
    cidrs: tuple[str, ...]
    prefix_lists: tuple[str, ...]
    groups: tuple[str, ...]
    label: str
    origin: Origin


@dataclass(frozen=True, slots=True)
class SecurityGroup:
    id: str
    name: str
    vpc: str
    inbound: tuple[Permission, ...]
    outbound: tuple[Permission, ...]
    origin: Origin


@dataclass(frozen=True, slots=True)
class AclEntry:
    number: int
    egress: bool
    action: str  # allow | deny
    proto: str
    ports: tuple[int, int] | None
    cidr: str
    origin: Origin


@dataclass(frozen=True, slots=True)
class NetworkAcl:
    id: str
    vpc: str
    subnets: tuple[str, ...]
    entries: tuple[AclEntry, ...]
    origin: Origin
    name: str = ""


@dataclass(frozen=True, slots=True)
class Subnet:
    id: str
    vpc: str
    cidr: IPv4Network
    name: str
    origin: Origin


@dataclass(frozen=True, slots=True)
class Route:
    """A route: its destination and what it points at (igw-, nat-, vpce-, local...)."""

    destination: IPv4Network | None
    prefix_list: str
    target: str
    origin: Origin


@dataclass(frozen=True, slots=True)
class RouteTable:
    id: str
    vpc: str
    subnets: tuple[str, ...]
    main: bool
    routes: tuple[Route, ...]
    origin: Origin


@dataclass(frozen=True, slots=True)
class Eni:
    id: str
    subnet: str
    address: IPv4Address
    public: IPv4Address | None
    groups: tuple[str, ...]
    tags: tuple[tuple[str, str], ...]
    instance: str
    device: int | None
    kind: str  # InterfaceType: interface, gateway_load_balancer, ..._endpoint, nat_gateway
    origin: Origin


@dataclass(frozen=True, slots=True)
class NatGateway:
    id: str
    subnet: str
    address: IPv4Address
    public: IPv4Address
    origin: Origin


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A VPC endpoint; the lab needs the GatewayLoadBalancer kind."""

    id: str
    kind: str
    subnets: tuple[str, ...]
    enis: tuple[str, ...]
    origin: Origin


@dataclass(frozen=True, slots=True)
class Vpc:
    id: str
    cidrs: tuple[IPv4Network, ...]
    origin: Origin


@dataclass
class Account:
    """Everything read, from however many files."""

    vpcs: list[Vpc] = field(default_factory=list)
    subnets: list[Subnet] = field(default_factory=list)
    groups: list[SecurityGroup] = field(default_factory=list)
    acls: list[NetworkAcl] = field(default_factory=list)
    route_tables: list[RouteTable] = field(default_factory=list)
    enis: list[Eni] = field(default_factory=list)
    nats: list[NatGateway] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)
    igws: dict[str, str] = field(default_factory=dict)  # igw id -> vpc id
    prefix_lists: dict[str, tuple[tuple[str, ...], Origin]] = field(default_factory=dict)
    eips: dict[str, IPv4Address] = field(default_factory=dict)  # eni id -> Elastic IP
    sources: list[str] = field(default_factory=list)
