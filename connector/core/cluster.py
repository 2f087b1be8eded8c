"""Two or more connectors agreeing on synthetic bindings (spec §6.6 item 1, check F9/D1).

A load balancer may send a workload's DNS query to one connector and its flow
to another, so every member must know every binding, and no two members may
give one address to two names. Design: one ordered, shared **binding log**.
- Every change that matters to other members is an operation appended to the
  log: BIND (pool, name, address), HOLD / RELEASE (member, address: the first
  flow on a member starts, its last flow ends).
- Appends are compare-and-set on the log length: a member appends only when it
  has applied every earlier entry; otherwise it catches up and decides again.
  So allocations are serialised and every member applies the same operations in
  the same order, reaching the same state (state machine replication).
- A member syncs before answering a name and when a flow arrives for a pool
  address it has no binding for, so a DNS answer from A is known to B when the
  flow lands on B.
- A repeat answer restarts the quarantine on every member, so it is logged
  too, but at most once per `refresh_s` (10 s) a name: in between the member
  only touches its own copy. Peers may thus learn of a repeat up to refresh_s
  late, and every member adds refresh_s to the quarantine: no address is given
  away early. (A log entry per DNS answer cost a write transaction a query,
  and a flood of answers grew the log without end.)
- An address held by any member is held for all: holds are per member, and a
  RELEASE restarts the quarantine everywhere.
- Names learned from DNS answers that pass through (FQDN forwarding rules,
  §5.2, check F9) are shared the same way: a LEARN (name, address, expiry) is
  appended before the answer leaves, at most once per `refresh_s` for the same
  name and address, and a member whose forwarding core meets a destination it
  knows no name for catches up first, so a flow that lands on another member
  than the DNS query still matches its FQDN rule.
The log here lives in memory; the service keeps it in a shared store (the
lab: a file both connectors reach, or a peer link) with the same interface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Literal, Protocol

from connector.core.bindings import NameBindings, names_in
from connector.core.ip_pool import Allocated, Exhausted
from connector.core.names import normalise_name
from connector.core.pools import PoolSet


@dataclass(frozen=True, slots=True)
class LogEntry:
    op: Literal["BIND", "HOLD", "RELEASE", "LEARN"]
    member: str
    pool: str
    name: str
    addr: int
    at: float  # when (BIND, HOLD, RELEASE); for LEARN, when the name expires


class SharedLog(Protocol):
    """The log as members use it; `BindingLog` in memory, `io.binding_log` in a shared file."""

    def append_at(self, position: int, entry: LogEntry) -> bool: ...

    def since(self, position: int) -> list[LogEntry]: ...

    def __len__(self) -> int: ...


class BindingLog:
    """An append-only, ordered list of entries with compare-and-set append."""

    def __init__(self) -> None:
        self._entries: list[LogEntry] = []

    def append_at(self, position: int, entry: LogEntry) -> bool:
        """Append only if the log has exactly `position` entries (the caller is current)."""
        if position != len(self._entries):
            return False
        self._entries.append(entry)
        return True

    def since(self, position: int) -> list[LogEntry]:
        return self._entries[position:]

    def __len__(self) -> int:
        return len(self._entries)


REFRESH_S = 10.0  # a repeat answer for a name is logged at most this often


class ClusterMember:
    """One connector's pools, kept identical to its peers' through the log."""

    def __init__(self, member: str, log: SharedLog, networks: dict[str, IPv4Network],
                 *, quarantine_s: float = 350.0, refresh_s: float = REFRESH_S,
                 names: NameBindings | None = None,
                 on_apply: Callable[[LogEntry], None] | None = None) -> None:
        self.member = member
        self.log = log
        self.names = names  # learned names, shared (None: this member keeps none)
        self.on_apply = on_apply  # told of every entry applied (the kernel's sets follow)
        # Peers may learn of a repeat answer up to refresh_s late, so every member keeps an
        # address that much longer: none can give it away before the quarantine is over.
        self.pools = PoolSet(networks, quarantine_s=quarantine_s + refresh_s)
        self.refresh_s = refresh_s
        self._applied = 0
        self._local_flows: dict[int, int] = {}
        self._logged: dict[tuple[str, str], float] = {}  # (pool, name) -> last BIND's time
        self._learned: dict[tuple[int, str, str], float] = {}  # (addr, name, location) -> LEARN
        # names learned in sub-locations (issue 18), per location; a LEARN entry's `pool`
        # field names the location ("" = the connector's own, into `names`)
        self.located: dict[str, NameBindings] = {}

    def allocate(self, pool: str, qname: str, now: float) -> Allocated | Exhausted:
        name = normalise_name(qname)
        target = self.pools.pools[pool]
        if (now - self._logged.get((pool, name), -self.refresh_s) < self.refresh_s
                and target.is_bound(name)):
            return target.allocate(name, now)  # bound and logged a moment ago: a local touch
        while True:
            self.sync()
            position = len(self.log)
            result = self._dry_run(pool, qname, now)
            if isinstance(result, Exhausted):
                return result
            # A repeat answer is logged too: it restarts the quarantine on every member.
            entry = LogEntry("BIND", self.member, pool, result.name, int(result.addr), now)
            if self.log.append_at(position, entry):
                self.sync()
                return result

    def names_for(self, addr: IPv4Address) -> frozenset[str]:
        """The names `addr` stands for: synthetic ones, and those learned by any member."""
        names = self._names_here(addr)
        if not names and (self.names is not None or self.pools.pool_of(addr) is not None):
            self.sync()  # a peer may have answered this name a moment ago
            names = self._names_here(addr)
        return names

    def _names_here(self, addr: IPv4Address) -> frozenset[str]:
        synthetic = self.pools.names_for(addr)
        return synthetic | self.names.names_for(addr) if self.names is not None else synthetic

    def learned(self, addr: IPv4Address, qname: str, expires: float, now: float,
                location: str = "") -> None:
        """A name this member learned from an answer (in `location`, "" for its own):
        shared with every member (F9)."""
        if self.names is None:
            return
        name = normalise_name(qname)
        key = (int(addr), name, location)
        if now - self._learned.get(key, -self.refresh_s) < self.refresh_s:
            return  # logged a moment ago; peers keep it past `expires` by the grace anyway
        self._learned[key] = now
        while True:
            self.sync()
            if self.log.append_at(len(self.log), LogEntry("LEARN", self.member, location,
                                                          name, int(addr), expires)):
                self.sync()
                return

    def pool_of(self, addr: IPv4Address) -> str | None:
        self._sync_if_unknown(addr)
        return self.pools.pool_of(addr)

    def has_live_mapping(self, addr: IPv4Address) -> bool:
        self._sync_if_unknown(addr)
        return self.pools.has_live_mapping(addr)

    def _sync_if_unknown(self, addr: IPv4Address) -> None:
        """A pool address with no live binding here may have one a peer just logged."""
        if not self.pools.has_live_mapping(addr) and self.pools.pool_of(addr) is not None:
            self.sync()

    def flow_started(self, addr: IPv4Address, now: float) -> bool:
        """Hold a synthetic address bound here or by a peer; False for any other (a stray
        pool address, or a real one known only by a learned name), as `PoolSet` says."""
        if self.pools.pool_of(addr) is None or not self.names_for(addr):
            return False
        key = int(addr)
        self._local_flows[key] = self._local_flows.get(key, 0) + 1
        if self._local_flows[key] == 1:
            self._append("HOLD", addr, now)
        return True

    def flow_ended(self, addr: IPv4Address, now: float) -> None:
        key = int(addr)
        count = self._local_flows.get(key, 0) - 1
        if count < 0:
            return
        self._local_flows[key] = count
        if count == 0:
            del self._local_flows[key]
            self._append("RELEASE", addr, now)

    def sync(self) -> None:
        for entry in self.log.since(self._applied):
            self._apply(entry)
            self._applied += 1

    def _append(self, op: Literal["HOLD", "RELEASE"], addr: IPv4Address, now: float) -> None:
        while True:
            self.sync()
            pool = self.pools.pool_of(addr) or ""
            if self.log.append_at(len(self.log), LogEntry(op, self.member, pool, "",
                                                          int(addr), now)):
                self.sync()
                return

    def _apply(self, entry: LogEntry) -> None:
        self._apply_one(entry)
        if self.on_apply is not None:
            self.on_apply(entry)

    def _apply_one(self, entry: LogEntry) -> None:
        addr = IPv4Address(entry.addr)
        if entry.op == "LEARN":
            if self.names is not None:
                table = names_in(self.located, entry.pool) if entry.pool else self.names
                table.learn_until(entry.addr, entry.name, entry.at)
            return
        if entry.op == "BIND":
            self.pools.pools[entry.pool].bind(entry.name, entry.addr, entry.at)
            key = (entry.pool, entry.name)
            self._logged[key] = max(entry.at, self._logged.get(key, entry.at))
        elif entry.op == "HOLD":
            self.pools.flow_started(addr, entry.at)
        else:
            self.pools.flow_ended(addr, entry.at)

    def _dry_run(self, pool: str, qname: str, now: float) -> Allocated | Exhausted:
        """What allocation would give, without changing state (it changes via the log)."""
        target = self.pools.pools[pool]
        name = normalise_name(qname)
        existing = target.address_of(name)
        if existing is not None:
            return Allocated(existing, name, pool, False)
        addr = target.peek(now)
        if addr is None:
            return Exhausted(pool, name, "no address free or past quarantine")
        return Allocated(IPv4Address(addr), name, pool, True)
