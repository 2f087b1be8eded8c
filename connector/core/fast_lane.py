"""Which flows the kernel's fast path may carry, and what it counted since last read.

The fast path (connector/io/fast_path.py) decapsulates a flow's GENEVE packets in
the kernel and hands them to its TUN, or frames them into its ZIA tunnel, exactly
what user space does for a Direct or a ZIA flow, but without the flow table seeing
each packet. It may therefore carry only packets whose passing changes nothing in
the table but counts and the idle time: packets in the direction that opened the
flow (a reply may complete the exchange), of a flow decided Direct by a rule (DNS
interception stays with the listener's guards in user space; ZPA is the kernel's
proxy's) or sent into a ZIA tunnel (the caller also asks that the tunnel is UDP:
TLS is a user-space stream); UDP at once, TCP once its exchange has completed and
while it is not closing, and then only segments without SYN, FIN or RST (the
program leaves those to user space, which tracks a connection's start and end
with them). A routed flow (connector/io/routed_fast_path.py) passes conntrack: the
kernel frames only its UDP ZIA datagrams (`kernel_may_frame_routed`), Direct being
the rules' own. A DNS answer may be given again by the routed program
(connector/io/dns_fast_path.py) when nothing user space does for a query could
differ next time (`kernel_may_answer_dns`). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.core.flows import FlowTable
from connector.core.model import FlowKey, IpProto, Method
from connector.core.steering import DNS_INTERCEPT, Action, ToKernel, ToZia

NS_PER_S = 1_000_000_000


def kernel_may_carry(action: Action, key: FlowKey, table: FlowTable) -> bool:
    """May the kernel carry the next packets of `key`'s flow, in `key`'s direction, now
    that user space carried this one (`action`) and `table` holds the flow?"""
    direct = (isinstance(action, ToKernel) and action.decision.method is Method.DIRECT
              and action.decision is not DNS_INTERCEPT)
    if not (direct or isinstance(action, ToZia)):
        return False
    if key.proto == IpProto.UDP:
        return table.originates(key)
    return key.proto == IpProto.TCP and table.originates(key) and table.settled(key)


def kernel_may_frame_routed(action: Action, key: FlowKey, table: FlowTable) -> bool:
    """May the routed fast path frame the next datagrams of `key`'s flow into its ZIA
    tunnel, now that user space sent this one there (`action`)? UDP only, in the
    direction that opened the flow: a routed flow passes conntrack, whose window
    tracking of a TCP connection needs every segment (the caller also asks that the
    tunnel is UDP)."""
    return (isinstance(action, ToZia) and key.proto == IpProto.UDP
            and table.originates(key))


@dataclass(frozen=True, slots=True)
class DnsAsked:
    """What decides whether a query's answer may be given again by the kernel."""

    synthetic: bool  # the decision: a synthetic A answer of a ZPA name
    udp: bool
    edns: bool  # the query has an OPT record
    question_len: int  # the question section's bytes
    sub_location: bool  # asked from a sub-location (its own rules and names)
    exempt: bool  # the source is one the guard never limits
    ttl: int


def kernel_may_answer_dns(asked: DnsAsked, question_max: int) -> bool:
    """May the kernel answer the same question from the same client to the same address
    with the answer user space just gave? Only a synthetic A answer (the pool's, sticky
    while held), over UDP, to a query without EDNS (the program answers no OPT), for a
    source the guard never limits (so no verdict of its could differ) of the own
    location, with a question the program can hold and a TTL to count down."""
    return (asked.synthetic and asked.udp and not asked.edns and asked.exempt
            and not asked.sub_location and 0 < asked.question_len <= question_max
            and asked.ttl > 0)


@dataclass(frozen=True, slots=True)
class Carried:
    """What the kernel carried of one flow since the last fold."""

    packets: int
    octets: int
    last_seen: float  # monotonic seconds, as the flow table's clock


def since(read: tuple[int, int, int], folded: tuple[int, int]) -> Carried | None:
    """The kernel's running `read` (packets, octets, last ns) against what was already
    `folded` (packets, octets): the new part, or None when nothing new passed."""
    packets, octets, last_ns = read
    if packets <= folded[0]:
        return None
    return Carried(packets - folded[0], octets - folded[1], last_ns / NS_PER_S)
