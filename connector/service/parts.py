"""The service's parts, built and wired in one place, started and stopped in one order.

`ServiceParts.build` makes every part with what it needs passed in: the DNS
service and its listener, the GENEVE and routed data planes, the timer that
expires their shared flow table (and folds the fast paths first), the ZIA tunnels
and ZIA DNS, the fail-open switch, the ZPA proxy, the probe and management
endpoints, sshd. Where two parts need each other (a tunnel's reply goes back
through the data plane that sent its request), the link is a function made
here, called only once packets flow. `in_start_order` is the order they start
in: the DNS listener first (the probe must never say 200 before DNS is
answered), the probe and the management endpoints after everything they
report on. The caller stops them in the reverse order (an AsyncExitStack).
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from connector.config import ConnectorConfig, workload_networks
from connector.core.bindings import LocatedNames, NameBindings, NamesView
from connector.core.cluster import ClusterMember
from connector.core.health import GatewayState, HealthFacts, HealthVerdict, judge
from connector.core.model import Method
from connector.core.policy import ZiaGateway
from connector.core.pools import Pools
from connector.core.routed_locations import SourceLocations
from connector.core.rules import ForwardingPolicy
from connector.core.steering import Steering
from connector.core.tunnel_health import TunnelHealth
from connector.core.workloads import WorkloadCounter
from connector.io.events import EventLog
from connector.io.routed_fast_path import CARRY, DNS
from connector.io.state_store import StateStore
from connector.io.trust import TrustFolder
from connector.service.control_plane import ControlPlane
from connector.service.counters import Counters
from connector.service.dataplane import GeneveDataPlane, session_logger
from connector.service.dns_kernel_answers import KernelDnsAnswers
from connector.service.dns_listener import DnsListener
from connector.service.dns_service import DnsService
from connector.service.fail_open import FailOpenSwitch
from connector.service.flow_expiry import FlowExpiry
from connector.service.http_endpoints import (
    HttpEndpoint,
    management_answer,
    probe_answer,
    prometheus_text,
)
from connector.service.kernel_sets import KernelSets
from connector.service.mgmt_sshd import ManagementSshd
from connector.service.name_sets import NameSetUpdater
from connector.service.routed_path import RoutedPath
from connector.service.vxlan_bridge import TunnelInterface, VxlanBridge, bridge_flow_log
from connector.service.zia_dns import ZiaDns
from connector.service.zia_tunnel import ZiaTunnels
from connector.service.zpa_proxy import ZpaProxy


class Part(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@asynccontextmanager
async def started(part: Part) -> AsyncIterator[Part]:
    """`part` started for the block, stopped after it whatever happens."""
    await part.start()
    try:
        yield part
    finally:
        await part.stop()


@dataclass(frozen=True, slots=True)
class Shared:
    """What the parts share and the service keeps: state, the kernel's sets, the cluster."""

    pools: Pools
    names: NameBindings
    store: StateStore
    name_sets: NameSetUpdater
    sets: KernelSets
    member: ClusterMember | None
    carries_zpa: bool
    located: dict[str, NameBindings]  # sub-locations' learned names (the member's table)


