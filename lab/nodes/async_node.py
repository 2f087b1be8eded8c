"""What the asyncio nodes (the ZPA broker, the app connector) share: run until signalled.

Apart from `lab.nodes.base`, so that the threaded nodes, most of a lab, do not import
asyncio (0.05 s of CPU at each start, some fifteen in a lab).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable, Callable

from lab.events import EventWriter


def run_async_node(parser: argparse.ArgumentParser, service: str,
                   start: Callable[[argparse.Namespace, EventWriter], Awaitable[object]]) -> None:
    """Parse the node's arguments and run an asyncio service until signalled."""
    args = parser.parse_args()
    events = EventWriter(args.events, args.node)
    asyncio.run(serve_async(events, service, lambda: start(args, events)))


async def serve_async(events: EventWriter, service: str,
                      start: Callable[[], Awaitable[object]]) -> None:
    """The asyncio twin of `serve_until_signalled`: `start` must return once the service
    listens (it may return something with `close()`); ready is announced after that."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started = await start()
    events.emit("service.ready", service=service)
    await stop.wait()
    close = getattr(started, "close", None)
    if close is not None:
        close()
    events.emit("service.stopped", service=service)
    events.close()
