"""`connector run`: load the config, program the kernel path, serve until signalled.

Order matters for the lab: nothing is changed on the host unless the whole
config is valid; state is restored before the listener opens, so no binding
handed out before a restart is lost; `service.ready` is written only once the
ruleset is loaded and the DNS listener has tried to bind (it says whether it
is up: a listener the kernel refused keeps trying, and health says 503 until it
is up); on SIGTERM/SIGINT everything the service added to the host is removed
before `service.stopped` is written.
"""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path

from connector.config import ConnectorConfig
from connector.config_overlay import overlay_cloud_policy
from connector.core.bindings import NameBindings
from connector.core.cluster import ClusterMember
from connector.core.pools import Pools, PoolSet
from connector.core.tunnel_health import KeepaliveTiming, TunnelHealth
from connector.errors import ConfigError
from connector.io import host
from connector.io.binding_log import SqliteBindingLog
from connector.io.events import EventLog
from connector.io.nft_render import DIVERT_MARK, TABLE, render_ruleset, zpa_pools
from connector.io.state_store import StateStore
from connector.io.trust import TrustFolder
from connector.service.cloud import (
    ENROLL_WAIT_S,
    UPLOADED_KINDS,
    CloudClient,
    CloudUploader,
    Enrollment,
    enroll_until,
)
from connector.service.control_plane import ControlPlane
from connector.service.counters import Counters
from connector.service.dns_listener import DnsListener
from connector.service.dns_service import DnsService
from connector.service.kernel_sets import KernelSets, follow_cluster
from connector.service.name_sets import NameSetUpdater
from connector.service.parts import DataPlaneParts

FOLLOW_S = 0.1  # how often a cluster member reads its peers' log entries


@dataclass(frozen=True, slots=True)
class RunFiles:
    """Where the service keeps what outlives it, and what it trusts."""

    state_dir: Path
    trust: Path | None = None  # certificates of the ZPA brokers to trust
    cluster_log: Path | None = None  # binding log shared with the other connectors


def serve(config: ConnectorConfig, events_path: Path | None, files: RunFiles) -> None:
    asyncio.run(_serve(config, EventLog(events_path, config.identity.name), files))


async def _serve(config: ConnectorConfig, events: EventLog, files: RunFiles) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    store = StateStore(files.state_dir)
    log = SqliteBindingLog(files.cluster_log) if files.cluster_log else None
    listener = None
    plane: DataPlaneParts | None = None
    uploader: CloudUploader | None = None
    follower: asyncio.Task[None] | None = None
    control = ControlPlane(config.control, config.management.address.ip, events)
    try:
        control.start()
        config, enrolled = await _enroll(config, files.trust, events, control)
        own, names = restore_state(config, store)
        name_sets = NameSetUpdater(config)
        carries_zpa = bool(zpa_pools(config))
        sets = KernelSets(Counters())
        pools: Pools = own
        member: ClusterMember | None = None
        if log is not None:
            member = ClusterMember(config.identity.name, log, dict(config.policy.ip_pools),
                                   names=names if name_sets.wanted else None,
                                   on_apply=follow_cluster(sets, name_sets, carries_zpa))
            pools = member
        host.apply_sysctls(host.ROUTER_SYSCTLS)
        host.load_nft(render_ruleset(config))
        host.add_divert_route(DIVERT_MARK)
        if member is not None:
            member.sync()  # every binding any member handed out, this one's included
            own = member.pools
        if carries_zpa:
            for pool in own.pools.values():
                for addr in pool.bound_addresses():
                    sets.live(addr)
        sets.flush()
        tunnels = TunnelHealth(config.policy.zia_gateways, KeepaliveTiming(
            config.dataplane.zia_keepalive_s, config.dataplane.zia_dead_after_s),
            time.monotonic)
        dns = DnsService(config, pools=pools, names=names, health=tunnels, events=events,
                         store=store, on_learned=name_sets.learned,
                         on_bound=sets.live if carries_zpa else None,
                         cluster=member if name_sets.wanted else None)
        listener = DnsListener(dns, config.service.address.ip)
        await listener.start()
        plane = DataPlaneParts.build(config, dns, tunnels, events, files.state_dir,
                                     files.trust)
        plane.control = control
        plane.dns_up = lambda: listener is not None and listener.up
        sets.counters = plane.counters
        await plane.start()
        if member is not None:
            follower = asyncio.create_task(_follow(member))
        if enrolled is not None:
            uploader = CloudUploader(enrolled[0], enrolled[1], config.dataplane.cloud_upload_s,
                                     plane.workloads, plane.counters)
            events.tap(UPLOADED_KINDS, uploader.tap)
            uploader.start()
        events.emit("service.ready", service="connector", **_summary(config, own),
                    cluster_log=str(files.cluster_log or ""),
                    dns_listener="up" if listener.up else "down")
        await stop.wait()
    finally:
        if follower is not None:
            follower.cancel()
        await control.stop()
        if uploader is not None:
            uploader.stop()
        if plane is not None:
            await plane.stop()
        if listener is not None:
            await listener.stop()
        host.remove_divert_route(DIVERT_MARK)
        host.delete_nft_table("ip", TABLE)
        store.close()
        if log is not None:
            log.close()
        events.emit("service.stopped", service="connector")
        events.close()


