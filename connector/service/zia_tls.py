"""The ZIA tunnel over TLS: the same frames, 2-byte length first, on TCP 443 to a gateway.

Used when the config asks for it (`zia_transport: tls`) and as the fallback of
the UDP tunnel (`auto`, the default: UDP while its keepalives are answered, TLS
while they are not; spec §5.4). One link per gateway address, dialled from the
service address, the gateway's certificate checked against the trust folder.
A link that breaks is dialled again every second; frames for a link that is
down are counted, never queued. Each change of a link's state (up, down) is
reported to `on_state`, which the tunnel writes as a `zia.tls_link` event.
"""

from __future__ import annotations

import asyncio
import ssl
import struct
from collections.abc import Callable
from ipaddress import IPv4Address

from connector.io.trust import TrustFolder
from connector.service.counters import Counters

ZIA_TLS_PORT = 443
REDIAL_S = 1.0
_LENGTH = struct.Struct("!H")


class TlsLink:
    def __init__(self, address: IPv4Address, source: IPv4Address, trust: TrustFolder, *,
                 on_frame: Callable[[bytes, IPv4Address], None], counters: Counters,
                 on_state: Callable[[IPv4Address, bool], None] | None = None) -> None:
        self.address, self.source, self.trust = address, source, trust
        self.on_frame, self.counters, self.on_state = on_frame, counters, on_state
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._writer is not None:
            self._writer.close()

    @property
    def connected(self) -> bool:
        return self._writer is not None

    def send(self, frame: bytes) -> bool:
        if self._writer is None or len(frame) > 0xFFFF:
            self.counters.add("zia_tls_tx_dropped")
            return False
        self._writer.write(_LENGTH.pack(len(frame)) + frame)
        return True

    async def _run(self) -> None:
        while True:
            try:
                await self._session()
            except (OSError, ssl.SSLError, asyncio.IncompleteReadError, TimeoutError):
                self.counters.add("zia_tls_link_errors")
            self._set_writer(None)
            await asyncio.sleep(REDIAL_S)

    def _set_writer(self, writer: asyncio.StreamWriter | None) -> None:
        was_up, self._writer = self._writer is not None, writer
        if was_up != (writer is not None) and self.on_state is not None:
            self.on_state(self.address, writer is not None)

    async def _session(self) -> None:
        context = self.trust.context()
        if context is None:
            raise OSError("no trusted ZIA gateway certificate")
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            str(self.address), ZIA_TLS_PORT, ssl=context,
            local_addr=(str(self.source), 0)), 3.0)
        self._set_writer(writer)
        try:
            while True:
                (size,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
                self.on_frame(await reader.readexactly(size), self.address)
        finally:
            writer.close()
