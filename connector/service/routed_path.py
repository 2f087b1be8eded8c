"""The user-space half of routed mode (the Azure ILB next hop; plain routed traffic
anywhere): every new flow the kernel did not carry Direct itself, by TUN.

The kernel's `steer` chain sends routed flows whose first matching rule is not
Direct (ZIA, Drop, ZPA, Local), that no rule matched (the default ZIA rule),
whose source is public (§2.5) or whose destination is a synthetic address the
ZPA proxy did not take, to the TUN `ccrt0`. Here each packet read from it is
steered (the same `Steering` as GENEVE, with no header: the flow remembers it
came routed): ZIA into the tunnel, everything else dropped and counted by its
reason, and every new flow written to the session log by the steering, drops
included (§5.4, check F7). Replies that come back down a ZIA tunnel are
written into the TUN, and the kernel, which has the connection in conntrack,
routes them to the workload.

A Direct decision here means the kernel was behind the core: a name another
cluster member learned reached this core (it syncs the shared log when asked
about an unknown address) a moment before the kernel's name set, or a gateway
failed open. The connection's entry already holds the user-space mark and a NAT
decision made for the TUN, so every later packet of the flow would come here
too. The entry is forgotten and the packet written back into the TUN: the
kernel tracks it afresh, the forward chain accepts it as Direct (`ccrt0`,
original direction, new) and SNATs it, and the flow's next packets take the
kernel's own path (docs/decisions.md, "A flow the kernel sent up by mistake").

With `runtime.routed_fast_path`, a tc program on the service interface carries the
later UDP datagrams of connections the kernel decided Direct
(`connector/io/routed_fast_path.py`); it is attached when the path starts (event
`dataplane.routed_fast_path`), and what it carried is read by the metrics. It also
frames into the tunnel the later datagrams of a UDP flow sent here and into a UDP ZIA
tunnel: after user space framed its first one, the flow is installed with its edge
(`RoutedZiaFlows`), what the kernel carried is folded back into the flow table and
the counters (`routed_rx_fast_path`, `zia_tx_fast_path`), and every such flow leaves
the kernel when an edge dies or a transport changes (each flow's next datagram comes
here again, which keeps or moves it). With `runtime.dns_fast_path` the same program
answers repeated DNS questions (connector/service/dns_kernel_answers.py); it is
attached for either, and `switches` says which parts run.

Sub-locations (issue 18): a routed flow is in the sub-location whose source range
(`runtime.routed_locations`) holds its source, else in the connector's own; the
steering decides it by that location's rules and logs it with that location.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from connector.core.fast_lane import kernel_may_frame_routed
from connector.core.flows import Canonical, canonical
from connector.core.memo import remember
from connector.core.model import FlowKey, IpProto, Method
from connector.core.routed_locations import SourceLocations
from connector.core.steering import Dropped, Segment, Steering, ToKernel, ToRouted, ToZia
from connector.io import host
from connector.io.conntrack import ConntrackTable
from connector.io.events import EventLog
from connector.io.fast_path import FastPathError, FastTotals, ZiaTarget
from connector.io.ip_packet import PacketView, view_at
from connector.io.nft_render import ROUTED_TUN, USER_MARK
from connector.io.routed_fast_path import CARRY, RoutedFastPath
from connector.io.tun import TunDevice
from connector.service.counters import Counters
from connector.service.dataplane import KNOWN_FLOWS, count_drop, drain, ipv4_segment
from connector.service.fast_flows import RoutedZiaFlows
from connector.service.zia_tunnel import ZiaTunnels

ROUTED_TABLE = 62
_PORTED = (IpProto.TCP, IpProto.UDP)


class RoutedPath:
    def __init__(self, steering: Steering, counters: Counters, *,
                 tunnels: ZiaTunnels | None = None,
                 locations: SourceLocations | None = None, events: EventLog | None = None,
                 fast_path_on: str | None = None, switches: int = CARRY) -> None:
        self.steering, self.counters = steering, counters
        self.events = events
        self.fast_path_on = fast_path_on  # the interface whose ingress gets the program
        self.switches = switches  # its parts: CARRY (Direct and ZIA), DNS
        self.fast: RoutedFastPath | None = None
        self.zia_fast: RoutedZiaFlows | None = None  # the ZIA flows the program frames
        self.locations = locations or SourceLocations()
        self.tunnels = tunnels
        self._tun: TunDevice | None = None
        self._conntrack = ConntrackTable()
        self._carrying: set[asyncio.Task[None]] = set()
        # view identity -> its flow's key (located) and the flow table's key for it
        self._known: dict[bytes, tuple[FlowKey, Canonical]] = {}

    async def start(self) -> None:
        self._tun = TunDevice(ROUTED_TUN)
        host.add_tun_return_route(ROUTED_TUN, USER_MARK, ROUTED_TABLE)
        asyncio.get_running_loop().add_reader(self._tun.fd, self._on_tun)
        if self.fast_path_on is not None:
            self._start_fast_path(self.fast_path_on)

    def _start_fast_path(self, interface: str) -> None:
        """The kernel fast path if this host gives it; else the rules carry every packet,
        as without it, and the event and counter say why."""
        try:
            self.fast = RoutedFastPath(interface, switches=self.switches)
        except FastPathError as exc:
            self.counters.add("routed_fast_path_unavailable")
            self._emit("dataplane.routed_fast_path", state="unavailable",
                       interface=interface, reason=str(exc))
            return
        self._emit("dataplane.routed_fast_path", state="on", interface=interface,
                   switches=self.switches)
        if not self.switches & CARRY:
            return
        flows = self.steering.flows
        self.zia_fast = RoutedZiaFlows(self.fast, flows, self.counters, self.steering.workloads)
        if self.tunnels is not None:
            self.tunnels.on_paths_changed.append(self._zia_paths_changed)

    def _emit(self, kind: str, **fields: object) -> None:
        if self.events is not None:
            self.events.emit(kind, **fields)

    def carried(self) -> FastTotals | None:
        """What the fast path carried Direct since it was attached; None without it."""
        return self.fast.carried() if self.zia_fast is not None and self.fast else None

    def fold(self) -> None:
        """What the fast path framed into ZIA tunnels, into the flow table and counters."""
        if self.zia_fast is not None:
            self.zia_fast.fold()

    def _zia_paths_changed(self) -> None:
        """An edge died or a transport changed: ZIA flows are user space's again, which
        keeps or moves each at its next datagram (and offers it back)."""
        if self.zia_fast is not None:
            self.zia_fast.forget_zia()

    async def stop(self) -> None:
        self.zia_fast = None
        if self.fast is not None:
            self.fast.close()
            self.fast = None
        if self._tun is not None:
            asyncio.get_running_loop().remove_reader(self._tun.fd)
            self._tun.close()
        for task in self._carrying:
            task.cancel()
        self._conntrack.close()
        host.remove_tun_return_route(USER_MARK, ROUTED_TABLE)

    def _on_tun(self) -> None:
        assert self._tun is not None
        drain(self._tun, self.handle)

    def handle(self, packet: bytes) -> None:
        view = view_at(packet, 0)
        if view is not None and (known := self._known.get(view.identity)) is not None:
            # a flow whose packets were read in full before: only what changes is read
            seg: Segment | None = Segment(known[0], view.total, view.tcp_flags, view.seq,
                                          view.ack, known[1])
        else:
            seg = self._segment_in_full(packet, view)
        if seg is None:
            return
        self.counters.add("routed_rx_packets")
        action = self.steering.inbound(seg, b"", None, time.monotonic())
        if isinstance(action, ToZia):
            if self.tunnels is not None:
                self.tunnels.send(action.address, packet)
                if self.zia_fast is not None:
                    self._offer_to_kernel(action, seg.key)
        elif isinstance(action, Dropped):
            count_drop(self.counters, action)
        elif isinstance(action, ToKernel):
            self.counters.add("routed_kernel_behind")
            self._kernel_behind(action, seg.key, packet)
        else:
            self.counters.add("routed_unexpected")

    def _offer_to_kernel(self, action: ToZia, flow: FlowKey) -> None:
        """The flow's next datagrams to the kernel, framed there, if it may carry them and
        the edge's frames go by UDP now (TLS is a user-space stream)."""
        assert self.zia_fast is not None
        assert self.tunnels is not None
        tunnels = self.tunnels
        if (kernel_may_frame_routed(action, flow, self.steering.flows)
                and tunnels.udp_to(action.address, time.monotonic())):
            self.zia_fast.install(flow, ZiaTarget(tunnels.source, action.address,
                                                  tunnels.tunnel_id))

    def _segment_in_full(self, packet: bytes, view: PacketView | None) -> Segment | None:
        seg = ipv4_segment(packet, self.counters, "routed_malformed")
        if seg is None:
            return None
        if self.locations.locations:
            location = self.locations.location_of(seg.key.src)
            seg = seg._replace(key=replace(seg.key, location=location))
        if view is not None:  # its flow's later packets may take the short way
            canon = canonical(seg.key)
            remember(self._known, view.identity, (seg.key, canon), KNOWN_FLOWS)
            seg = seg._replace(canonical=canon)
        return seg

    def _kernel_behind(self, action: ToKernel, key: FlowKey, packet: bytes) -> None:
        """The kernel sent it here and the core says the kernel should carry it. Direct
        TCP and UDP are carried (see the module's note); anything else (a ZPA connection
        whose live address came late: its SYN is retransmitted and diverted) is dropped."""
        if action.decision.method is not Method.DIRECT or key.proto not in _PORTED:
            self.counters.add("routed_kernel_behind_dropped")
            return
        task = asyncio.get_running_loop().create_task(self._carry_direct(key, packet))
        self._carrying.add(task)
        task.add_done_callback(self._carrying.discard)

    async def _carry_direct(self, key: FlowKey, packet: bytes) -> None:
        if not await self._conntrack.forget(key.proto, key.src, key.sport, key.dst, key.dport):
            self.counters.add("routed_kernel_behind_dropped")
            return
        self.counters.add("routed_kernel_behind_carried")
        self.write_back(packet)

    def return_packet(self, packet: bytes) -> None:
        """A packet from a ZIA tunnel, on a connector without GENEVE."""
        seg = ipv4_segment(packet, self.counters, "return_malformed")
        if seg is None:
            return
        action = self.steering.outbound(seg, time.monotonic())
        if isinstance(action, ToRouted):
            self.write_back(packet)
        else:
            self.counters.add("routed_return_unknown_flow")

    def write_back(self, packet: bytes) -> None:
        """A tunnel reply of a routed flow: the kernel routes it on to the workload."""
        if self._tun is None or not self._tun.write(packet):
            self.counters.add("routed_tx_errors")
