"""Workloads counted for licences: in-range sources that completed a real exchange.

Only a source inside a configured workload range whose flow completed (flows.py:
a TCP handshake acknowledged with the right number, or a reply for UDP/ICMP) is
counted. A spoofed internet source is outside every range; a spoofed in-range
source never sees the replies, so it can neither complete a TCP handshake nor
be counted for a one-way UDP stream (seed: licence inflation by spoofing).
Counting is per window of the caller's clock (distinct workloads seen since).
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from connector.core.flows import FlowEntry


class WorkloadCounter:
    def __init__(self, ranges: Iterable[IPv4Network]) -> None:
        self.ranges = tuple(ranges)
        self._seen: dict[int, float] = {}  # workload -> last completed exchange

    def observe(self, entry: FlowEntry, now: float) -> bool:
        """Count the originator of a completed flow; True if it is a workload."""
        src = entry.key.src
        if not entry.completed or not any(src in r for r in self.ranges):
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
