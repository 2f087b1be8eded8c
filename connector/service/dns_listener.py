"""The sockets of the DNS service: UDP and TCP on the diverted port of the service address.

Never on the management interface: the listener binds the service address
only, and the kernel path diverts port 53 from the service interface alone.
`up` is true while both sockets are bound; a bind the kernel refuses (the
port held by another process, the address not there yet) leaves the listener
down, said by a `dns.listener_down` event, and it tries again every
RETRY_S until it is up (`dns.listener_up`). The health verdict reads `up`
(spec §3.5: 200 only while the DNS listener is up).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Coroutine
from ipaddress import IPv4Address
from typing import Any

from connector.core.model import Transport
from connector.io import tproxy
from connector.service.dns_service import DnsService, Query

DIVERT_PORT = 5353
BATCH = 64  # datagrams answered per wake-up before other clients (TCP, timers) get a turn
RETRY_S = 0.5


class DnsListener:
    def __init__(self, service: DnsService, address: IPv4Address, port: int = DIVERT_PORT):
        self.service = service
        self.address, self.port = address, port
        self._udp: socket.socket | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._replies = tproxy.ReplySockets()
        self._retry: asyncio.Task[None] | None = None

    @property
    def up(self) -> bool:
        return self._udp is not None and self._tcp is not None

    async def start(self) -> None:
        """Bind now if the kernel lets us, else keep trying in the background."""
        error = await self._bind()
        if error is not None:
            self.service.events.emit("dns.listener_down", address=str(self.address),
                                     port=self.port, error=error)
            self._retry = asyncio.create_task(self._bind_until_up())

    async def _bind(self) -> str | None:
        """Both sockets bound (None), or why not; never half of them."""
        try:
            udp = tproxy.udp_listener(self.address, self.port)
        except OSError as exc:
            return f"udp: {exc.strerror or exc}"
        try:
            tcp = await asyncio.start_server(self._on_tcp,
                                             sock=tproxy.tcp_listener(self.address, self.port))
        except OSError as exc:
            udp.close()
            return f"tcp: {exc.strerror or exc}"
        asyncio.get_running_loop().add_reader(udp.fileno(), self._on_udp)
        self._udp, self._tcp = udp, tcp
        return None

    async def _bind_until_up(self) -> None:
        while await self._bind() is not None:
            await asyncio.sleep(RETRY_S)
        self.service.events.emit("dns.listener_up", address=str(self.address), port=self.port)

    async def stop(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry
        if self._udp is not None:
            asyncio.get_running_loop().remove_reader(self._udp.fileno())
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for task in list(self._tasks):
            task.cancel()
        self._replies.close()

    def _on_udp(self) -> None:
        """Answer what is waiting; only queries that must be forwarded become tasks. The
        burst's log lines are written (one system call) before its answers leave."""
        assert self._udp is not None
        answers: list[tuple[bytes, Query]] = []
        with self.service.events.batch():
            for _ in range(BATCH):
                got = tproxy.recv_query(self._udp)
                if got is None:
                    break
                query = Query(got[0], got[1], got[2], Transport.UDP)
                answer = self.service.answer_now(query)
                if isinstance(answer, Coroutine):
                    task = asyncio.create_task(self._answer_udp_later(answer, query))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                elif answer is not None:
                    answers.append((answer, query))
        for answer, query in answers:
            self._replies.send(answer, query.original_dst, query.client)

    async def _answer_udp_later(self, answer: Coroutine[Any, Any, bytes | None],
                                query: Query) -> None:
        response = await answer
        if response is not None:
            self._replies.send(response, query.original_dst, query.client)

    async def _on_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = writer.get_extra_info("peername")
        original = writer.get_extra_info("sockname")
        try:
            while True:
                (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 10))
                wire = await reader.readexactly(length)
                response = await self.service.answer(Query(wire, client, original,
                                                           Transport.TCP))
                if response is None:
                    continue  # BLOCK over TCP: no answer either
                writer.write(struct.pack("!H", len(response)) + response)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
