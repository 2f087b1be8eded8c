"""The flow table: 5-tuple flows, found from either direction, with idle timeouts.

A flow is also keyed by its location (`FlowKey.location`): the same 5-tuple from
two sub-locations sharing one address plan is two flows.

A flow is classified once (its `Decision`) and every later packet, in either
direction, finds it by a symmetric key. Idle timeouts (spec §4.1: GWLB keeps
TCP flows 350 s) come from `FlowTimeouts`; a TCP flow closed by FIN from both
sides or by RST gets the short `tcp_closed` timeout. Expiry uses a heap of
deadlines with lazy deletion, so a packet never pays for a scan and `expire`
pays only for flows whose deadline passed.

A TCP exchange is *complete* when the originator's SYN was answered by a SYN-ACK
from the other side and the originator's ACK acknowledges that SYN-ACK's
sequence number: a blind spoofer, who never sees the SYN-ACK, cannot do it.
A UDP or ICMP exchange is complete when any packet comes back.
Pure: `now` is given by the caller. Entries are mutable inside the table and
read-only to callers.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from connector.core.model import Decision, FlowKey, IpProto

SYN, ACK, FIN, RST = 0x02, 0x10, 0x01, 0x04


@dataclass(frozen=True, slots=True)
class FlowTimeouts:
    tcp: float = 350.0
    tcp_closed: float = 10.0
    udp: float = 120.0
    other: float = 60.0


class Direction(IntEnum):  # an int: it indexes the per-direction counters
    ORIGINAL = 0
    REPLY = 1


@dataclass(frozen=True, slots=True)
class TableFull:
    size: int


@dataclass(frozen=True, slots=True)
class ExpiredFlow:
    key: FlowKey
    decision: Decision
    completed: bool
    packets: tuple[int, int]
    octets: tuple[int, int]


Canonical = tuple[int, int, int, int, int, str]


def canonical(key: FlowKey) -> Canonical:
    """The same tuple for a packet and its reply, in the same location."""
    a, b = (int(key.src), key.sport), (int(key.dst), key.dport)
    lo, hi = (a, b) if a <= b else (b, a)
    return key.proto, lo[0], lo[1], hi[0], hi[1], key.location


class FlowEntry:
    __slots__ = ("key", "decision", "attachment", "last_seen", "packets", "octets", "closing",
                 "completed", "_synack_seq", "_fins")

    def __init__(self, key: FlowKey, decision: Decision, now: float) -> None:
        self.key = key
        self.decision = decision
        self.attachment: Any = None  # what the caller keeps per flow (e.g. a return path)
        self.last_seen = now
        self.packets = [0, 0]
        self.octets = [0, 0]
        self.closing = False
        self.completed = False
        self._synack_seq: int | None = None
        self._fins = 0

    def direction_of(self, key: FlowKey) -> Direction:
        same = key.src == self.key.src and key.sport == self.key.sport
        return Direction.ORIGINAL if same else Direction.REPLY

    def track(self, way: Direction, size: int, flags: int, seq: int, ack: int) -> bool:
        """Count a packet; True when this packet completed the exchange."""
        self.packets[way] += 1
        self.octets[way] += size
        if self.key.proto != IpProto.TCP:
            done = way is Direction.REPLY and not self.completed
        else:
            done = self._track_tcp(way, flags, seq, ack)
        self.completed = self.completed or done
        return done

    def _track_tcp(self, way: Direction, flags: int, seq: int, ack: int) -> bool:
        if flags & RST:
            self.closing = True
        if flags & FIN:
            self._fins |= 1 << way
            self.closing = self._fins == 3
        if way is Direction.REPLY and flags & SYN and flags & ACK:
            self._synack_seq = seq
            return False
        return (way is Direction.ORIGINAL and not self.completed and bool(flags & ACK)
                and self._synack_seq is not None and ack == (self._synack_seq + 1) % 2**32)


class FlowTable:
    def __init__(self, timeouts: FlowTimeouts | None = None, *, max_flows: int = 1_000_000):
        self.timeouts = timeouts or FlowTimeouts()
        self.max_flows = max_flows
        self._flows: dict[Canonical, FlowEntry] = {}
        self._deadlines: list[tuple[float, Canonical]] = []

    def lookup(self, key: FlowKey, now: float, ckey: Canonical | None = None
               ) -> FlowEntry | None:
        """The flow of this packet (either direction), refreshed; None if unknown.
        `ckey`, when the caller has it, is `canonical(key)`."""
        entry = self._flows.get(ckey or canonical(key))
        if entry is not None:
            entry.last_seen = now
        return entry

    def insert(self, key: FlowKey, decision: Decision, now: float) -> FlowEntry | TableFull:
        ckey = canonical(key)
        if ckey in self._flows:
            return self._flows[ckey]
        if len(self._flows) >= self.max_flows:
            return TableFull(len(self._flows))  # live flows are never evicted
        entry = FlowEntry(key, decision, now)
        self._flows[ckey] = entry
        heapq.heappush(self._deadlines, (now + self._timeout(entry), ckey))
        return entry

    def redecide(self, entry: FlowEntry, decision: Decision) -> None:
        """A flow's decision made again (a fail-close drop, connector/core/steering.py)."""
        entry.decision = decision

    def observe(self, key: FlowKey, now: float, size: int, flags: int = 0, seq: int = 0,
                ack: int = 0, ckey: Canonical | None = None
                ) -> tuple[FlowEntry, Direction, bool] | None:
        """Count a packet of a known flow: (entry, its direction, completed now?)."""
        entry = self.lookup(key, now, ckey)
        if entry is None:
            return None
        way = entry.direction_of(key)
        closing = entry.closing
        done = entry.track(way, size, flags, seq, ack)
        if entry.closing and not closing:
            heapq.heappush(self._deadlines, (now + self.timeouts.tcp_closed,
                                             ckey or canonical(key)))
        return entry, way, done

    def originates(self, key: FlowKey) -> bool:
        """Is `key` the direction that opened its (live) flow?"""
        entry = self._flows.get(canonical(key))
        return entry is not None and entry.direction_of(key) is Direction.ORIGINAL

    def settled(self, key: FlowKey) -> bool:
        """Has `key`'s (live) flow completed its exchange, and is it not closing?"""
        entry = self._flows.get(canonical(key))
        return entry is not None and entry.completed and not entry.closing

    def absorb(self, key: FlowKey, packets: int, octets: int, last_seen: float
               ) -> FlowEntry | None:
        """Count `packets` packets of `key`'s flow, in the direction that opened it,
        carried without this table (the kernel's fast path), the last at `last_seen`;
        its entry, or None if the flow is gone. They change nothing else: UDP one way never
        completes an exchange (only a reply does), and the kernel carries TCP only
        once it completed, without SYN, FIN or RST (connector/core/fast_lane.py)."""
        entry = self._flows.get(canonical(key))
        if entry is None:
            return None
        entry.packets[Direction.ORIGINAL] += packets
        entry.octets[Direction.ORIGINAL] += octets
        entry.last_seen = max(entry.last_seen, last_seen)
        return entry

    def expire(self, now: float) -> list[ExpiredFlow]:
        gone = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _, ckey = heapq.heappop(self._deadlines)
            entry = self._flows.get(ckey)
            if entry is None:
                continue
            deadline = entry.last_seen + self._timeout(entry)
            if deadline > now:
                heapq.heappush(self._deadlines, (deadline, ckey))
                continue
            del self._flows[ckey]
            gone.append(ExpiredFlow(entry.key, entry.decision, entry.completed,
                                    (entry.packets[0], entry.packets[1]),
                                    (entry.octets[0], entry.octets[1])))
        return gone

    def __len__(self) -> int:
        return len(self._flows)

    def _timeout(self, entry: FlowEntry) -> float:
        t = self.timeouts
        if entry.key.proto == IpProto.TCP:
            return t.tcp_closed if entry.closing else t.tcp
        return t.udp if entry.key.proto == IpProto.UDP else t.other
