"""Small builders for core policies in tests: readable rules, real lookups."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from connector.core.model import FlowKey, IpProto, Method
from connector.core.names import parse_pattern
from connector.core.policy import (
    AppSegment,
    ForwardingRule,
    Identity,
    NetworkService,
    Policy,
    PortRange,
    ServiceEntry,
    ServiceProto,
    ZiaGateway,
)

ME = Identity("cc1", "ccg-1", "vpc-lab")
SERVICES = {
    "web": NetworkService("web", (ServiceEntry(ServiceProto.TCP, (PortRange(80, 80),
                                                                  PortRange(443, 443))),)),
    "dns": NetworkService("dns", (ServiceEntry(ServiceProto.UDP, (PortRange(53, 53),)),
                                  ServiceEntry(ServiceProto.TCP, (PortRange(53, 53),)))),
    "icmp": NetworkService("icmp", (ServiceEntry(ServiceProto.ICMP),)),
}
SEGMENTS = {
    "app-a": AppSegment("app-a", (parse_pattern("app-a.corp.example"),),
                        (IPv4Address("192.0.2.10"),)),
    "app-b": AppSegment("app-b", (parse_pattern("*.partner.example"),),
                        (IPv4Address("192.0.2.10"),)),
}


def rule(order: int, method: Method, **criteria: object) -> ForwardingRule:
    return ForwardingRule(order, f"r{order}", method, **criteria)  # type: ignore[arg-type]


def policy(*rules: ForwardingRule, fail_closed: bool = True) -> Policy:
    return Policy(
        forwarding_rules=rules,
        source_ip_groups={"workloads": (IPv4Network("10.10.1.0/24"),),
                          "admins": (IPv4Network("10.10.9.0/28"),)},
        dest_ip_groups={"internet-web": (IPv4Network("198.18.10.0/24"),),
                        "partners": (parse_pattern("*.partner.example"),)},
        network_services=SERVICES, app_segments=SEGMENTS,
        zia_gateways={"default": ZiaGateway("default", IPv4Address("198.19.1.1"),
                                            IPv4Address("198.19.1.2"), fail_closed)})


def flow(src: str = "10.10.1.11", dst: str = "198.18.10.10", dport: int = 80,
         proto: int = IpProto.TCP) -> FlowKey:
    return FlowKey(proto, IPv4Address(src), IPv4Address(dst), 40000, dport)


@dataclass
class Names:
    """A NameLookup holding what DNS answers taught: address -> names."""

    table: dict[str, set[str]] = field(default_factory=dict)

    def learn(self, addr: str, name: str) -> Names:
        self.table.setdefault(addr, set()).add(name)
        return self

    def names_for(self, addr: IPv4Address) -> frozenset[str]:
        return frozenset(self.table.get(str(addr), ()))


@dataclass
class Pools:
    """A PoolLookup over real networks, with the addresses that have live mappings."""

    networks: dict[str, IPv4Network] = field(
        default_factory=lambda: {"default": IPv4Network("10.254.0.0/19")})
    live: set[str] = field(default_factory=set)

    def pool_of(self, addr: IPv4Address) -> str | None:
        return next((n for n, net in self.networks.items() if addr in net), None)

    def has_live_mapping(self, addr: IPv4Address) -> bool:
        return str(addr) in self.live


@dataclass
class Health:
    usable: set[str] = field(default_factory=lambda: {"default"})

    def is_usable(self, gateway: str) -> bool:
        return gateway in self.usable
