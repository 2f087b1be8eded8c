"""ECZPA flows, carried: the workload's TCP connection, spliced into a TLS stream to a broker.

The kernel path hands every TCP connection to a synthetic address (arriving on
the service interface, or over GENEVE through the TUN) to this listener with
`tproxy`, so the connection is accepted *as* the synthetic address. The
listener asks the forwarding core again (a stray or expired synthetic address
is refused by reset, never forwarded), finds the app name the address stands
for, dials the configured brokers in order (TLS 443 from the service address,
server certificate checked against the trust folder), sends the stream request
and, once the broker says the app was reached, copies bytes both ways. The
binding is held while the connection lives (§6.6: in use, never re-handed).

Events: `zpa.stream` per connection (client, synthetic address, app, port, and
the broker's answer: app connector and true address, or the refusal).

Health (spec §3.5: "ZPA broker reachable if ZPA rules exist"): the brokers are
pinged over TLS (a `ping` line answered by `ok`), every `runtime.zpa_probe_s`
(default 5 s) while one answers and every PROBE_DOWN_S (or `zpa_probe_s`, if
shorter) while none does; `reachable` feeds the verdict and each change is a
`zpa.brokers_up` / `zpa.brokers_down` event.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from ipaddress import IPv4Address

from connector.core.bindings import NamesView
from connector.core.model import FlowKey, IpProto, Method
from connector.core.segments import SegmentIndex
from connector.io import tproxy
from connector.io.events import EventLog
from connector.io.trust import TrustFolder
from connector.io.zpa_frame import (
    BROKER_PORT,
    MAX_LINE,
    PING_LINE,
    StreamAccepted,
    StreamRefused,
    StreamRequest,
    is_pong,
    parse_answer,
)
from connector.service.counters import Counters
from connector.service.dns_service import DnsService

ZPA_DIVERT_PORT = 5380
DIAL_TIMEOUT_S = 3.0
ANSWER_TIMEOUT_S = 6.0
PROBE_DOWN_S = 1.0
PING_TIMEOUT_S = 2.0
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def next_probe_in(answered: bool, probe_s: float) -> float:
    """Seconds to the next ping: `probe_s` while a broker answers, else PROBE_DOWN_S (or
    `probe_s` if shorter), so that a broker coming back is seen within a second."""
    return probe_s if answered else min(probe_s, PROBE_DOWN_S)


class ZpaProxy:
    def __init__(self, dns: DnsService, brokers: tuple[IPv4Address, ...], trust: TrustFolder,
                 service_ip: IPv4Address, *, connector: str, events: EventLog,
                 counters: Counters, probe_s: float) -> None:
        self.dns, self.brokers, self.trust = dns, brokers, trust
        self.probe_s = probe_s
        self.service_ip, self.connector = service_ip, connector
        self.events, self.counters = events, counters
        self.segments = SegmentIndex(dns.config.policy.app_segments)
        self._server: asyncio.Server | None = None
        self._prober: asyncio.Task[None] | None = None
        self.reachable = False  # a broker answered the last ping (or carried the last dial)

    async def start(self) -> None:
        sock = tproxy.tcp_listener(self.service_ip, ZPA_DIVERT_PORT)
        self._server = await asyncio.start_server(self._on_connection, sock=sock)
        self._prober = asyncio.create_task(self._probe_brokers())

    async def stop(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
        if self._server is not None:
            self._server.close()

    async def _probe_brokers(self) -> None:
        while True:
            answered = False
            for broker in self.brokers:
                if await self._ping(broker):
                    answered = True
                    break
            self._set_reachable(answered)
            await asyncio.sleep(next_probe_in(answered, self.probe_s))

    async def _ping(self, broker: IPv4Address) -> bool:
        context = self.trust.context()
        if context is None:
            return False
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                str(broker), BROKER_PORT, ssl=context, local_addr=(str(self.service_ip), 0)),
                DIAL_TIMEOUT_S)
        except (OSError, ssl.SSLError, TimeoutError):
            return False
        try:
            writer.write(PING_LINE)
            line = await asyncio.wait_for(reader.readuntil(b"\n"), PING_TIMEOUT_S)
            return is_pong(line)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                TimeoutError):
            return False
        finally:
            writer.close()

    def _set_reachable(self, reachable: bool) -> None:
        if reachable != self.reachable:
            self.events.emit("zpa.brokers_up" if reachable else "zpa.brokers_down",
                             brokers=[str(b) for b in self.brokers])
        self.reachable = reachable

    async def _on_connection(self, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        client, cport = writer.get_extra_info("peername")[:2]
        synthetic, dport = writer.get_extra_info("sockname")[:2]
        request = self._request(IPv4Address(client), cport, IPv4Address(synthetic), dport)
        if request is None:
            _reset(writer)
            return
        now = time.time()
        self.dns.pools.flow_started(request.synthetic, now)
        try:
            await self._carry(request, (reader, writer))
        finally:
            self.dns.pools.flow_ended(request.synthetic, time.time())
            writer.close()

    def _request(self, client: IPv4Address, cport: int, synthetic: IPv4Address,
                 dport: int) -> StreamRequest | None:
        key = FlowKey(IpProto.TCP, client, synthetic, cport, dport)
        names = NamesView(self.dns.names, self.dns.pools)
        decision = self.dns.forwarding.decide(key, names, self.dns.pools, self.dns.health)
        if decision.method is not Method.ZPA:
            self.counters.add(f"zpa_refused_{decision.method.name.lower()}")
            self.events.emit("zpa.stream", result="refused", client=str(client),
                             synthetic=str(synthetic), port=dport, reason=decision.reason,
                             rule=decision.rule_name)
            return None
        for name in sorted(names.names_for(synthetic)):
            segment = self.segments.segment_for(name)
            if segment is not None:
                return StreamRequest(self.connector, client, synthetic, name, segment, dport)
        self.counters.add("zpa_refused_no_segment")
        return None

    async def _carry(self, request: StreamRequest, user: Stream) -> None:
        answer: StreamAccepted | StreamRefused = StreamRefused("no ZPA broker configured")
        for broker in self.brokers:
            answer, tunnel = await self._dial(broker, request)
            if tunnel is not None:
                break
        fields = {"client": str(request.client), "synthetic": str(request.synthetic),
                  "app": request.app, "segment": request.segment, "port": request.port}
        if isinstance(answer, StreamRefused) or tunnel is None:
            self.counters.add("zpa_streams_refused")
            self.events.emit("zpa.stream", result="refused", reason=getattr(answer, "reason", ""),
                             **fields)
            _reset(user[1])
            return
        self.counters.add("zpa_streams")
        self.events.emit("zpa.stream", result="connected", broker=str(broker),
                         app_connector=answer.app_connector, address=answer.address, **fields)
        up, down = await _splice(user, tunnel)
        self.counters.add("zpa_bytes_up", up)
        self.counters.add("zpa_bytes_down", down)

    async def _dial(self, broker: IPv4Address, request: StreamRequest
                    ) -> tuple[StreamAccepted | StreamRefused, Stream | None]:
        context = self.trust.context()
        if context is None:
            return StreamRefused("no trusted broker certificate"), None
        try:
            tunnel = await asyncio.wait_for(asyncio.open_connection(
                str(broker), BROKER_PORT, ssl=context, local_addr=(str(self.service_ip), 0)),
                DIAL_TIMEOUT_S)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            self.counters.add("zpa_broker_unreachable")
            return StreamRefused(f"broker {broker}: {exc or 'timeout'}"), None
        tunnel[1].write(request.to_line())
        try:
            line = await asyncio.wait_for(tunnel[0].readuntil(b"\n"), ANSWER_TIMEOUT_S)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                TimeoutError):
            tunnel[1].close()
            return StreamRefused(f"broker {broker} did not answer"), None
        answer = parse_answer(line[:MAX_LINE + 1])
        if isinstance(answer, StreamRefused):
            tunnel[1].close()
            return answer, None
        return answer, tunnel


async def _splice(user: Stream, tunnel: Stream) -> tuple[int, int]:
    """Both ways until both ends are done: a TCP end is a half-close, a TLS end a close."""
    return tuple(await asyncio.gather(_pump(user[0], tunnel[1]),  # type: ignore[return-value]
                                      _pump(tunnel[0], user[1])))


async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> int:
    moved = 0
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
            moved += len(data)
    except (OSError, asyncio.IncompleteReadError):
        pass
    try:
        if dst.can_write_eof():
            dst.write_eof()
        else:
            dst.close()
    except OSError:
        pass
    return moved


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0): the workload learns at once that nothing is there."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.close()
