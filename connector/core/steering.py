"""Where each packet of a GENEVE-delivered flow goes, as a value (spec §4.1, G2, G5, F5).

Inbound (from the load balancer): the first packet of a flow is classified
once by the forwarding core; the flow remembers the GENEVE header and the load
balancer's address it came with, so every reply can carry them back
byte-identical (G2). DNS to any destination is not a forwarding decision: it
goes to the kernel, which diverts it to the listener (§6.4).
Outbound (replies from the kernel or a ZIA tunnel): only a flow first seen from
the load balancer goes back into it (G5); a flow that came routed (the Azure
ILB's plain packets, through the routed TUN) goes back into the kernel;
anything else is dropped.
Sub-locations: a flow's key carries the location its GWLB endpoint stands for
(`FlowKey.location`); its first packet is decided by that location's rules (those
whose `locations` name it, or none), and the same 5-tuple in two locations is two
flows. A reply from the kernel names its location (the data plane reads it off the
TUN the kernel routed it to: one per location, each with its own conntrack zone,
`connector/io/geneve_tuns.py`). A reply from a ZIA tunnel carries none: it finds
its flow through the location that flow's 5-tuple was carried for (`_homes`), one
per 5-tuple, as the ZIA edge knows 5-tuples only (docs/decisions.md).
Pure: `now` is given; the flow table's timeouts are GWLB's (G6: 350 s TCP).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from ipaddress import IPv4Address
from typing import NamedTuple, assert_never

from connector.core.flows import (
    Canonical,
    FlowEntry,
    FlowTable,
    FlowTimeouts,
    TableFull,
    canonical,
)
from connector.core.model import Decision, FlowKey, IpProto, Method, NameLookup, PoolLookup
from connector.core.rules import PUBLIC_SOURCE_RULE, STRAY_POOL_RULE, ForwardingPolicy
from connector.core.tunnel_health import TunnelHealth
from connector.core.workloads import WorkloadCounter

DNS_PORT = 53
DNS_INTERCEPT = Decision(Method.DIRECT, "DNS Interception", None,
                         "DNS to any destination is answered by the listener (§6.4)")

Peer = tuple[str, int]


class Segment(NamedTuple):  # one per packet: a tuple is made in half a dataclass's time
    """The facts of one packet the steering needs beyond its 5-tuple. `canonical` is
    the flow's table key when the caller keeps it (the GENEVE known-flow path)."""

    key: FlowKey
    size: int
    tcp_flags: int = 0
    seq: int = 0
    ack: int = 0
    canonical: Canonical | None = None


@dataclass(frozen=True, slots=True)
class ToKernel:
    """Write the inner packet to the TUN: Direct (kernel SNAT), DNS interception, or ZPA
    (the kernel hands the connection to the ZPA proxy)."""

    decision: Decision


@dataclass(frozen=True, slots=True)
class ToZia:
    address: IPv4Address
    decision: Decision


@dataclass(frozen=True, slots=True)
class ToGeneve:
    header: bytes
    peer: Peer


@dataclass(frozen=True, slots=True)
class ToRouted:
    """A reply of a routed (not GENEVE) flow: into the kernel, which routes it to the workload."""


ROUTED = ToRouted()


@dataclass(frozen=True, slots=True)
class Dropped:
    reason: str
    decision: Decision | None = None


Action = ToKernel | ToZia | ToGeneve | Dropped


@dataclass(slots=True)
class FlowPath:
    """How a flow came in: with a GENEVE header from a load balancer, or routed (peer None)."""

    header: bytes
    peer: Peer | None
    zia: IPv4Address | None = None
    to_kernel: ToKernel | None = None  # a Direct flow's action, made once


@dataclass(frozen=True, slots=True)
class NewFlow:
    """Reported once per flow, for the session log: its decision, and the reason when
    its first packet was dropped (a Drop rule, or a path the connector cannot carry)."""

    key: FlowKey
    decision: Decision
    dropped: str | None = None


