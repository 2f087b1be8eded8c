"""Workloads counted for licences: in-range sources that proved they receive replies.

Only a source inside a configured workload range whose TCP flow completed its
handshake (flows.py: the originator acknowledged the SYN-ACK's sequence number,
which only a host that received it knows) is counted. A spoofed internet source
is outside every range; a spoofed in-range source never sees the replies, so it
cannot complete a handshake (seed: licence inflation by spoofing).
UDP and ICMP never count a workload on their own: a reply proves nothing about
the source, because a forged in-range source that sends to a responsive server
draws replies it never receives (gap 11 of the suites audit). A workload that
only ever speaks UDP is therefore not counted: the error is on the customer's
side of the bill, never the attacker's (docs/decisions.md).
Counting is per window of the caller's clock (distinct workloads seen since).
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from connector.core.flows import FlowEntry
from connector.core.model import IpProto


class WorkloadCounter:
    def __init__(self, ranges: Iterable[IPv4Network]) -> None:
        self.ranges = tuple(ranges)
        self._seen: dict[int, float] = {}  # workload -> last completed exchange

    def observe(self, entry: FlowEntry, now: float) -> bool:
        """Count the originator of a completed flow; True if it is a workload."""
        src = entry.key.src
        if (not entry.completed or entry.key.proto != IpProto.TCP
                or not any(src in r for r in self.ranges)):
            return False
        self._seen[int(src)] = now
        return True

    def count(self, *, since: float | None = None) -> int:
        if since is None:
            return len(self._seen)
        return sum(1 for t in self._seen.values() if t >= since)

    def workloads(self, *, since: float | None = None) -> frozenset[IPv4Address]:
        return frozenset(IPv4Address(a) for a, t in self._seen.items()
                         if since is None or t >= since)

    def snapshot(self) -> dict[str, Any]:
        return {"version": 1, "ranges": [str(r) for r in self.ranges],
                "seen": sorted(self._seen.items())}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> WorkloadCounter:
        counter = cls(IPv4Network(r) for r in data["ranges"])
        counter._seen = {int(a): float(t) for a, t in data["seen"]}
        return counter
