"""Security groups, NSGs and network ACLs in a topology file: rules with prefixes,
named tags or other groups.

    tags:                              # Azure service tags, or any named prefix set
      AzureLoadBalancer: [198.51.100.16/32]
      VirtualNetwork:                  # computed per subnet (lab.cloud_rules)
        virtual_network: [10.50.0.0/16]
    security_groups:
      sg-mgmt:
        inbound:
          - {proto: tcp, ports: 22, from: [VirtualNetwork], label: ssh from the VNet}
          - {proto: all, from: [group:sg-mgmt], label: the group's own members}
        outbound:
          - {proto: tcp, ports: 443, to: [0.0.0.0/0]}
      nsg-svc:
        kind: nsg                      # Azure: by priority, first match, default rules added
        inbound:
          - {priority: 4000, proto: all, from: [VirtualNetwork], local: [VirtualNetwork]}
      vpc-svc:
        kind: gcp-firewall             # GCP: one VPC network's firewall rules, implied rules
        inbound:                       # added; `targets`: the instances' network tags
          - {priority: 900, proto: udp, ports: 53, from: [CloudDns], targets: [zs-cc]}
    network_acls:
      acl-svc:                         # AWS: stateless, by rule number, then deny
        inbound:
          - {rule: 100, proto: tcp, ports: 1024-65535, cidr: 0.0.0.0/0, action: allow}
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lab.model import AclEntry, ComputedTag, NetworkAcl, SecurityGroup, SgRule
from yamlissues import Issue

GROUP_PREFIX = "group:"
PROTOCOLS = ("tcp", "udp", "icmp", "icmpv6", "all")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def check_proto(value: str | int) -> str:
    """tcp, udp, icmp, icmpv6, all, or an IP protocol number 0-255 (AWS writes 50 for
    ESP, icmpv6 for 58)."""
    text = str(value).lower()
    if text in PROTOCOLS:
        return text
    if text.isdigit() and 0 <= int(text) <= 255:
        return text
    raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)} or a number 0-255, "
                     f"not {value!r}")


class _ProtoPorts(_Strict):
    """A rule's protocol and ports, checked the same way in groups and network ACLs."""

    proto: str
    ports: int | str | None = None

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: int | str | None) -> int | str | None:
        parse_ports(value)
        return value

    @field_validator("proto", mode="before")
    @classmethod
    def _proto(cls, value: str | int) -> str:
        return check_proto(value)


class RawInbound(_ProtoPorts):
    peers: list[str] = Field(alias="from")
    local: list[str] = []
    action: Literal["allow", "deny"] = "allow"
    priority: int | None = Field(default=None, ge=0, le=65535)
    targets: list[str] = []
    label: str = ""


class RawOutbound(RawInbound):
    peers: list[str] = Field(alias="to")


class RawSecurityGroup(_Strict):
    kind: Literal["sg", "nsg", "gcp-firewall"] = "sg"
    inbound: list[RawInbound] = []
    outbound: list[RawOutbound] = []


class RawComputedTag(_Strict):
    virtual_network: list[IPv4Network] = Field(min_length=1)


class RawAclEntry(_ProtoPorts):
    rule: int = Field(ge=1, le=32766)
    cidr: IPv4Network
    action: Literal["allow", "deny"]
    label: str = ""


class RawNetworkAcl(_Strict):
    router: str = "fabric"
    inbound: list[RawAclEntry] = []
    outbound: list[RawAclEntry] = []


def parse_ports(value: int | str | None) -> tuple[int, int] | None:
    """22 -> (22, 22); '1024-65535' -> (1024, 65535); None -> any port."""
    if value is None:
        return None
    low, _, high = str(value).partition("-")
    try:
        pair = (int(low), int(high or low))
    except ValueError:
        raise ValueError(f"ports must be a number or a range like 1024-65535, not {value!r}") \
            from None
    if not 0 <= pair[0] <= pair[1] <= 65535:
        raise ValueError(f"ports {value!r} out of 0-65535 or reversed")
    return pair


@dataclass(frozen=True, slots=True)
class Names:
    """What a peer may name: static tags (resolved here), computed tags and groups
    (resolved per interface, later)."""

    tags: dict[str, list[IPv4Network | IPv6Network]]
    computed: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()