@dataclass(frozen=True, slots=True)
class ServiceParts:
    config: ConnectorConfig
    counters: Counters
    tunnels: TunnelHealth
    dns: DnsService
    listener: DnsListener
    steering: Steering
    geneve: GeneveDataPlane | None
    vxlan: VxlanBridge | None
    routed: RoutedPath
    kernel_dns: KernelDnsAnswers | None
    expiry: FlowExpiry
    zia: ZiaTunnels
    fail_open: FailOpenSwitch
    zpa: ZpaProxy | None
    probe: HttpEndpoint
    management: HttpEndpoint
    sshd: ManagementSshd | None
    control: ControlPlane
    needed_gateways: tuple[ZiaGateway, ...]

    @classmethod
    def build(cls, config: ConnectorConfig, shared: Shared, tunnels: TunnelHealth,
              control: ControlPlane, events: EventLog, state_dir: Path,
              trust: Path | None = None) -> ServiceParts:
        counters = shared.sets.counters
        svc = config.service.address.ip
        trust_folder = TrustFolder(trust)
        onward: Callable[[bytes], None]  # a tunnel's reply, back by the path it came

        def from_tunnel(packet: bytes) -> None:
            if not zia_dns.is_mine(packet):
                onward(packet)

        zia = ZiaTunnels(tunnels, svc, zlib.crc32(config.identity.name.encode()),
                         events=events, counters=counters, on_packet=from_tunnel,
                         transport=config.dataplane.zia_transport,
                         trust=trust_folder if trust is not None else None)
        zia_dns = ZiaDns(zia, tunnels, svc)
        dns = DnsService(config, pools=shared.pools, names=shared.names, health=tunnels,
                         events=events, store=shared.store, zia=zia_dns,
                         on_learned=shared.name_sets.learned,
                         on_bound=shared.sets.live if shared.carries_zpa else None,
                         cluster=shared.member if shared.name_sets.wanted else None,
                         located=shared.located)
        steering = _steering(config, dns, tunnels, events, shared)
        dns.location_of = steering.location_of  # a query's sub-location: its flow's
        switches = ((CARRY if config.dataplane.routed_fast_path else 0)
                    | (DNS if config.dataplane.dns_fast_path else 0))
        routed = RoutedPath(steering, counters, tunnels=zia,
                            locations=SourceLocations(config.dataplane.routed_locations),
                            events=events,
                            fast_path_on=config.service.name if switches else None,
                            switches=switches)
        geneve = (GeneveDataPlane(steering, svc, config.dataplane.geneve_sources,
                                  counters=counters, events=events, tunnels=zia,
                                  routed_write=routed.write_back,
                                  locations=dict(config.dataplane.geneve_locations),
                                  fast_path_on=(config.service.name
                                                if config.dataplane.geneve_fast_path else None))
                  if config.dataplane.geneve else None)
        onward = geneve.return_packet if geneve is not None else routed.return_packet

        def verdict() -> HealthVerdict:
            return parts.verdict()

        parts = cls(
            config, counters, tunnels, dns, DnsListener(dns, svc), steering, geneve,
            _vxlan_bridge(config, dns, tunnels, events, counters), routed,
            KernelDnsAnswers(dns, routed, counters, events)
            if config.dataplane.dns_fast_path else None,
            FlowExpiry(steering, [routed.fold, *([geneve.fold] if geneve is not None else [])]),
            zia, FailOpenSwitch(config, tunnels, events=events, counters=counters),
            ZpaProxy(dns, config.dataplane.zpa_brokers, trust_folder, svc,
                     connector=config.identity.name, events=events, counters=counters,
                     probe_s=config.dataplane.zpa_probe_s)
            if shared.carries_zpa else None,
            HttpEndpoint(svc, config.dataplane.health_port,
                         lambda _path: probe_answer(verdict())),
            HttpEndpoint(config.management.address.ip, config.dataplane.metrics_port,
                         lambda path: management_answer(path, verdict(), parts.metrics)),
            ManagementSshd(config.management.address.ip, state_dir)
            if config.dataplane.management_sshd else None,
            control, _needed_gateways(config))
        return parts

    def in_start_order(self) -> list[Part]:
        """DNS first; the data planes and tunnels; what reports on them last."""
        ordered = (self.listener, self.geneve, self.vxlan, self.routed, self.kernel_dns,
                   self.expiry, self.zia,
                   self.fail_open, self.zpa, self.probe, self.management, self.sshd)
        return [part for part in ordered if part is not None]

    def verdict(self) -> HealthVerdict:
        up = all(plane.up for plane in (self.geneve, self.vxlan) if plane is not None)
        zpa = self.zpa.reachable if self.zpa is not None else None
        return judge(HealthFacts(up, self.listener.up, self._gateway_states(), zpa))

    def _gateway_states(self) -> tuple[GatewayState, ...]:
        return tuple(GatewayState(g.name, self.tunnels.is_usable(g.name), g.fail_closed)
                     for g in self.needed_gateways)

    def workloads(self, since: float) -> int:
        """Licences: workloads whose flows completed an exchange since `since` (monotonic)."""
        counter = self.steering.workloads
        return counter.count(since=since) if counter is not None else 0

    def metrics(self) -> str:
        if self.geneve is not None:
            self.geneve.fold()  # what the kernel carried counts as read
        self.routed.fold()
        verdict = self.verdict()
        carried = self.routed.carried()  # what the routed fast path carried, if on
        direct = self.geneve.carried_direct() if self.geneve is not None else None
        counters = {**self.counters.snapshot(),
                    **({"routed_fast_path_packets": carried.packets,
                        "routed_fast_path_octets": carried.octets} if carried else {}),
                    **({"geneve_fast_path_direct_packets": direct.packets,
                        "geneve_fast_path_direct_octets": direct.octets} if direct else {}),
                    **{f"dns_{k}": v for k, v in self.dns.counters.items()},
                    **self.control.counters.snapshot()}
        gauges = {"healthy": float(verdict.healthy), "flows": float(len(self.steering.flows)),
                  "learned_names": float(len(self.dns.names))}
        if self.steering.workloads is not None:  # licences per location (sub-locations)
            own = self.config.identity.location
            for location, n in self.steering.workloads.count_by_location().items():
                gauges[f"workloads_location_{location or own}"] = float(n)
        if self.control.offset_s is not None:
            gauges["ntp_offset_seconds"] = self.control.offset_s
        return prometheus_text(counters, gauges)


