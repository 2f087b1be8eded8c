"""The data-plane half of the service, assembled from config: GENEVE, ZIA, probe, metrics.

Started after the DNS listener (the probe must never say 200 before DNS is
answered) and stopped before it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from connector.config import ConnectorConfig, workload_networks
from connector.core.bindings import NamesView
from connector.core.health import GatewayState, HealthFacts, HealthVerdict, judge
from connector.core.model import Method
from connector.core.policy import ZiaGateway
from connector.core.rules import ForwardingPolicy
from connector.core.steering import Steering
from connector.core.tunnel_health import TunnelHealth
from connector.core.workloads import WorkloadCounter
from connector.io.events import EventLog
from connector.io.trust import TrustFolder
from connector.service.control_plane import ControlPlane
from connector.service.counters import Counters
from connector.service.dataplane import GeneveDataPlane, session_logger
from connector.service.dns_service import DnsService
from connector.service.fail_open import FailOpenSwitch
from connector.service.http_endpoints import (
    HttpEndpoint,
    management_answer,
    probe_answer,
    prometheus_text,
)
from connector.service.mgmt_sshd import ManagementSshd
from connector.service.routed_path import RoutedPath
from connector.service.zia_dns import ZiaDns
from connector.service.zia_tunnel import ZiaTunnels
from connector.service.zpa_proxy import ZpaProxy


@dataclass
class DataPlaneParts:
    config: ConnectorConfig
    dns: DnsService
    tunnels: TunnelHealth
    counters: Counters
    steering: Steering
    geneve: GeneveDataPlane | None
    zia: ZiaTunnels
    probe: HttpEndpoint
    management: HttpEndpoint
    sshd: ManagementSshd | None = None
    zpa: ZpaProxy | None = None
    routed: RoutedPath | None = None
    needed_gateways: tuple[ZiaGateway, ...] = ()
    control: ControlPlane | None = None  # names and time over management (metrics only)
    dns_up: Callable[[], bool] = lambda: True  # the DNS listener's sockets are bound
    fail_open: FailOpenSwitch | None = None

    @classmethod
    def build(cls, config: ConnectorConfig, dns: DnsService, tunnels: TunnelHealth,
              events: EventLog, state_dir: Path, trust: Path | None = None) -> DataPlaneParts:
        counters = Counters()
        # The data plane's own forwarding core: new flows from public sources are dropped
        # (§2.5). DNS has its own gate, the listener's ACL, so its core has none.
        forwarding = ForwardingPolicy(config.policy, config.identity,
                                      trusted_sources=config.trusted_sources)
        carries_zpa = bool(config.policy.app_segments and config.dataplane.zpa_brokers)
        steering = Steering(forwarding, NamesView(dns.names, dns.pools), dns.pools, tunnels,
                            on_new_flow=session_logger(events),
                            workloads=WorkloadCounter(workload_networks(config.policy)),
                            zpa_carried=carries_zpa)
        svc = config.service.address.ip
        geneve = (GeneveDataPlane(steering, svc, config.dataplane.geneve_sources,
                                  counters=counters, events=events)
                  if config.dataplane.geneve else None)
        routed = RoutedPath(steering, counters)
        if geneve is not None:
            onward = geneve.return_packet
            geneve.routed_write = routed.write_back
        else:
            onward = routed.return_packet
        trust_folder = TrustFolder(trust)
        zia = ZiaTunnels(tunnels, svc, zlib.crc32(config.identity.name.encode()),
                         events=events, counters=counters, on_packet=onward,
                         transport=config.dataplane.zia_transport,
                         trust=trust_folder if trust is not None else None)
        zia_dns = ZiaDns(zia, tunnels, svc)

        def from_tunnel(packet: bytes) -> None:
            if not zia_dns.is_mine(packet):
                onward(packet)

        zia.on_packet = from_tunnel
        dns.zia = zia_dns
        if geneve is not None:
            geneve.tunnels = zia
        routed.tunnels = zia
        parts = cls(config, dns, tunnels, counters, steering, geneve, zia,
                    HttpEndpoint(svc, config.dataplane.health_port, lambda _p: b""),
                    HttpEndpoint(config.management.address.ip, config.dataplane.metrics_port,
                                 lambda _p: b""))
        parts.needed_gateways = _needed_gateways(config)
        parts.routed = routed
        parts.fail_open = FailOpenSwitch(config, tunnels, events=events, counters=counters)
        if carries_zpa:
            parts.zpa = ZpaProxy(dns, config.dataplane.zpa_brokers, trust_folder, svc,
                                 connector=config.identity.name, events=events,
                                 counters=counters)
        if config.dataplane.management_sshd:
            parts.sshd = ManagementSshd(config.management.address.ip, state_dir)
        parts.probe.handler = lambda _path: probe_answer(parts.verdict())
        parts.management.handler = lambda path: management_answer(path, parts.verdict(),
                                                                  parts.metrics)
        return parts

    async def start(self) -> None:
        if self.geneve is not None:
            await self.geneve.start()
        if self.routed is not None:
            await self.routed.start()
        await self.zia.start()
        if self.fail_open is not None:
            await self.fail_open.start()
        if self.zpa is not None:
            await self.zpa.start()
        await self.probe.start()
        await self.management.start()
        if self.sshd is not None:
            await self.sshd.start()

    async def stop(self) -> None:
        if self.sshd is not None:
            await self.sshd.stop()
        await self.probe.stop()
        await self.management.stop()
        if self.zpa is not None:
            await self.zpa.stop()
        if self.fail_open is not None:
            await self.fail_open.stop()
        await self.zia.stop()
        if self.routed is not None:
            await self.routed.stop()
        if self.geneve is not None:
            await self.geneve.stop()

    def verdict(self) -> HealthVerdict:
        up = self.geneve.up if self.geneve is not None else True
        zpa = self.zpa.reachable if self.zpa is not None else None
        return judge(HealthFacts(up, self.dns_up(), self._gateway_states(), zpa))

    def _gateway_states(self) -> tuple[GatewayState, ...]:
        return tuple(GatewayState(g.name, self.tunnels.is_usable(g.name), g.fail_closed)
                     for g in self.needed_gateways)

    def workloads(self, since: float) -> int:
        """Licences: workloads whose flows completed an exchange since `since` (monotonic)."""
        counter = self.steering.workloads
        return counter.count(since=since) if counter is not None else 0

    def metrics(self) -> str:
        verdict = self.verdict()
        counters = {**self.counters.snapshot(),
                    **{f"dns_{k}": v for k, v in self.dns.counters.items()}}
        gauges = {"healthy": float(verdict.healthy), "flows": float(len(self.steering.flows)),
                  "learned_names": float(len(self.dns.names))}
        if self.control is not None:
            counters.update(self.control.counters.snapshot())
            if self.control.offset_s is not None:
                gauges["ntp_offset_seconds"] = self.control.offset_s
        return prometheus_text(counters, gauges)


def _needed_gateways(config: ConnectorConfig) -> tuple[ZiaGateway, ...]:
    """The ZIA gateways this connector's rules can send to (the default one always)."""
    policy, me = config.policy, config.identity
    names = {None} | {r.proxy_gateway for r in policy.forwarding_rules
                      if r.method is Method.ZIA and r.enabled
                      and me.in_scope(r.locations, r.ec_groups)}
    return tuple(policy.zia_gateway(n) for n in sorted(names, key=lambda n: n or ""))
