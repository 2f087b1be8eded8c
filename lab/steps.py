"""The steps a plan is made of: frozen values that a backend carries out in order.

Each step names the namespace (or container) it acts in, and renders as one
line of text for progress output and golden tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    IPv6Address,
    IPv6Interface,
    IPv6Network,
)

MAIN_TABLE = 254


@dataclass(frozen=True, slots=True)
class CreateNamespace:
    ns: str
    node: str

    def describe(self) -> str:
        return f"netns add {self.ns}"


@dataclass(frozen=True, slots=True)
class SetSysctl:
    ns: str
    key: str
    value: str

    def describe(self) -> str:
        return f"[{self.ns}] sysctl {self.key}={self.value}"


@dataclass(frozen=True, slots=True)
class CreateBridge:
    ns: str
    name: str
    link: str

    def describe(self) -> str:
        return f"[{self.ns}] bridge {self.name} (link {self.link})"


@dataclass(frozen=True, slots=True)
class CreateVeth:
    ns: str
    ifname: str
    peer_ns: str
    peer: str
    bridge: str

    def describe(self) -> str:
        peer = f"[{self.peer_ns}] {self.peer} master {self.bridge}"
        return f"[{self.ns}] veth {self.ifname} <-> {peer}"


@dataclass(frozen=True, slots=True)
class AddAddress:
    ns: str
    ifname: str
    address: IPv4Interface | IPv6Interface  # IPv6: added with nodad (no DAD delay)

    def describe(self) -> str:
        nodad = " nodad" if self.address.version == 6 else ""
        return f"[{self.ns}] addr {self.address} dev {self.ifname}{nodad}"


@dataclass(frozen=True, slots=True)
class LinkUp:
    ns: str
    ifname: str

    def describe(self) -> str:
        return f"[{self.ns}] link {self.ifname} up"


@dataclass(frozen=True, slots=True)
class AddRoute:
    ns: str
    to: IPv4Network | IPv6Network
    via: IPv4Address | IPv6Address
    table: int = MAIN_TABLE

    def describe(self) -> str:
        return f"[{self.ns}] route {self.to} via {self.via} table {self.table}"


@dataclass(frozen=True, slots=True)
class AddRule:
    """A policy-routing rule; `source=None` with `suppress=0` lets local routes win first."""

    ns: str
    priority: int
    table: int
    source: IPv4Network | IPv6Network | None = None
    suppress_prefixlength: int | None = None
    family: int = 4  # 6: an IPv6 rule (`ip -6 rule`)

    def describe(self) -> str:
        match = f"from {self.source}" if self.source else "from all"
        extra = (f" suppress_prefixlength {self.suppress_prefixlength}"
                 if self.suppress_prefixlength is not None else "")
        rule = "rule6" if self.family == 6 else "rule"
        return f"[{self.ns}] {rule} {self.priority}: {match} lookup {self.table}{extra}"


@dataclass(frozen=True, slots=True)
class LoadNftables:
    ns: str
    ruleset: str

    def describe(self) -> str:
        lines = len(self.ruleset.strip().splitlines())
        return f"[{self.ns}] nft -f ({lines} lines)"


@dataclass(frozen=True, slots=True)
class WriteResolvConf:
    ns: str
    servers: tuple[IPv4Address, ...]

    def describe(self) -> str:
        return f"[{self.ns}] resolv.conf nameserver {' '.join(map(str, self.servers))}"


@dataclass(frozen=True, slots=True)
class StartService:
    ns: str
    node: str
    kind: str
    argv: tuple[str, ...]

    def describe(self) -> str:
        return f"[{self.ns}] start {self.kind}: {' '.join(self.argv)}"


@dataclass(frozen=True, slots=True)
class WaitReady:
    node: str
    kind: str
    timeout_s: float = 30.0  # ready in about 1 s; 30 s leaves room on a loaded machine

    def describe(self) -> str:
        return f"wait {self.node}/{self.kind} ready (<= {self.timeout_s:g} s)"


Step = (CreateNamespace | SetSysctl | CreateBridge | CreateVeth | AddAddress | LinkUp | AddRoute
        | AddRule | LoadNftables | WriteResolvConf | StartService | WaitReady)
