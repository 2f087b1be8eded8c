"""The sockets of the DNS service: UDP and TCP on the diverted port of the service address.

Never on the management interface: the listener binds the service address
only, and the kernel path diverts port 53 from the service interface alone.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from ipaddress import IPv4Address

from connector.core.model import Transport
from connector.io import tproxy
from connector.service.dns_service import DnsService, Query

DIVERT_PORT = 5353


class DnsListener:
    def __init__(self, service: DnsService, address: IPv4Address, port: int = DIVERT_PORT):
        self.service = service
        self.address, self.port = address, port
        self._udp: socket.socket | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._udp = tproxy.udp_listener(self.address, self.port)
        loop.add_reader(self._udp.fileno(), self._on_udp)
        self._tcp = await asyncio.start_server(self._on_tcp,
                                               sock=tproxy.tcp_listener(self.address, self.port))

    async def stop(self) -> None:
        if self._udp is not None:
            asyncio.get_running_loop().remove_reader(self._udp.fileno())
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for task in list(self._tasks):
            task.cancel()

    def _on_udp(self) -> None:
        assert self._udp is not None
        while (got := tproxy.recv_query(self._udp)) is not None:
            data, client, original = got
            task = asyncio.create_task(self._answer_udp(Query(data, client, original,
                                                              Transport.UDP)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer_udp(self, query: Query) -> None:
        response = await self.service.answer(query)
        if response is not None:
            tproxy.send_as(response, query.original_dst, query.client)

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
