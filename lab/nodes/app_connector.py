"""The fake ZPA app connector: sits in a private site, dials out to the broker, reaches apps.

It registers with the broker over TLS (`zpa_wire`) naming the domains it serves
and its site, keeps that connection open, and for each `open` the broker sends
it connects to the app (the address its own site gives the name: `--apps
name=address,...`) and dials a data connection back to the broker carrying the
result. It never accepts a connection: a private site needs no inbound path.

Ready once registered. If the broker goes away it registers again (every 0.5 s).
Events: `zpa.registered`, `zpa.broker_lost`, `zpa.app_connect` (app, port, the
address reached or the error).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.events import EventWriter
from lab.nodes.async_node import run_async_node
from lab.nodes.base import node_arguments
from lab.nodes.tls_files import client_context
from lab.nodes.zpa_broker import PORT
from lab.nodes.zpa_wire import FrameError, frame_bytes, read_frame, splice

APP_CONNECT_TIMEOUT_S = 3.0
RETRY_S = 0.5


def parse_apps(text: str) -> dict[str, str]:
    """`name=address,...` -> {name: address}."""
    apps = {}
    for item in filter(None, (i.strip() for i in text.split(","))):
        name, _, address = item.partition("=")
        if not address:
            raise ValueError(f"--apps item {item!r} is not name=address")
        apps[name.strip().lower()] = address.strip()
    return apps


@dataclass
class AppConnector:
    name: str
    site: str
    broker: str
    apps: dict[str, str]
    trust: Path
    events: EventWriter
    registered: asyncio.Event
    port: int = PORT
    streams: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self) -> None:
        reported = False
        while True:
            try:
                await self._session()
            except (OSError, ssl.SSLError, FrameError, TimeoutError) as exc:
                if self.registered.is_set() and not reported:  # lost, not merely not yet
                    self.events.emit("zpa.broker_lost", broker=self.broker, error=str(exc))
                    reported = True
            await asyncio.sleep(RETRY_S)

    async def _dial(self, hello: dict[str, Any]) -> tuple[asyncio.StreamReader,
                                                           asyncio.StreamWriter]:
        context = client_context(self.trust)
        if context is None:
            raise OSError("the broker has not published its certificate yet")
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.broker, self.port, ssl=context), APP_CONNECT_TIMEOUT_S)
        writer.write(frame_bytes(hello))
        return reader, writer

    async def _session(self) -> None:
        reader, writer = await self._dial({"role": "app-connector", "name": self.name,
                                           "site": self.site, "domains": sorted(self.apps)})
        try:
            answer = await read_frame(reader)
            if not answer.get("ok"):
                raise FrameError(f"broker refused registration: {answer}")
            self.events.emit("zpa.registered", broker=self.broker, domains=sorted(self.apps))
            self.registered.set()
            while True:
                order = await read_frame(reader, timeout=86400)
                task = asyncio.ensure_future(self._open(order))
                self.streams.add(task)  # held until done: the loop keeps only weak references
                task.add_done_callback(self.streams.discard)
        finally:
            writer.close()

    async def _open(self, order: dict[str, Any]) -> None:
        app, port = str(order.get("app", "")).lower(), int(order.get("port", 0))
        address = self.apps.get(app)
        result: dict[str, Any] = {"role": "data", "stream": order.get("open")}
        app_stream = None
        if address is None:
            result |= {"ok": False, "error": f"{app} is not served here"}
        else:
            try:
                app_stream = await asyncio.wait_for(asyncio.open_connection(address, port),
                                                    APP_CONNECT_TIMEOUT_S)
                result |= {"ok": True, "address": address}
            except (OSError, TimeoutError) as exc:
                result |= {"ok": False, "error": f"{address}:{port}: {exc or 'timeout'}"}
        self.events.emit("zpa.app_connect", app=app, port=port, stream=result["stream"],
                         address=address, ok=result["ok"], error=result.get("error"))
        try:
            broker_stream = await self._dial(result)
        except (OSError, TimeoutError):
            if app_stream is not None:
                app_stream[1].close()
            return
        if app_stream is None:
            broker_stream[1].close()
            return
        await splice(broker_stream, app_stream)


async def start(args: Any, events: EventWriter) -> asyncio.Task[None]:
    me = AppConnector(args.node, args.site, args.broker, parse_apps(args.apps),
                      args.trust, events, asyncio.Event())
    task = asyncio.ensure_future(me.run())
    await me.registered.wait()  # ready means the broker knows us
    return task


def main() -> None:
    parser = node_arguments("cclab fake ZPA app connector", tls=True)
    parser.add_argument("--broker", required=True, help="the broker's address")
    parser.add_argument("--site", required=True, help="the private network it serves")
    parser.add_argument("--apps", required=True, help="name=address,... in its site")
    run_async_node(parser, "app-connector", start)


if __name__ == "__main__":
    main()