async def _follow(member: ClusterMember) -> None:
    """Catch up with the other members' log entries, so the kernel's sets learn of
    their bindings and names even when no flow here asks (routed flows never ask)."""
    while True:
        await asyncio.sleep(FOLLOW_S)
        member.sync()


async def _enroll(config: ConnectorConfig, trust: Path | None, events: EventLog,
                  control: ControlPlane
                  ) -> tuple[ConnectorConfig, tuple[CloudClient, Enrollment] | None]:
    """Enroll with the cloud, if one is configured, and lay its policy over the file's.
    No answer, or a policy that does not validate: the file's config, said by an event."""
    cloud = config.dataplane.cloud
    if cloud is None:
        return config, None
    address = await control.resolve_within(cloud, ENROLL_WAIT_S)
    if address is None:
        events.emit("cloud.enroll_failed", cloud=str(cloud), error="the name did not resolve")
        return config, None
    client = CloudClient(address, config.management.address.ip, TrustFolder(trust),
                         config.identity, name=cloud if isinstance(cloud, str) else None)
    enrollment = await enroll_until(client, ENROLL_WAIT_S, events)
    if enrollment is None:
        return config, None
    if config.source is None:
        events.emit("cloud.policy_rejected", error="no config file to lay the policy over")
        return config, (client, enrollment)
    try:
        merged = overlay_cloud_policy(config.source.read_text(), enrollment.policy,
                                      config.source)
    except (ConfigError, OSError) as exc:
        detail = exc.render() if isinstance(exc, ConfigError) else str(exc)
        events.emit("cloud.policy_rejected", error=detail)
        return config, (client, enrollment)
    events.emit("cloud.policy_applied", app_segments=sorted(merged.policy.app_segments),
                ip_pools=sorted(merged.policy.ip_pools))
    return replace(merged, source=config.source), (client, enrollment)


def restore_state(config: ConnectorConfig, store: StateStore) -> tuple[PoolSet, NameBindings]:
    pools = PoolSet(config.policy.ip_pools)
    for pool, name, addr, last_use in store.bindings():
        if pool in pools.pools:
            pools.pools[pool].bind(name, addr, last_use)
    names = NameBindings()
    now = time.time()
    for addr, name, expires in store.learned(now):
        names.learn_until(addr, name, expires)
    return pools, names


def _summary(config: ConnectorConfig, pools: PoolSet) -> dict[str, object]:
    return {
        "service_address": str(config.service.address.ip),
        "service_interface": config.service.name,
        "management_address": str(config.management.address.ip),
        "forwarding_rules": len(config.policy.forwarding_rules),
        "dns_rules": len(config.policy.dns_rules),
        "restored_bindings": sum(p.stats().bound for p in pools.pools.values()),
    }
