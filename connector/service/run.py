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
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from connector.config import ConnectorConfig
from connector.config_overlay import overlay_cloud_policy
from connector.core.bindings import NameBindings, names_in
from connector.core.cluster import ClusterMember
from connector.core.pools import PoolSet
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
from connector.service.kernel_sets import KernelSets, follow_cluster
from connector.service.name_sets import NameSetUpdater
from connector.service.parts import ServiceParts, Shared, started

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
    """Everything the service starts or changes on the host is undone in reverse order
    when it stops, whatever stopped it (the exit stack)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with AsyncExitStack() as stack:
            store = StateStore(files.state_dir)
            stack.callback(store.close)
            log = SqliteBindingLog(files.cluster_log) if files.cluster_log else None
            if log is not None:
                stack.callback(log.close)
            control = ControlPlane(config.control, config.management.address.ip, events)
            control.start()
            stack.push_async_callback(control.stop)
            config, enrolled = await _enroll(config, files.trust, events, control)
            shared = _shared_state(config, store, log)
            host.apply_sysctls(host.ROUTER_SYSCTLS)
            host.load_nft(render_ruleset(config))
            stack.callback(host.delete_nft_table, "ip", TABLE)
            host.add_divert_route(DIVERT_MARK)
            stack.callback(host.remove_divert_route, DIVERT_MARK)
            own = _replay(shared)
            tunnels = TunnelHealth(config.policy.zia_gateways, KeepaliveTiming(
                config.dataplane.zia_keepalive_s, config.dataplane.zia_dead_after_s),
                time.monotonic)
            parts = ServiceParts.build(config, shared, tunnels, control, events,
                                       files.state_dir, files.trust)
            for part in parts.in_start_order():
                await stack.enter_async_context(started(part))
            if shared.member is not None:
                follower = asyncio.create_task(_follow(shared.member))
                stack.callback(follower.cancel)
            if enrolled is not None:
                uploader = CloudUploader(enrolled[0], enrolled[1],
                                         config.dataplane.cloud_upload_s, parts.workloads,
                                         parts.counters)
                events.tap(UPLOADED_KINDS, uploader.tap)
                uploader.start()
                stack.callback(uploader.stop)
            events.emit("service.ready", service="connector", **_summary(config, own),
                        cluster_log=str(files.cluster_log or ""),
                        dns_listener="up" if parts.listener.up else "down")
            await stop.wait()
    finally:
        events.emit("service.stopped", service="connector")
        events.close()


def _shared_state(config: ConnectorConfig, store: StateStore,
                  log: SqliteBindingLog | None) -> Shared:
    """The state restored from the store, and the cluster member when there is a log."""
    own, names = restore_state(config, store)
    located = restore_located(config, store)
    name_sets = NameSetUpdater(config)
    carries_zpa = bool(zpa_pools(config))
    sets = KernelSets(Counters())
    member = None
    if log is not None:
        member = ClusterMember(config.identity.name, log, dict(config.policy.ip_pools),
                               names=names if name_sets.wanted else None,
                               on_apply=follow_cluster(sets, name_sets, carries_zpa))
    if member is not None:
        member.located.update(located)
        located = member.located
    return Shared(member or own, names, store, name_sets, sets, member, carries_zpa, located)


def _replay(shared: Shared) -> PoolSet:
    """Once the table is loaded: every binding any member handed out (the log), and the
    kernel's live set filled from them. Returns this connector's pools."""
    own = shared.member.pools if shared.member is not None else shared.pools
    if shared.member is not None:
        shared.member.sync()  # every binding any member handed out, this one's included
    assert isinstance(own, PoolSet)
    if shared.carries_zpa:
        for pool in own.pools.values():
            for addr in pool.bound_addresses():
                shared.sets.live(addr)
    shared.sets.flush()
    return own


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


def restore_located(config: ConnectorConfig, store: StateStore) -> dict[str, NameBindings]:
    """Each configured sub-location's unexpired names, as the store kept them; a location
    the config no longer maps is not brought back."""
    wanted = set(dict(config.dataplane.geneve_locations).values())
    located: dict[str, NameBindings] = {}
    for location, addr, name, expires in store.located(time.time()):
        if location in wanted:
            names_in(located, location).learn_until(addr, name, expires)
    return located


def _summary(config: ConnectorConfig, pools: PoolSet) -> dict[str, object]:
    return {
        "service_address": str(config.service.address.ip),
        "service_interface": config.service.name,
        "management_address": str(config.management.address.ip),
        "forwarding_rules": len(config.policy.forwarding_rules),
        "dns_rules": len(config.policy.dns_rules),
        "restored_bindings": sum(p.stats().bound for p in pools.pools.values()),
    }
