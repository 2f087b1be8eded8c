"""One synthetic IP pool: sticky name <-> address bindings with holds and quarantine.

Rules (spec §6.6 [I], docs/synthetic-ips.md):
- a name keeps its address as long as the binding exists (sticky); bindings are
  only ever ended by reclaiming their address for another name;
- an address is held while any flow uses it, and for `quarantine_s` after its
  last use (last DNS answer or last flow end); only then may it be reclaimed,
  least recently used first;
- fresh addresses are handed out in order before any reclaim;
- when nothing is free or reclaimable the answer is `Exhausted`, never an address
  that is held.
Pure: the caller passes `now` (seconds, any monotonic origin).

Memory: three int-keyed tables, no object per binding (bench: bytes per binding).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from connector.core.names import normalise_name

SNAPSHOT_VERSION = 1
DEFAULT_QUARANTINE_S = 350.0  # max(3 x TTL 60 s, GWLB idle timeout 350 s)


@dataclass(frozen=True, slots=True)
class Allocated:
    addr: IPv4Address
    name: str
    pool: str
    fresh: bool  # a new binding (False: the name already had this address)


@dataclass(frozen=True, slots=True)
class Exhausted:
    pool: str
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class PoolStats:
    size: int
    bound: int
    held: int  # bound with live flows
    free: int  # never handed out


class SyntheticPool:
    __slots__ = ("name", "network", "quarantine_s", "_first", "_last", "_next",
                 "_by_name", "_by_addr", "_flows", "_idle")

    def __init__(self, name: str, network: IPv4Network, *,
                 quarantine_s: float = DEFAULT_QUARANTINE_S) -> None:
        self.name = name
        self.network = network
        self.quarantine_s = quarantine_s
        edge = 1 if network.prefixlen < 31 else 0
        self._first = int(network.network_address) + edge
        self._last = int(network.broadcast_address) - edge
        self._next = self._first
        self._by_name: dict[str, int] = {}
        self._by_addr: dict[int, str] = {}
        self._flows: dict[int, int] = {}  # address -> live flow count (> 0 only)
        self._idle: OrderedDict[int, float] = OrderedDict()  # bound, no flows: last use, LRU

    # -- DNS side -----------------------------------------------------------------
    def allocate(self, qname: str, now: float) -> Allocated | Exhausted:
        name = normalise_name(qname)
        addr = self._by_name.get(name)
        if addr is not None:
            self._touch(addr, now)
            return Allocated(IPv4Address(addr), name, self.name, False)
        addr = self._fresh() or self._reclaimable(now)
        if addr is None:
            return Exhausted(self.name, name, self._exhausted_reason(now))
        self.bind(name, addr, now)
        return Allocated(IPv4Address(addr), name, self.name, True)

    def bind(self, name: str, addr: int, now: float) -> None:
        """Give `addr` to `name` (used by allocate and by cluster replay)."""
        old = self._by_addr.get(addr)
        if old is not None:
            del self._by_name[old]
        self._by_name[name] = addr
        self._by_addr[addr] = name
        if addr >= self._next:
            self._next = addr + 1
        self._touch(addr, now)

    # -- data-plane side ----------------------------------------------------------
    def flow_started(self, addr: IPv4Address, now: float) -> bool:
        """Hold `addr` for one more flow; False if it has no binding (stray)."""
        key = int(addr)
        if key not in self._by_addr:
            return False
        self._flows[key] = self._flows.get(key, 0) + 1
        self._idle.pop(key, None)
        return True

    def flow_ended(self, addr: IPv4Address, now: float) -> None:
        key = int(addr)
        count = self._flows.get(key, 0) - 1
        if count > 0:
            self._flows[key] = count
        elif count == 0:
            del self._flows[key]
            self._idle[key] = now

    # -- queries ------------------------------------------------------------------
    def lookup_name(self, addr: IPv4Address) -> str | None:
        return self._by_addr.get(int(addr))

    def address_of(self, qname: str) -> IPv4Address | None:
        addr = self._by_name.get(normalise_name(qname))
        return None if addr is None else IPv4Address(addr)

    def is_bound(self, name: str) -> bool:
        """Whether `name` (already normalised) has an address."""
        return name in self._by_name

    def has_live_mapping(self, addr: IPv4Address) -> bool:
        return int(addr) in self._by_addr

    def bound_addresses(self) -> list[int]:
        """Every address with a mapping (the kernel's live set is filled from these)."""
        return list(self._by_addr)

    def is_held(self, addr: IPv4Address, now: float) -> bool:
        key = int(addr)
        if key in self._flows:
            return True
        last = self._idle.get(key)
        return last is not None and now - last < self.quarantine_s

    def __contains__(self, addr: object) -> bool:
        return isinstance(addr, IPv4Address) and addr in self.network

    def stats(self) -> PoolStats:
        size = self._last - self._first + 1
        return PoolStats(size, len(self._by_addr), len(self._flows),
                         max(0, self._last - self._next + 1))

    # -- snapshot -----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state; `restore(snapshot())` behaves exactly like this pool."""
        return {"version": SNAPSHOT_VERSION, "name": self.name, "network": str(self.network),
                "quarantine_s": self.quarantine_s, "next": self._next,
                "idle": [[self._by_addr[a], a, t] for a, t in self._idle.items()],
                "busy": [[self._by_addr[a], a, n] for a, n in self._flows.items()]}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> SyntheticPool:
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"pool snapshot version {data.get('version')!r} is not "
                             f"{SNAPSHOT_VERSION}")
        pool = cls(data["name"], IPv4Network(data["network"]),
                   quarantine_s=float(data["quarantine_s"]))
        pool._next = int(data["next"])
        for name, addr, last in data["idle"]:
            pool._by_name[name], pool._by_addr[addr] = addr, name
            pool._idle[addr] = float(last)
        for name, addr, flows in data["busy"]:
            pool._by_name[name], pool._by_addr[addr] = addr, name
            pool._flows[addr] = int(flows)
        return pool

    # -- internals ----------------------------------------------------------------
    def _touch(self, addr: int, now: float) -> None:
        if addr not in self._flows:
            self._idle[addr] = now
            self._idle.move_to_end(addr)

    def peek(self, now: float) -> int | None:
        """The address a new name would get now, without giving it."""
        addr = self._next
        while addr <= self._last and addr in self._by_addr:
            addr += 1
        return addr if addr <= self._last else self._reclaimable(now)

    def _fresh(self) -> int | None:
        while self._next <= self._last:
            addr = self._next
            self._next += 1
            if addr not in self._by_addr:
                return addr
        return None

    def _reclaimable(self, now: float) -> int | None:
        for addr, last in self._idle.items():
            return addr if now - last >= self.quarantine_s else None
        return None

    def _exhausted_reason(self, now: float) -> str:
        stats = self.stats()
        return (f"all {stats.size} addresses bound: {stats.held} with live flows, "
                f"{stats.bound - stats.held} in quarantine ({self.quarantine_s:g} s)")

