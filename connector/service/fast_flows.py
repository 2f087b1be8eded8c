"""The data planes' half of the kernel fast paths: which flows are there, and folding
what the kernel carried back into the flow table and the counters.

A flow goes into the kernel after user space carried its first packet (validated,
decided, logged, written to its TUN or framed into its tunnel); from then on its
packets are counted in the kernel and folded here into the same flow entry, so idle
timeouts, the session log's counts and the data plane's received packets
(`geneve_rx_packets`, `routed_rx_packets`) read as if user space had seen each one
(and `geneve_rx_fast_path`, `routed_rx_fast_path` say how many it did not), and a
completed TCP flow's source stays counted for licences as of its last packet. Before
the table expires flows it is folded; a flow the table let go leaves the kernel too.

A ZIA flow's entry names the edge its packets are framed to (`ZiaTarget`); what it
carried also counts as `zia_tx_packets` (and `zia_tx_fast_path`), as user space's
frames do. When a ZIA edge dies or a transport changes, every ZIA entry leaves the
kernel (`forget_zia`), so each such flow's next packet is user space's, which keeps
or moves it as without the kernel.

`FastFlows` is the GENEVE data plane's (connector/io/fast_path.py: Direct flows into
their TUN or past it, ZIA flows into their tunnel); `RoutedZiaFlows` the routed
path's (connector/io/routed_fast_path.py: ZIA flows only; routed Direct needs no
entry, the program reads conntrack).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

from connector.core.fast_lane import since
from connector.core.flows import Canonical, FlowTable, canonical
from connector.core.model import FlowKey
from connector.core.workloads import WorkloadCounter
from connector.io.fast_path import FastCount, FastKey, FastPath, ZiaTarget
from connector.io.geneve_tuns import LocationTun
from connector.io.routed_fast_path import RoutedFastPath, RoutedKey
from connector.service.counters import Counters

K = TypeVar("K", bound=Hashable)
K_contra = TypeVar("K_contra", contravariant=True)


class FlowMap(Protocol[K_contra]):
    """A program's flow map, as the fold needs it."""

    def remove(self, key: K_contra) -> None: ...

    def count(self, key: K_contra) -> FastCount | None: ...

    def close(self) -> None: ...


class KernelFlows(Generic[K]):
    RX = "geneve_rx"  # the data plane's received-packets counter: RX_packets, RX_fast_path
    FULL = "geneve_fast_path_full"

    def __init__(self, flows: FlowMap[K], table: FlowTable, counters: Counters,
                 workloads: WorkloadCounter | None = None) -> None:
        self._map, self.table, self.counters = flows, table, counters
        self.workloads = workloads  # licences: a completed TCP flow's packets count its source
        # flow -> (its key in the kernel, its flow key, packets and octets folded so far)
        self._in_kernel: dict[Canonical, tuple[K, FlowKey, tuple[int, int]]] = {}
        self._zia: dict[Canonical, ZiaTarget] = {}  # the ZIA flows among them: their edge

    def __len__(self) -> int:
        return len(self._in_kernel)

    def _place(self, flow: FlowKey, key: K, zia: ZiaTarget | None,
               put: Callable[[], bool]) -> None:
        """`flow` into the kernel under `key` (`put` writes the entry), unless it is there
        as it is; an older entry of the flow (re-homed, moved) leaves first."""
        ckey = canonical(flow)
        old = self._in_kernel.get(ckey)
        if old is not None:
            if old[0] == key and self._zia.get(ckey) == zia:
                return
            self._leave(ckey)  # re-homed or moved: what the old entry carried, then the new
        if put():
            self._in_kernel[ckey] = (key, flow, (0, 0))
            if zia is not None:
                self._zia[ckey] = zia
        else:
            self.counters.add(self.FULL)

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
            self._map.remove(self._in_kernel.pop(ckey)[0])
            self._zia.pop(ckey, None)

    def fold(self) -> None:
        """Everything the kernel carried since the last fold, into table and counters;
        flows the table no longer has leave the kernel."""
        for ckey in list(self._in_kernel):
            self.fold_one(ckey)

    def fold_one(self, ckey: Canonical) -> None:
        key, flow, folded = self._in_kernel[ckey]
        count = self._map.count(key)
        carried = None if count is None else since(
            (count.packets, count.octets, count.last_ns), folded)
        if count is not None and carried is not None:
            self.counters.add(f"{self.RX}_packets", carried.packets)
            self.counters.add(f"{self.RX}_fast_path", carried.packets)
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
            self._map.remove(key)
            del self._in_kernel[ckey]
            self._zia.pop(ckey, None)

    def close(self) -> None:
        self._map.close()
        self._in_kernel.clear()
        self._zia.clear()


class FastFlows(KernelFlows[FastKey]):
    def __init__(self, path: FastPath, table: FlowTable, counters: Counters,
                 workloads: WorkloadCounter | None = None) -> None:
        super().__init__(path, table, counters, workloads)
        self.path = path

    def install(self, flow: FlowKey, key: FastKey, tun: LocationTun,
                zia: ZiaTarget | None = None) -> None:
        """Carry `flow` in the kernel, under `key` (its newest header and peer): into its
        ZIA tunnel to `zia`'s edge, else into its location's TUN (or, own location, past
        it: geneve_direct.c)."""
        self._place(flow, key, zia, lambda: self.path.install(
            key, socket.if_nametoindex(tun.name), tun.zone, zia))


class RoutedZiaFlows(KernelFlows[RoutedKey]):
    RX = "routed_rx"
    FULL = "routed_fast_path_full"

    def __init__(self, path: RoutedFastPath, table: FlowTable, counters: Counters,
                 workloads: WorkloadCounter | None = None) -> None:
        super().__init__(path, table, counters, workloads)
        self.path = path

    def install(self, flow: FlowKey, zia: ZiaTarget) -> None:
        """Frame `flow`'s next datagrams into its ZIA tunnel to `zia`'s edge, in the kernel
        (routed_direct.c)."""
        key = RoutedKey(flow.src, flow.dst, flow.sport, flow.dport)
        self._place(flow, key, zia, lambda: self.path.install(key, zia))
