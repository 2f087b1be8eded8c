"""The GENEVE data plane's half of the kernel fast path: which flows are there, and
folding what the kernel carried back into the flow table and the counters.

A flow goes into the kernel after user space carried its first packet (validated,
decided, logged, written to its TUN); from then on its packets are counted in
the kernel and folded here into the same flow entry, so idle timeouts, the
session log's counts and `geneve_rx_packets` read as if user space had seen each
one (and `geneve_rx_fast_path` says how many it did not), and a completed TCP
flow's source stays counted for licences as of its last packet. Before the table
expires flows it is folded; a flow the table let go leaves the kernel too.
"""

from __future__ import annotations

import socket

from connector.core.fast_lane import since
from connector.core.flows import Canonical, FlowTable, canonical
from connector.core.model import FlowKey
from connector.core.workloads import WorkloadCounter
from connector.io.fast_path import FastKey, FastPath
from connector.io.geneve_tuns import LocationTun
from connector.service.counters import Counters


class FastFlows:
    def __init__(self, path: FastPath, table: FlowTable, counters: Counters,
                 workloads: WorkloadCounter | None = None) -> None:
        self.path, self.table, self.counters = path, table, counters
        self.workloads = workloads  # licences: a completed TCP flow's packets count its source
        # flow -> (its key in the kernel, its flow key, packets and octets folded so far)
        self._in_kernel: dict[Canonical, tuple[FastKey, FlowKey, tuple[int, int]]] = {}

    def __len__(self) -> int:
        return len(self._in_kernel)

    def install(self, flow: FlowKey, key: FastKey, tun: LocationTun) -> None:
        """Carry `flow` in the kernel, under `key` (its newest header and peer), into its
        location's TUN (or, own location, past it: geneve_direct.c)."""
        ckey = canonical(flow)
        old = self._in_kernel.get(ckey)
        if old is not None:
            if old[0] == key:
                return
            self.fold_one(ckey)  # re-homed: what the old key carried, then only the new
            self.path.remove(old[0])
            del self._in_kernel[ckey]
        if self.path.install(key, socket.if_nametoindex(tun.name), tun.zone):
            self._in_kernel[ckey] = (key, flow, (0, 0))
        else:
            self.counters.add("geneve_fast_path_full")

    def fold(self) -> None:
        """Everything the kernel carried since the last fold, into table and counters;
        flows the table no longer has leave the kernel."""
        for ckey in list(self._in_kernel):
            self.fold_one(ckey)

    def fold_one(self, ckey: Canonical) -> None:
        key, flow, folded = self._in_kernel[ckey]
        count = self.path.count(key)
        carried = None if count is None else since(
            (count.packets, count.octets, count.last_ns), folded)
        if count is not None and carried is not None:
            self.counters.add("geneve_rx_packets", carried.packets)
            self.counters.add("geneve_rx_fast_path", carried.packets)
            entry = self.table.absorb(flow, carried.packets, carried.octets, carried.last_seen)
            if entry is not None:
                if self.workloads is not None and entry.completed:
                    self.workloads.observe(entry, carried.last_seen)  # as each packet would
                self._in_kernel[ckey] = (key, flow, (count.packets, count.octets))
                return
        if not self.table.originates(flow):  # gone (expired): out of the kernel too
            self.path.remove(key)
            del self._in_kernel[ckey]

    def close(self) -> None:
        self.path.close()
        self._in_kernel.clear()
