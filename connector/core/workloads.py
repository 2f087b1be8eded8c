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
A workload is a (location, address) pair: sub-locations may share one address
plan, and a host in each is a licence each (`count_by_location`).
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
        self._seen: dict[tuple[str, int], float] = {}  # (location, workload) -> last exchange

    def observe(self, entry: FlowEntry, now: float) -> bool:
        """Count the originator of a completed flow; True if it is a workload."""
        src = entry.key.src
        if (not entry.completed or entry.key.proto != IpProto.TCP
                or not any(src in r for r in self.ranges)):
            return False
        seen = (entry.key.location, int(src))
        self._seen[seen] = max(now, self._seen.get(seen, now))  # a late fold never rewinds
        return True

    def count(self, *, since: float | None = None) -> int:
        if since is None:
            return len(self._seen)
        return sum(1 for t in self._seen.values() if t >= since)

    def count_by_location(self, *, since: float | None = None) -> dict[str, int]:
        """Distinct workloads per location ("" is the connector's own)."""
        counts: dict[str, int] = {}
        for (location, _addr), t in self._seen.items():
            if since is None or t >= since:
                counts[location] = counts.get(location, 0) + 1
        return counts

    def workloads(self, *, since: float | None = None) -> frozenset[IPv4Address]:
        return frozenset(IPv4Address(a) for (_loc, a), t in self._seen.items()
                         if since is None or t >= since)

    def snapshot(self) -> dict[str, Any]:
        return {"version": 2, "ranges": [str(r) for r in self.ranges],
                "seen": [[loc, a, t] for (loc, a), t in sorted(self._seen.items())]}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> WorkloadCounter:
        """From a snapshot; version 1 (before locations) holds the own location's only."""
        counter = cls(IPv4Network(r) for r in data["ranges"])
        if data.get("version", 1) == 1:
            counter._seen = {("", int(a)): float(t) for a, t in data["seen"]}
        else:
            counter._seen = {(str(loc), int(a)): float(t) for loc, a, t in data["seen"]}
        return counter
