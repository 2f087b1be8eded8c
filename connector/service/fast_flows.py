"""The GENEVE data plane's half of the kernel fast path: which flows are there, and
folding what the kernel carried back into the flow table and the counters.

A ZIA flow's entry names the edge its packets are framed to (`ZiaTarget`); what it
carried also counts as `zia_tx_packets` (and `zia_tx_fast_path`), as user space's
frames do. When a ZIA edge dies or a transport changes, every ZIA entry leaves the
kernel (`forget_zia`), so each such flow's next packet is user space's, which keeps
or moves it as without the kernel.

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
from connector.io.fast_path import FastKey, FastPath, ZiaTarget
from connector.io.geneve_tuns import LocationTun
from connector.service.counters import Counters


class FastFlows:
    def __init__(self, path: FastPath, table: FlowTable, counters: Counters,
                 workloads: WorkloadCounter | None = None) -> None:
        self.path, self.table, self.counters = path, table, counters
        self.workloads = workloads  # licences: a completed TCP flow's packets count its source
        # flow -> (its key in the kernel, its flow key, packets and octets folded so far)
        self._in_kernel: dict[Canonical, tuple[FastKey, FlowKey, tuple[int, int]]] = {}
        self._zia: dict[Canonical, ZiaTarget] = {}  # the ZIA flows among them: their edge

    def __len__(self) -> int:
        return len(self._in_kernel)

    def install(self, flow: FlowKey, key: FastKey, tun: LocationTun,
                zia: ZiaTarget | None = None) -> None:
        """Carry `flow` in the kernel, under `key` (its newest header and peer): into its
        ZIA tunnel to `zia`'s edge, else into its location's TUN (or, own location, past
        it: geneve_direct.c)."""
        ckey = canonical(flow)
        old = self._in_kernel.get(ckey)
        if old is not None:
            if old[0] == key and self._zia.get(ckey) == zia:
                return
            self._leave(ckey)  # re-homed or moved: what the old entry carried, then the new
        if self.path.install(key, socket.if_nametoindex(tun.name), tun.zone, zia):
            self._in_kernel[ckey] = (key, flow, (0, 0))
            if zia is not None:
                self._zia[ckey] = zia
        else:
            self.counters.add("geneve_fast_path_full")

    def forget_zia(self) -> int:
        """Every ZIA flow out of the kernel (what each carried folded first): an edge died
        or a transport changed, which user space judges per packet. How many left."""
        gone = list(self._zia)
        for ckey in gone:
            self._leave(ckey)
        return len(gone)

    def _leave(self, ckey: Canonical) -> None:
        self.fold_one(ckey)
        if ckey in self._in_kernel:  # fold_one lets a flow the table expired go itself
            self.path.remove(self._in_kernel.pop(ckey)[0])
            self._zia.pop(ckey, None)

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
            if ckey in self._zia:
                self.counters.add("zia_tx_packets", carried.packets)
                self.counters.add("zia_tx_fast_path", carried.packets)
            entry = self.table.absorb(flow, carried.packets, carried.octets, carried.last_seen)
            if entry is not None:
                if self.workloads is not None and entry.completed:
                    self.workloads.observe(entry, carried.last_seen)  # as each packet would
                self._in_kernel[ckey] = (key, flow, (count.packets, count.octets))
                return
        if not self.table.originates(flow):  # gone (expired): out of the kernel too
            self.path.remove(key)
            del self._in_kernel[ckey]
            self._zia.pop(ckey, None)

    def close(self) -> None:
        self.path.close()
        self._in_kernel.clear()
        self._zia.clear()
