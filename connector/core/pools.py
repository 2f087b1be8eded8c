"""All synthetic pools of a connector, as one `PoolLookup` for the forwarding core.

Pools may overlap (maps are per pool, spec §6.6 item 7): an address belongs to
the pool that has a binding for it, else to the first pool (by name) whose
network contains it.
"""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv4Address, IPv4Network
from typing import Any, Protocol

from connector.core.ip_pool import DEFAULT_QUARANTINE_S, Allocated, Exhausted, SyntheticPool


class PoolSet:
    def __init__(self, networks: Mapping[str, IPv4Network], *,
                 quarantine_s: float = DEFAULT_QUARANTINE_S) -> None:
        self.pools = {name: SyntheticPool(name, net, quarantine_s=quarantine_s)
                      for name, net in sorted(networks.items())}

    def allocate(self, pool: str, qname: str, now: float) -> Allocated | Exhausted:
        return self.pools[pool].allocate(qname, now)

    def pool_of(self, addr: IPv4Address) -> str | None:
        inside = [p for p in self.pools.values() if addr in p.network]
        bound = [p for p in inside if p.has_live_mapping(addr)]
        chosen = bound or inside
        return chosen[0].name if chosen else None

    def has_live_mapping(self, addr: IPv4Address) -> bool:
        return any(p.has_live_mapping(addr) for p in self.pools.values())

    def names_for(self, addr: IPv4Address) -> frozenset[str]:
        names = (p.lookup_name(addr) for p in self.pools.values())
        return frozenset(n for n in names if n is not None)

    def flow_started(self, addr: IPv4Address, now: float) -> bool:
        """Hold `addr` in every pool binding it; False when none does (stray)."""
        results = [p.flow_started(addr, now) for p in self.pools.values()
                   if p.has_live_mapping(addr)]
        return any(results)

    def flow_ended(self, addr: IPv4Address, now: float) -> None:
        for pool in self.pools.values():
            if pool.has_live_mapping(addr):
                pool.flow_ended(addr, now)

    def snapshot(self) -> dict[str, Any]:
        return {"version": 1, "pools": [p.snapshot() for p in self.pools.values()]}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> PoolSet:
        restored = cls({})
        for item in data["pools"]:
            pool = SyntheticPool.restore(item)
            restored.pools[pool.name] = pool
        restored.pools = dict(sorted(restored.pools.items()))
        return restored


class Pools(Protocol):
    """What the service needs of its synthetic pools: one connector's `PoolSet`, or a
    cluster member's view kept equal to its peers' (`cluster.ClusterMember`)."""

    def allocate(self, pool: str, qname: str, now: float) -> Allocated | Exhausted: ...

    def pool_of(self, addr: IPv4Address) -> str | None: ...

    def has_live_mapping(self, addr: IPv4Address) -> bool: ...

    def names_for(self, addr: IPv4Address) -> frozenset[str]: ...

    def flow_started(self, addr: IPv4Address, now: float) -> bool: ...

    def flow_ended(self, addr: IPv4Address, now: float) -> None: ...
