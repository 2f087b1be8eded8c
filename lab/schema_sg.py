"""Security groups in a topology file: rules with prefixes or named tags.

    tags:                              # Azure service tags, or any named prefix set
      VirtualNetwork: [10.10.0.0/16]
    security_groups:
      sg-mgmt:
        inbound:
          - {proto: tcp, ports: 22, from: [VirtualNetwork], label: ssh from the VNet}
        outbound:
          - {proto: tcp, ports: 443, to: [0.0.0.0/0]}
          - {proto: all, to: [0.0.0.0/0], action: deny}
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lab.model import SecurityGroup, SgRule
from yamlissues import Issue


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RawInbound(_Strict):
    proto: Literal["tcp", "udp", "icmp", "all"]
    ports: int | str | None = None
    peers: list[str] = Field(alias="from")
    action: Literal["allow", "deny"] = "allow"
    label: str = ""

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: int | str | None) -> int | str | None:
        parse_ports(value)
        return value


class RawOutbound(RawInbound):
    peers: list[str] = Field(alias="to")


class RawSecurityGroup(_Strict):
    inbound: list[RawInbound] = []
    outbound: list[RawOutbound] = []


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


def build_group(name: str, raw: RawSecurityGroup, tags: dict[str, list[IPv4Network]],
                issues: list[Issue]) -> SecurityGroup:
    def rules(items: list[Any], direction: str) -> tuple[SgRule, ...]:
        built = []
        for i, item in enumerate(items):
            path = f"security_groups.{name}.{direction}[{i}]"
            peers = _peers(item.peers, tags, path, issues)
            built.append(SgRule(item.proto, parse_ports(item.ports), peers, item.action,
                                item.label))
        return tuple(built)

    return SecurityGroup(name, rules(raw.inbound, "inbound"), rules(raw.outbound, "outbound"))


def _peers(values: list[str], tags: dict[str, list[IPv4Network]], path: str,
           issues: list[Issue]) -> tuple[IPv4Network, ...]:
    key = "from" if path.split(".")[-1].startswith("inbound") else "to"
    out: list[IPv4Network] = []
    for j, value in enumerate(values):
        if value in tags:
            out += tags[value]
            continue
        try:
            out.append(IPv4Network(value))
        except ValueError:
            known = ", ".join(sorted(tags)) or "none defined"
            issues.append(Issue("", f"{path}.{key}[{j}]", f"'{value}' is neither a prefix "
                                f"nor a tag", f"write a prefix like 10.10.0.0/16, or a tag "
                                f"from tags: ({known})"))
    return tuple(out)