def _steering(config: ConnectorConfig, dns: DnsService, tunnels: TunnelHealth,
              events: EventLog, shared: Shared) -> Steering:
    """The data plane's own forwarding core: new flows from public sources are dropped
    (§2.5). DNS has its own gate, the listener's ACL, so its core has none."""
    forwarding = ForwardingPolicy(config.policy, config.identity,
                                  trusted_sources=config.trusted_sources)
    # Sub-locations (GWLB endpoints, runtime.geneve_locations; routed sources,
    # runtime.routed_locations): each its own rules.
    sublocations = sorted(set(dict(config.dataplane.geneve_locations).values()))
    routed = {loc.location for loc in config.dataplane.routed_locations}
    located = {name: ForwardingPolicy(config.policy, replace(config.identity, location=name),
                                      trusted_sources=config.trusted_sources)
               for name in sorted({*sublocations, *routed})}
    # each GENEVE sub-location's learned names (synced from peers on a miss) and the
    # pools'; a routed sub-location's queries reach the listener as routed ones do, so
    # its flows see the own location's names, as the kernel's name sets do
    member = dns.cluster
    synthetic = member.pools if member is not None else dns.pools
    names = {name: NamesView(LocatedNames(dns.located, name,
                                          member.sync if member is not None else None),
                             synthetic)
             for name in sublocations}
    return Steering(forwarding, NamesView(dns.names, dns.pools), dns.pools, tunnels,
                    on_new_flow=session_logger(events, config.identity.location),
                    workloads=WorkloadCounter(workload_networks(config.policy)),
                    zpa_carried=shared.carries_zpa, locations=located, located_names=names)


def _vxlan_bridge(config: ConnectorConfig, dns: DnsService, tunnels: TunnelHealth,
                  events: EventLog, counters: Counters) -> VxlanBridge | None:
    """The Azure GWLB bridge, when configured. Its traffic is a public load balancer's,
    internet-sourced by design: its own core accepts public sources (the mode §2.5
    allows), and logs every flow as the other planes do."""
    dp = config.dataplane
    if not dp.vxlan:
        return None
    forwarding = ForwardingPolicy(config.policy, config.identity, trusted_sources=None)
    steering = Steering(forwarding, NamesView(dns.names, dns.pools), dns.pools, tunnels,
                        on_new_flow=bridge_flow_log(session_logger(events,
                                                                   config.identity.location)))
    (inner_port, inner_vni), (outer_port, outer_vni) = dp.vxlan_tunnels
    return VxlanBridge(steering, config.service.address.ip,
                       (TunnelInterface("internal", inner_port, inner_vni),
                        TunnelInterface("external", outer_port, outer_vni)),
                       dp.vxlan_sources, counters=counters)


def _needed_gateways(config: ConnectorConfig) -> tuple[ZiaGateway, ...]:
    """The ZIA gateways this connector's rules can send to (the default one always)."""
    policy, me = config.policy, config.identity
    names = {None} | {r.proxy_gateway for r in policy.forwarding_rules
                      if r.method is Method.ZIA and r.enabled
                      and me.in_scope(r.locations, r.ec_groups)}
    return tuple(policy.zia_gateway(n) for n in sorted(names, key=lambda n: n or ""))
