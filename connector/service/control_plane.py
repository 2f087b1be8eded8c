"""Names and time for the connector itself, asked over the management interface.

Spec §1.1: control-plane DNS and NTP leave by the management interface, from
the management address (the data-plane resolver and the workloads' DNS are the
service side's). Names the connector needs (the cloud it enrolls with, its NTP
servers) are resolved through `management_dns` alone, never the host's
resolver; a name that does not resolve is an event, not a crash. Time: every
`ntp_poll_s` each NTP server is asked once (SNTP); the offset is logged and
exported as a metric, and the clock is left alone (see connector/io/sntp.py).
"""

from __future__ import annotations

import asyncio
import socket
import time
from ipaddress import IPv4Address

import dns.message

from connector.config import ControlPlaneConfig
from connector.io import dns_wire, sntp, upstream
from connector.io.events import EventLog
from connector.service.counters import Counters

Host = IPv4Address | str
NTP_TIMEOUT_S = 2.0
DNS_TIMEOUT_S = 1.0  # per server and attempt; the lab's resolver answers in milliseconds
RETRY_S = 0.25


class ControlPlane:
    def __init__(self, config: ControlPlaneConfig, source: IPv4Address,
                 events: EventLog) -> None:
        self.config, self.source, self.events = config, source, events
        self.counters = Counters()
        self.offset_s: float | None = None  # the last good NTP sample's offset
        self._task: asyncio.Task[None] | None = None

    async def resolve(self, host: Host) -> IPv4Address | None:
        """The address of `host`: itself when it is one, else its A record."""
        if isinstance(host, IPv4Address):
            return host
        query = dns.message.make_query(host, "A").to_wire()
        for server in self.config.dns_servers:
            self.counters.add("control_dns_queries")
            try:
                answer = await upstream.query(query, server, self.source,
                                              timeout_s=DNS_TIMEOUT_S)
            except upstream.UpstreamTimeout:
                self.counters.add("control_dns_timeouts")
                continue
            found = [addr for _name, addr, _ttl in dns_wire.a_records(answer)]
            self.events.emit("control.dns", name=host, server=str(server),
                             addresses=[str(a) for a in found])
            if found:
                return found[0]
        self.counters.add("control_dns_failures")
        self.events.emit("control.dns_failed", name=host,
                         servers=[str(s) for s in self.config.dns_servers])
        return None

    async def resolve_within(self, host: Host, seconds: float) -> IPv4Address | None:
        """`resolve`, tried again for `seconds` (the resolver may start after us)."""
        deadline = time.monotonic() + seconds
        while (address := await self.resolve(host)) is None and time.monotonic() < deadline:
            await asyncio.sleep(RETRY_S)
        return address

    def start(self) -> None:
        if self.config.ntp_servers:
            self._task = asyncio.create_task(self._watch_time())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _watch_time(self) -> None:
        while True:
            for host in self.config.ntp_servers:
                await self.sample(host)
            await asyncio.sleep(self.config.ntp_poll_s)

    async def sample(self, host: Host) -> sntp.Sample | None:
        address = await self.resolve(host)
        if address is None:
            return None
        self.counters.add("ntp_requests")
        got = await _ask_ntp(address, self.source)
        if not isinstance(got, sntp.Sample):
            reason = got.reason if got is not None else "timeout"
            self.counters.add(f"ntp_rejected_{reason}")
            self.events.emit("ntp.failed", server=str(host), address=str(address), reason=reason)
            return None
        self.offset_s = got.offset_s
        self.counters.add("ntp_samples")
        self.events.emit("ntp.sample", server=str(host), address=str(address),
                         offset_s=round(got.offset_s, 6), delay_s=round(got.delay_s, 6),
                         stratum=got.stratum)
        return got


async def _ask_ntp(server: IPv4Address, source: IPv4Address
                   ) -> sntp.Sample | sntp.SntpReject | None:
    """One SNTP exchange from `source`; None when nothing valid came back in time."""
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.bind((str(source), 0))
        sent = sntp.request(time.time())
        try:
            await loop.sock_sendto(sock, sent, (str(server), sntp.NTP_PORT))
            async with asyncio.timeout(NTP_TIMEOUT_S):
                while True:
                    data, peer = await loop.sock_recvfrom(sock, 512)
                    if peer[0] == str(server):
                        return sntp.read_reply(data, sent, time.time())
        except (TimeoutError, OSError):
            return None
