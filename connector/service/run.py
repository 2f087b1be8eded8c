"""`connector run`: load the config, program the kernel path, serve until signalled.

Order matters for the lab: nothing is changed on the host unless the whole
config is valid; `service.ready` is written only once the ruleset is loaded;
on SIGTERM/SIGINT the table is removed before `service.stopped` is written.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from connector.config import ConnectorConfig
from connector.io.events import EventLog
from connector.io.host import ROUTER_SYSCTLS, apply_sysctls, delete_nft_table, load_nft
from connector.io.nft_render import TABLE, render_ruleset


def serve(config: ConnectorConfig, events_path: Path | None) -> None:
    events = EventLog(events_path, config.identity.name)
    stop = _stop_on_signals()
    try:
        apply_sysctls(ROUTER_SYSCTLS)
        load_nft(render_ruleset(config))
        events.emit("service.ready", service="connector", **_summary(config))
        stop.wait()
    finally:
        delete_nft_table("ip", TABLE)
        events.emit("service.stopped", service="connector")
        events.close()


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _summary(config: ConnectorConfig) -> dict[str, object]:
    return {
        "service_address": str(config.service.address.ip),
        "service_interface": config.service.name,
        "management_address": str(config.management.address.ip),
        "forwarding_rules": len(config.policy.forwarding_rules),
        "dns_rules": len(config.policy.dns_rules),
    }
