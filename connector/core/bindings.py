"""Address -> names learned from DNS answers the connector gave or forwarded (spec §5.2).

FQDN and wildcard forwarding rules match a flow's destination through these.
An entry lives for the answer's TTL plus a grace (a client may use an address
a little after its TTL), is refreshed by a new answer, and the table is bounded:
past `max_entries` the least recently learned address is forgotten.
Synthetic answers need no entry here: the pools know their names
(`NamesView` joins both for the forwarding core).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from ipaddress import IPv4Address
from typing import Any

from connector.core.model import NameLookup
from connector.core.names import normalise_name

DEFAULT_GRACE_S = 60.0
DEFAULT_MAX_ENTRIES = 100_000


class NameBindings:
    __slots__ = ("grace_s", "max_entries", "_names")

    def __init__(self, *, grace_s: float = DEFAULT_GRACE_S,
                 max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.grace_s = grace_s
        self.max_entries = max_entries
        self._names: OrderedDict[int, dict[str, float]] = OrderedDict()  # addr -> name: expiry

    def learn(self, addr: IPv4Address, qname: str, ttl: int, now: float) -> None:
        key = int(addr)
        names = self._names.pop(key, {})
        names[normalise_name(qname)] = now + ttl + self.grace_s
        self._names[key] = names
        while len(self._names) > self.max_entries:
            self._names.popitem(last=False)

    def learn_until(self, addr: int, name: str, expires: float) -> None:
        """One entry with its absolute expiry (from the state store, or a cluster peer);
        a later expiry already known is kept. The store keeps names as answered (a
        trailing dot, any case): normalised here, as `learn` does."""
        name = normalise_name(name)
        names = self._names.pop(addr, {})
        names[name] = max(expires, names.get(name, expires))
        self._names[addr] = names
        while len(self._names) > self.max_entries:
            self._names.popitem(last=False)

    def names_for(self, addr: IPv4Address) -> frozenset[str]:
        return frozenset(self._names.get(int(addr), ()))

    def expire(self, now: float) -> int:
        """Forget names past their expiry; returns how many were forgotten."""
        forgotten = 0
        for key in list(self._names):
            names = self._names[key]
            for name in [n for n, until in names.items() if until <= now]:
                del names[name]
                forgotten += 1
            if not names:
                del self._names[key]
        return forgotten

    def __len__(self) -> int:
        return len(self._names)

    def snapshot(self) -> dict[str, Any]:
        return {"version": 1, "grace_s": self.grace_s, "max_entries": self.max_entries,
                "entries": [[a, sorted(n.items())] for a, n in self._names.items()]}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> NameBindings:
        table = cls(grace_s=data["grace_s"], max_entries=data["max_entries"])
        for addr, names in data["entries"]:
            table._names[int(addr)] = {str(n): float(t) for n, t in names}
        return table


class LocatedNames:
    """The names learned in one sub-location (a GWLB endpoint's, issue 18): a NameLookup
    over `located[location]`, the table every part of the connector (and the cluster
    member) shares, found at each lookup since it is made on the first answer. On a
    miss, `refresh` (a cluster member's sync) may bring a peer's answer first."""

    def __init__(self, located: dict[str, NameBindings], location: str,
                 refresh: Callable[[], None] | None = None) -> None:
        self.located, self.location, self.refresh = located, location, refresh

    def names_for(self, addr: IPv4Address) -> frozenset[str]:
        names = self._here(addr)
        if not names and self.refresh is not None:
            self.refresh()
            names = self._here(addr)
        return names

    def _here(self, addr: IPv4Address) -> frozenset[str]:
        table = self.located.get(self.location)
        return table.names_for(addr) if table is not None else frozenset()


def names_in(located: dict[str, NameBindings], location: str) -> NameBindings:
    """A sub-location's table of learned names, made on first use."""
    table = located.get(location)
    if table is None:
        table = located[location] = NameBindings()
    return table


class NamesView:
    """One NameLookup over several: learned bindings and the pools' synthetic names."""

    def __init__(self, *sources: NameLookup) -> None:
        self._sources = sources

    def names_for(self, addr: IPv4Address) -> frozenset[str]:
        found: frozenset[str] = frozenset()
        for source in self._sources:
            found |= source.names_for(addr)
        return found