class Steering:
    def __init__(self, forwarding: ForwardingPolicy, names: NameLookup, pools: PoolLookup,
                 tunnels: TunnelHealth, timeouts: FlowTimeouts | None = None,
                 on_new_flow: Callable[[NewFlow], None] | None = None,
                 workloads: WorkloadCounter | None = None, *, zpa_carried: bool = True,
                 locations: Mapping[str, ForwardingPolicy] | None = None,
                 located_names: Mapping[str, NameLookup] | None = None) -> None:
        """`locations`: each sub-location's compiled rules, `located_names` the names
        learned in it; a flow of a location not in them (the connector's own, "") is
        decided by `forwarding` with `names`."""
        self.forwarding = forwarding
        self.locations = dict(locations or {})
        self.located_names = dict(located_names or {})
        self._homes: dict[Canonical, str] = {}  # a located flow's 5-tuple -> its location
        self.names, self.pools, self.tunnels = names, pools, tunnels
        self.flows = FlowTable(timeouts)
        self.on_new_flow = on_new_flow
        self.workloads = workloads  # licences: sources whose flows completed an exchange
        self.zpa_carried = zpa_carried  # a ZPA broker is configured: the kernel hands TCP on

    def inbound(self, seg: Segment, header: bytes, peer: Peer | None, now: float) -> Action:
        """A packet from a load balancer (GENEVE `header`, `peer`), or routed (b"", None)."""
        seen = self._observe(seg, now)
        if seen is None:
            decision = self._classify(seg.key)
            made = self.flows.insert(seg.key, decision, now)
            if isinstance(made, TableFull):
                return Dropped("flow_table_full", decision)
            path = made.attachment = FlowPath(header, peer)
            self._observe(seg, now)
            action = self._act(decision, path, now, seg.key.proto)
            if seg.key.location and not isinstance(action, Dropped):
                self._homes[canonical(replace(seg.key, location=""))] = seg.key.location
            if self.on_new_flow is not None:
                dropped = action.reason if isinstance(action, Dropped) else None
                self.on_new_flow(NewFlow(seg.key, decision, dropped))
            return action
        path = seen.attachment
        path.header, path.peer = header, peer  # GWLB may re-home a flow: follow it
        decision = seen.decision
        if decision.method is Method.DROP and decision.gateway is not None:
            decision = self._judge_again(seen, seg.key)
        return self._act(decision, path, now, seg.key.proto)

    def _judge_again(self, flow: FlowEntry, key: FlowKey) -> Decision:
        """A flow its ZIA gateway's fail-close dropped is judged again on each packet, not
        held to its first packet's moment: once the gateway is usable again, the flow
        takes the tunnel from this packet on, with a new session-log record. Otherwise a
        flow that keeps sending through an outage (or a new connection on the same
        5-tuple, within the 350 s a TCP flow is kept) stays dropped after ZIA is back."""
        decision = self._classify(key)
        if decision != flow.decision:
            self.flows.redecide(flow, decision)
            if self.on_new_flow is not None:
                dropped = drop_reason(decision) if decision.method is Method.DROP else None
                self.on_new_flow(NewFlow(flow.key, decision, dropped))
        return decision

    def outbound(self, seg: Segment, now: float) -> ToGeneve | ToRouted | Dropped:
        seen = self._observe(seg, now)
        if seen is None and self._homes and not seg.key.location:
            home = self._homes.get(seg.canonical or canonical(seg.key))
            if home is not None:
                seen = self._observe(Segment(replace(seg.key, location=home), seg.size,
                                             seg.tcp_flags, seg.seq, seg.ack), now)
        if seen is None:
            return Dropped("not_from_load_balancer")
        path: FlowPath = seen.attachment
        if path.peer is None:
            return ROUTED
        return ToGeneve(path.header, path.peer)

    def expire(self, now: float) -> int:
        gone = self.flows.expire(now)
        for flow in gone:
            if flow.key.location:
                home = canonical(replace(flow.key, location=""))
                if self._homes.get(home) == flow.key.location:
                    del self._homes[home]
        return len(gone)

    def _observe(self, seg: Segment, now: float) -> FlowEntry | None:
        found = self.flows.observe(seg.key, now, seg.size, seg.tcp_flags, seg.seq, seg.ack,
                                   seg.canonical)
        if found is None:
            return None
        if self.workloads is not None and found[0].completed:
            self.workloads.observe(found[0], now)
        return found[0]

    def _classify(self, key: FlowKey) -> Decision:
        if key.dport == DNS_PORT and key.proto in (IpProto.UDP, IpProto.TCP):
            return DNS_INTERCEPT
        policy = self.locations.get(key.location, self.forwarding)
        names = self.located_names.get(key.location, self.names)
        return policy.decide(key, names, self.pools, self.tunnels)

    def location_of(self, key: FlowKey) -> str:
        """The location a flow with this 5-tuple was carried for ("" when none, or the
        own): how the DNS listener learns where a query it was handed came from."""
        return self._homes.get(canonical(key), "") if self._homes else ""

    def _act(self, decision: Decision, path: FlowPath, now: float, proto: int) -> Action:
        match decision.method:
            case Method.DIRECT:
                if path.to_kernel is None:
                    path.to_kernel = ToKernel(decision)
                return path.to_kernel
            case Method.ZIA:
                assert decision.gateway is not None  # ForwardingPolicy names it (rules.py)
                path.zia = self.tunnels.keep_or_move(decision.gateway, path.zia, now)
                if path.zia is not None:
                    return ToZia(path.zia, decision)
                return Dropped("zia_unusable", decision)
            case Method.DROP:
                return Dropped(drop_reason(decision), decision)
            case Method.ZPA:
                return self._zpa(decision, proto)
            case Method.LOCAL:
                return Dropped("local_not_carried", decision)
            case _:
                assert_never(decision.method)

    def _zpa(self, decision: Decision, proto: int) -> Action:
        """The kernel hands TCP to a synthetic address to the ZPA proxy (tproxy); the
        lab's ZPA tunnel carries TCP streams only; with no broker, nothing carries ZPA,
        and a pool address must never leave Direct (D4)."""
        if not self.zpa_carried:
            return Dropped("zpa_no_broker", decision)
        return ToKernel(decision) if proto == IpProto.TCP else Dropped("zpa_not_tcp", decision)


_PREDEFINED_DROPS = {STRAY_POOL_RULE: "stray_pool", PUBLIC_SOURCE_RULE: "public_source"}


def drop_reason(decision: Decision) -> str:
    """Why a Drop decision drops, as counted: a predefined rule, a ZIA gateway with no
    usable tunnel under fail-close, or a Drop rule of the policy."""
    if decision.gateway is not None:
        return "zia_fail_close"
    return _PREDEFINED_DROPS.get(decision.rule_name, "policy_drop")
