"""The fake ZPA broker: meets connectors' user streams and app connectors' app streams.

Listens with TLS on port 443 (its certificate made at start, published in the
lab's trust folder, see `tls_files`). App connectors dial in and register the
domains they serve; a cloud connector dials in per user TCP connection naming
the app and port; the broker asks the app connector that serves the name to
reach the app, and splices the two streams once it has (protocol: `zpa_wire`).
Neither side ever needs an inbound path: that is the point of ZPA.

Events: `zpa.registered` / `zpa.unregistered` (app connectors), `zpa.stream`
(one per user stream: connector, client, app, port, app connector, its site
and the true app address it reached, or why none was), `zpa.rejected` (a
hello that is not one).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any

from lab.events import EventWriter
from lab.nodes.async_node import run_async_node
from lab.nodes.base import node_arguments
from lab.nodes.tls_files import make_server_certificate
from lab.nodes.zpa_wire import FrameError, frame_bytes, read_frame, splice

PORT = 443
APP_TIMEOUT_S = 5.0
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass(frozen=True, slots=True)
class AppSide:
    """An app connector's answer for one stream, its data connection, and a 'spliced' flag."""

    answer: dict[str, Any]
    stream: Stream
    finished: asyncio.Event


@dataclass(slots=True)
class AppConnector:
    name: str
    site: str
    domains: tuple[str, ...]
    control: asyncio.StreamWriter


def serves(pattern: str, app: str) -> int:
    """How specifically `pattern` names `app`: 0 not at all, exact names beat wildcards."""
    pattern, app = pattern.lower().rstrip("."), app.lower().rstrip(".")
    if pattern == app:
        return 1000
    if pattern.startswith("*.") and app.endswith(pattern[1:]):
        return len(pattern)
    return 0


def choose(app: str, connectors: list[AppConnector]) -> AppConnector | None:
    """The registered app connector naming `app` most specifically (first registered on ties)."""
    best, best_score = None, 0
    for candidate in connectors:
        score = max((serves(p, app) for p in candidate.domains), default=0)
        if score > best_score:
            best, best_score = candidate, score
    return best


@dataclass
class Broker:
    events: EventWriter
    connectors: list[AppConnector] = field(default_factory=list)
    pending: dict[str, asyncio.Future[AppSide]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def on_connection(self, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("?", 0)
        try:
            hello = await read_frame(reader)
            role = hello.get("role")
            if role == "user":
                await self._user(hello, (reader, writer), peer[0])
            elif role == "app-connector":
                await self._app_connector(hello, (reader, writer), peer[0])
            elif role == "data":
                await self._data(hello, (reader, writer))
            elif role == "ping":  # a connector checking the broker answers (its health)
                writer.write(frame_bytes({"ok": True, "role": "pong"}))
                await writer.drain()
            else:
                raise FrameError(f"unknown role {role!r}")
        except FrameError as exc:
            self.events.emit("zpa.rejected", src=peer[0], reason=str(exc))
        except OSError:
            pass
        finally:
            writer.close()

    async def _app_connector(self, hello: dict[str, Any], stream: Stream, src: str) -> None:
        me = AppConnector(str(hello.get("name", src)), str(hello.get("site", "")),
                          tuple(str(d) for d in hello.get("domains", [])), stream[1])
        self.connectors.append(me)
        self.events.emit("zpa.registered", app_connector=me.name, site=me.site,
                         domains=list(me.domains), src=src)
        stream[1].write(frame_bytes({"ok": True}))
        try:
            await stream[0].read()  # until it goes away
        finally:
            self.connectors.remove(me)
            self.events.emit("zpa.unregistered", app_connector=me.name)

    async def _user(self, hello: dict[str, Any], user: Stream, src: str) -> None:
        app, port = str(hello.get("app", "")), int(hello.get("port", 0))
        seen = {"connector": hello.get("connector"), "client": hello.get("client"),
                "synthetic": hello.get("synthetic"), "app": app, "port": port, "src": src}
        target = choose(app, self.connectors)
        if target is None:
            await self._refuse(user[1], seen, "no app connector serves this app")
            return
        stream_id = f"s{next(self.ids)}"
        waiting = asyncio.get_running_loop().create_future()
        self.pending[stream_id] = waiting
        target.control.write(frame_bytes({"open": stream_id, "app": app, "port": port}))
        try:
            side = await asyncio.wait_for(waiting, APP_TIMEOUT_S)
        except TimeoutError:
            await self._refuse(user[1], seen, "app connector did not answer", target)
            return
        finally:
            self.pending.pop(stream_id, None)
        try:
            await self._connect(stream_id, seen, target, user, side)
        finally:
            side.finished.set()

    async def _connect(self, stream_id: str, seen: dict[str, Any], target: AppConnector,
                       user: Stream, side: AppSide) -> None:
        answer, data = side.answer, side.stream
        if not answer.get("ok"):
            await self._refuse(user[1], seen, str(answer.get("error", "app unreachable")), target)
            return
        address = str(answer.get("address"))
        user[1].write(frame_bytes({"ok": True, "stream": stream_id, "address": address,
                                   "app_connector": target.name, "site": target.site}))
        self.events.emit("zpa.stream", result="connected", stream=stream_id,
                         app_connector=target.name, site=target.site, address=address, **seen)
        up, down = await splice(user, data)
        self.events.emit("zpa.stream_end", stream=stream_id, bytes_up=up, bytes_down=down)

    async def _data(self, hello: dict[str, Any], data: Stream) -> None:
        waiting = self.pending.get(str(hello.get("stream")))
        if waiting is None or waiting.done():
            raise FrameError(f"no stream {hello.get('stream')!r} is waiting")
        side = AppSide(hello, data, asyncio.Event())
        waiting.set_result(side)
        await side.finished.wait()  # the user's handler splices it; closing is ours after

    async def _refuse(self, writer: asyncio.StreamWriter, seen: dict[str, Any], why: str,
                      target: AppConnector | None = None) -> None:
        writer.write(frame_bytes({"ok": False, "error": why}))
        self.events.emit("zpa.stream", result="refused", reason=why,
                         app_connector=target.name if target else None, **seen)
        await writer.drain()


async def start(args: Any, events: EventWriter) -> asyncio.Server:
    context = make_server_certificate(args.trust, args.name, [IPv4Address(args.listen)])
    broker = Broker(events)
    return await asyncio.start_server(broker.on_connection, args.listen, PORT, ssl=context)


def main() -> None:
    parser = node_arguments("cclab fake ZPA broker", tls=True)
    parser.add_argument("--listen", required=True, help="the broker's address")
    parser.add_argument("--name", default="broker.zpa.example", help="its certificate's name")
    run_async_node(parser, "zpa-broker", start)


if __name__ == "__main__":
    main()
