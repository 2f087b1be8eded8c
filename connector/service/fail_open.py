"""Fail-open for routed flows: while a fail-open ZIA gateway has no usable tunnel, the
kernel sends its new flows Direct (spec §5.4, check F4).

In routed mode the kernel's `steer` chain sends a flow decided ZIA through its
gateway's chain `gw_N`. Normally that chain hands the flow to user space (the
tunnel). For a gateway with `fail_closed: false`, this watcher rewrites the
chain to mark the flow Direct (accepted, SNAT to the service address) while no
tunnel of the gateway is usable, and back when one is. A fail-close gateway's
chain never changes: user space drops and logs its flows (fail-close).
GENEVE flows need none of this: the core decides them in user space.
"""

from __future__ import annotations

import asyncio
import contextlib

from connector.config import ConnectorConfig
from connector.core.tunnel_health import TunnelHealth
from connector.errors import ServiceError
from connector.io import host
from connector.io.events import EventLog
from connector.io.nft_render import gateway_chain_names, gateway_chain_update
from connector.service.counters import Counters

WATCH_S = 0.25


class FailOpenSwitch:
    def __init__(self, config: ConnectorConfig, tunnels: TunnelHealth, *, events: EventLog,
                 counters: Counters) -> None:
        policy = config.policy
        self.watched = [(i, name) for i, name in enumerate(gateway_chain_names(config))
                        if not policy.zia_gateway(name).fail_closed]
        self.tunnels, self.events, self.counters = tunnels, events, counters
        self._direct: dict[str, bool] = {name: False for _, name in self.watched}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.watched:
            self._task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        while True:
            self.check()
            await asyncio.sleep(WATCH_S)

    def check(self) -> None:
        for index, name in self.watched:
            direct = not self.tunnels.is_usable(name)
            if direct == self._direct[name]:
                continue
            try:
                host.nft_apply(gateway_chain_update(index, name, direct))
            except ServiceError:
                self.counters.add("fail_open_switch_errors")
                continue
            self._direct[name] = direct
            self.events.emit("zia.fail_open", gateway=name, direct=direct)
