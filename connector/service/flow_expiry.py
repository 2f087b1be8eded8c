"""Forgetting idle flows: the flow table's timeouts, applied on a timer, on every
connector.

The table is shared by the GENEVE and the routed data planes; each flow leaves it
when its timeout (connector/core/flows.py) passed since its last packet. What a
kernel fast path carried is folded in first (a flow it carries is not idle), and
again after, so that the flows just expired leave the kernel in the same step.
A routed-only connector (no GENEVE) expires its flows too: before, only the GENEVE
data plane ran this timer, so a routed connector kept every flow it ever saw
(docs/decisions.md, "Every connector forgets idle flows").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from connector.core.steering import Steering

EXPIRE_EVERY_S = 5.0


class FlowExpiry:
    def __init__(self, steering: Steering, folds: Sequence[Callable[[], None]] = (), *,
                 every_s: float = EXPIRE_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.steering = steering
        self.folds = folds  # what each fast path carried, into the table
        self.every_s = every_s
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def once(self) -> int:
        """One round: how many flows left the table."""
        self._fold()
        gone = self.steering.expire(self.clock())
        self._fold()
        return gone

    def _fold(self) -> None:
        for fold in self.folds:
            fold()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            self.once()
