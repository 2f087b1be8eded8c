"""Which flows the kernel's fast path may carry, and what it counted since last read.

The fast path (connector/io/fast_path.py) decapsulates a flow's GENEVE packets in
the kernel and hands them to its TUN, exactly what user space does for a Direct
flow, but without the flow table seeing each packet. It may therefore carry only
packets whose passing changes nothing in the table but counts and the idle time:
UDP, in the direction that opened the flow (a reply would complete the exchange),
of a flow decided Direct by a rule (DNS interception stays with the listener's
guards in user space; ZIA and ZPA are not the kernel's to carry). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.core.model import FlowKey, IpProto, Method
from connector.core.steering import DNS_INTERCEPT, Action, ToKernel

NS_PER_S = 1_000_000_000


def kernel_may_carry(action: Action, key: FlowKey, originates: bool) -> bool:
    """May the kernel carry this flow's next packets like this one? `originates`: the
    packet runs in the direction that opened its flow."""
    return (isinstance(action, ToKernel) and action.decision.method is Method.DIRECT
            and action.decision is not DNS_INTERCEPT and key.proto == IpProto.UDP
            and originates)


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