def build_group(name: str, raw: RawSecurityGroup, names: Names,
                issues: list[Issue]) -> SecurityGroup:
    def rules(items: list[Any], direction: str) -> tuple[SgRule, ...]:
        built = []
        for i, item in enumerate(items):
            path = f"security_groups.{name}.{direction}[{i}]"
            key = "from" if direction == "inbound" else "to"
            far = _peers(item.peers, names, f"{path}.{key}", issues)
            near = _peers(item.local, names, f"{path}.local", issues)
            if far.groups and raw.kind != "sg" or near.groups:
                issues.append(Issue("", f"{path}.{key if far.groups else 'local'}",
                                    "a group reference here is not supported",
                                    "NSG and GCP firewall rules name prefixes or tags; AWS "
                                    "groups reference groups as peers only"))
            issues.extend(_kind_issues(raw.kind, item, path))
            priority = item.priority
            if raw.kind == "gcp-firewall" and priority is None:
                priority = GCP_DEFAULT_PRIORITY
            built.append(SgRule(item.proto, parse_ports(item.ports), far.prefixes, item.action,
                                item.label, priority, far.tags, far.groups, near.prefixes,
                                near.tags, tuple(item.peers), tuple(item.targets)))
        return tuple(built)

    return SecurityGroup(name, rules(raw.inbound, "inbound"), rules(raw.outbound, "outbound"),
                         raw.kind)


GCP_DEFAULT_PRIORITY = 1000  # Google: a rule written without a priority gets 1000
NSG_PRIORITIES = (100, 65500)  # 4096 for written rules; the defaults sit above


def _kind_issues(kind: str, item: RawInbound, path: str) -> list[Issue]:
    """What one kind of group allows that another does not: priorities, targets."""
    issues = []
    if kind == "nsg" and item.priority is None:
        issues.append(Issue("", f"{path}.priority", "an NSG rule needs a priority",
                            "write `priority: 100` .. `4096` (lowest first)"))
    elif kind == "nsg" and not NSG_PRIORITIES[0] <= (item.priority or 0) <= NSG_PRIORITIES[1]:
        issues.append(Issue("", f"{path}.priority", "an NSG priority is 100 to 65500",
                            "write `priority: 100` .. `4096` (lowest first)"))
    if kind != "gcp-firewall" and item.targets:
        issues.append(Issue("", f"{path}.targets", "only GCP firewall rules have target tags",
                            "remove it, or set `kind: gcp-firewall` on the group"))
    return issues


def build_computed(name: str, raw: RawComputedTag) -> ComputedTag:
    return ComputedTag(name, tuple(raw.virtual_network))


def build_acl(name: str, raw: RawNetworkAcl, issues: list[Issue]) -> NetworkAcl:
    def entries(items: list[RawAclEntry], direction: str) -> tuple[AclEntry, ...]:
        seen: set[int] = set()
        for i, item in enumerate(items):
            if item.rule in seen:
                issues.append(Issue("", f"network_acls.{name}.{direction}[{i}].rule",
                                    f"rule number {item.rule} is used twice",
                                    "every entry of one direction needs its own number"))
            seen.add(item.rule)
        return tuple(AclEntry(e.rule, e.proto, parse_ports(e.ports), e.cidr, e.action, e.label)
                     for e in items)

    return NetworkAcl(name, entries(raw.inbound, "inbound"), entries(raw.outbound, "outbound"),
                      raw.router)


@dataclass(frozen=True, slots=True)
class _Peers:
    prefixes: tuple[IPv4Network | IPv6Network, ...]
    tags: tuple[str, ...]
    groups: tuple[str, ...]


def _peers(values: list[str], names: Names, path: str, issues: list[Issue]) -> _Peers:
    prefixes: list[IPv4Network | IPv6Network] = []
    computed: list[str] = []
    groups: list[str] = []
    for j, value in enumerate(values):
        if value.startswith(GROUP_PREFIX):
            group = value[len(GROUP_PREFIX):]
            if group in names.groups:
                groups.append(group)
            else:
                known = ", ".join(sorted(names.groups)) or "none defined"
                issues.append(Issue("", f"{path}[{j}]", f"no security group '{group}'",
                                    f"name one under security_groups: ({known})"))
        elif value in names.computed:
            computed.append(value)
        elif value in names.tags:
            prefixes += names.tags[value]
        else:
            try:
                prefixes.append(ip_network(value))  # either family, as AWS and Azure take
            except ValueError:
                known = ", ".join(sorted([*names.tags, *names.computed])) or "none defined"
                issues.append(Issue("", f"{path}[{j}]", f"'{value}' is neither a prefix "
                                    f"nor a tag", f"write a prefix like 10.10.0.0/16, a tag "
                                    f"from tags: ({known}), or group:NAME"))
    return _Peers(tuple(prefixes), tuple(computed), tuple(groups))
