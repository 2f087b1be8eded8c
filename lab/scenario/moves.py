"""Flows the load balancer moved to another target, from its own log. Pure.

AWS's GWLB with target failover `rebalance` (the vendor's Terraform, spec §3.2) moves a
flow whose target is unhealthy to a healthy one at its next packet. A TCP flow moved
between two connectors breaks: the new one has no connection state for it and SNATs
it to another address, so the far end resets it. Spec §3.1 allows that ("existing
flows through a connector that turns unhealthy may fail"). It happens whenever the
targets' health changes one after the other: during a ZIA outage both connectors turn
unhealthy and healthy again, a probe apart, and a packet in that gap is moved.

So a failed attempt whose flow the GWLB logged as moved (`gwlb.flow` with
`rebalanced`, the same source and destination port, between the flow's start and the
attempt's end: a held connection can be moved by a packet between two requests) is
counted apart (`moved`), not as a lost flow: the loss is the load balancer's, as the
spec says, and the GWLB's log is the oracle for which flows it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Move:
    """One `gwlb.flow` event with `rebalanced`: a flow's packet sent to a new target."""

    ts: float
    sport: int
    dport: int


def moved(sport: int, dport: int, t0: float, t1: float, moves: Sequence[Move]) -> bool:
    """Whether the load balancer moved the flow from local port `sport` to `dport` between
    `t0` (when the flow began: the attempt's start, or a held connection's opening) and
    `t1` (the attempt's end), by a packet of either direction; a local port of 0
    (unknown) is never matched."""
    ends = ((sport, dport), (dport, sport))
    return sport != 0 and any((m.sport, m.dport) in ends and t0 <= m.ts <= t1
                              for m in moves)
