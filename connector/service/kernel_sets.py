"""Elements for the connector table's sets, added in batches off the answer's path.

A DNS answer binds a synthetic address or teaches a name; the kernel's sets
(`zpa_live`, `rN_names`) must follow, but one `nft` process per element would
cost each answer milliseconds. Elements are queued and written by one `nft -f`
per event-loop turn, after the answers of that turn have left; a client's first
packet may thus find the set a moment behind (the core, asked in user space,
still decides right; docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from ipaddress import IPv4Address

from connector.core.cluster import LogEntry
from connector.errors import ServiceError
from connector.io import host
from connector.io.nft_render import LIVE_SET, TABLE
from connector.service.counters import Counters
from connector.service.name_sets import NameSetUpdater


class KernelSets:
    def __init__(self, counters: Counters,
                 schedule: Callable[[Callable[[], None]], object] | None = None) -> None:
        self.counters = counters
        self._schedule = schedule
        self._pending: list[str] = []
        self._live: set[int] = set()

    def add(self, set_name: str, element: str, timeout_s: int | None = None) -> None:
        timeout = f" timeout {timeout_s}s" if timeout_s else ""
        self._pending.append(f"add element ip {TABLE} {set_name} {{ {element}{timeout} }}")
        if len(self._pending) == 1:
            self._later(self.flush)

    def live(self, addr: IPv4Address | int) -> None:
        """A synthetic address now has a mapping: TCP to it goes to the ZPA proxy."""
        key = int(addr)
        if key not in self._live:
            self._live.add(key)
            self.add(LIVE_SET, str(IPv4Address(key)))

    def flush(self) -> None:
        lines, self._pending = self._pending, []
        if not lines:
            return
        try:
            host.nft_apply("\n".join(lines) + "\n")
            self.counters.add("kernel_set_elements", len(lines))
        except ServiceError:
            self.counters.add("kernel_set_errors")

    def _later(self, call: Callable[[], None]) -> None:
        if self._schedule is not None:
            self._schedule(call)
            return
        try:
            asyncio.get_running_loop().call_soon(call)
        except RuntimeError:  # no loop (a tool, a test): now
            call()


def follow_cluster(sets: KernelSets, names: NameSetUpdater | None, carries_zpa: bool
                   ) -> Callable[[LogEntry], None]:
    """What a cluster member does with each log entry it applies, for the kernel."""
    def apply(entry: LogEntry) -> None:
        if entry.op == "BIND" and carries_zpa:
            sets.live(entry.addr)
        elif entry.op == "LEARN" and names is not None and not entry.pool:
            # (a name learned in a sub-location steers GENEVE flows only, in user space)
            remaining = int(entry.at - time.time())
            if remaining > 0:
                names.learned_for(IPv4Address(entry.addr), entry.name, remaining)
    return apply


