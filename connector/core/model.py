"""Value objects the core takes in and hands back, and the lookups it is given.

Inputs: `FlowKey` (first packet of a flow), `DnsQuestion` (one query). Outputs:
`Decision` and `DnsDecision`, plain values naming the rule that decided and why.
The core never learns names or allocates pool addresses itself: it asks a
`NameLookup` and a `PoolLookup` (implemented by bindings.py / ip_pool.py) and a
`GatewayHealth` (fed by the tunnel monitors), all passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum
from ipaddress import IPv4Address
from typing import Protocol


class IpProto(IntEnum):
    """IP protocol numbers the policy names; a FlowKey may carry any other number."""

    ICMP = 1
    TCP = 6
    UDP = 17


class Method(Enum):
    """A forwarding verdict; the value is the API name (`forward_method`)."""

    ZIA = "ZIA"
    ZPA = "ECZPA"
    DIRECT = "DIRECT"
    DROP = "DROP"
    LOCAL = "LOCAL_SWITCH"


@dataclass(frozen=True, slots=True)
class FlowKey:
    """The 5-tuple of a flow's first packet (ports are 0 for port-less protocols), and
    the sub-location it came from: a GWLB endpoint's location (`runtime.geneve_locations`),
    or "" for the connector's own location. Two locations may reuse one address plan,
    so the same 5-tuple in two locations is two flows."""

    proto: int
    src: IPv4Address
    dst: IPv4Address
    sport: int = 0
    dport: int = 0
    location: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a flow, and which rule said so.

    `rule_order` is None for predefined rules that sit outside the user order
    (the stray-pool drop, the default ZIA rule). `gateway` names the ZIA gateway
    of a ZIA decision.
    """

    method: Method
    rule_name: str
    rule_order: int | None
    reason: str
    gateway: str | None = None


class Transport(Enum):
    UDP = "UDP"
    TCP = "TCP"
    DOH = "DOH"


@dataclass(frozen=True, slots=True)
class DnsQuestion:
    """One DNS query as the listener saw it: name, type, and the packet's addresses."""

    qname: str
    qtype: str
    src: IPv4Address
    dst: IPv4Address
    transport: Transport = Transport.UDP


class DnsAction(Enum):
    """The action of the DNS rule that decided (API `action`)."""

    ALLOW = "ALLOW"
    BLOCK = "BLOCK"
    REDIR_ZPA = "REDIR_ZPA"
    REDIR_REQ = "REDIR_REQ"


class DnsOutcome(Enum):
    """What the DNS listener must do with the query."""

    FORWARD_ORIGINAL = "forward-original"  # on to its own destination, under forwarding policy
    DROP_SILENT = "drop-silent"  # BLOCK: no response at all
    ANSWER_SYNTHETIC = "answer-synthetic"  # one A record from the decision's pool
    ANSWER_NODATA = "answer-nodata"  # NOERROR, no answer, SOA in authority (non-A ZPA name)
    FORWARD_GATEWAY = "forward-gateway"  # to the DNS gateway, primary then secondary
    ANSWER_SERVFAIL = "answer-servfail"  # gateway down with FAIL_RET_ERR


class FailureBehavior(Enum):
    """What a DNS gateway does when its primary and secondary are both down."""

    FAIL_RET_ERR = "FAIL_RET_ERR"
    FAIL_ALLOW_IGNORE_DNAT = "FAIL_ALLOW_IGNORE_DNAT"


@dataclass(frozen=True, slots=True)
class DnsGateway:
    """The target of REDIR_REQ rules (IPv4 only)."""

    name: str
    primary: IPv4Address
    secondary: IPv4Address | None = None
    failure_behavior: FailureBehavior = FailureBehavior.FAIL_RET_ERR


@dataclass(frozen=True, slots=True)
class DnsDecision:
    """The DNS rule that decided, its action, and what the listener must do."""

    action: DnsAction
    outcome: DnsOutcome
    rule_name: str
    rule_order: int | None
    reason: str
    qname: str
    pool: str | None = None
    gateway: DnsGateway | None = None
    app_segment: str | None = None


class NameLookup(Protocol):
    """Names learned from DNS answers (real or synthetic) for an address."""

    def names_for(self, addr: IPv4Address) -> frozenset[str]: ...


class PoolLookup(Protocol):
    """Which synthetic pool an address belongs to, and whether it maps to a live app."""

    def pool_of(self, addr: IPv4Address) -> str | None: ...

    def has_live_mapping(self, addr: IPv4Address) -> bool: ...


class GatewayHealth(Protocol):
    """Whether a ZIA gateway (by name) has a usable tunnel right now."""

    def is_usable(self, gateway: str) -> bool: ...


class NoNames:
    """A NameLookup that knows no names (no DNS seen yet)."""

    def names_for(self, addr: IPv4Address) -> frozenset[str]:
        return frozenset()


class NoPools:
    """A PoolLookup with no synthetic pools."""

    def pool_of(self, addr: IPv4Address) -> str | None:
        return None

    def has_live_mapping(self, addr: IPv4Address) -> bool:
        return False

