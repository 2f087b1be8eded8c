"""The fake ZPA broker and app connector, and the connector's side of their protocol.

Real TLS on loopback (certificates made by openssl, as in the lab), real
sockets, the connector's own frame code (`connector.io.zpa_frame`) as the user
side, so the two implementations of the protocol are checked against each other.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from connector.io.trust import TrustFolder
from connector.io.zpa_frame import StreamAccepted, StreamRefused, StreamRequest, parse_answer
from lab.events import EventWriter, read_events
from lab.nodes.app_connector import AppConnector, parse_apps
from lab.nodes.tls_files import make_server_certificate
from lab.nodes.zpa_broker import AppConnector as Registered
from lab.nodes.zpa_broker import Broker

pytestmark = pytest.mark.unit
LOOPBACK = "127.0.0.1"


def test_exact_names_beat_wildcards_and_unknown_names_get_nobody() -> None:
    from lab.nodes.zpa_broker import choose

    wild = Registered("wild", "dc-w", ("*.corp.example",), None)  # type: ignore[arg-type]
    exact = Registered("exact", "dc-e", ("app-a.corp.example",), None)  # type: ignore[arg-type]
    assert choose("APP-A.corp.example.", [wild, exact]) is exact
    assert choose("other.corp.example", [wild, exact]) is wild
    assert choose("corp.example", [wild, exact]) is None


def test_apps_option_names_each_app_once() -> None:
    assert parse_apps("a.example=192.0.2.10, B.example=192.0.2.11") == {
        "a.example": "192.0.2.10", "b.example": "192.0.2.11"}
    with pytest.raises(ValueError, match="not name=address"):
        parse_apps("a.example")


@dataclass
class Cloud:
    broker_port: int
    app_port: int
    trust: Path
    events: Path


async def _upper_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write((await reader.read(100)).upper())
    await writer.drain()
    writer.close()


@asynccontextmanager
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    trust, events_path = tmp_path / "pki", tmp_path / "zpa.jsonl"
    events = EventWriter(events_path, "zpa")
    context = make_server_certificate(trust, "broker.zpa.example", [IPv4Address(LOOPBACK)])
    broker = await asyncio.start_server(Broker(events).on_connection, LOOPBACK, 0, ssl=context)
    app = await asyncio.start_server(_upper_echo, LOOPBACK, 0)
    app_port = app.sockets[0].getsockname()[1]
    ac = AppConnector("ac-a", "dc-a", LOOPBACK, {"app-a.corp.example": LOOPBACK}, trust,
                      EventWriter(tmp_path / "ac-a.jsonl", "ac-a"), asyncio.Event(),
                      port=broker.sockets[0].getsockname()[1])
    task = asyncio.ensure_future(ac.run())
    await asyncio.wait_for(ac.registered.wait(), 10)
    try:
        yield Cloud(broker.sockets[0].getsockname()[1], app_port, trust, events_path)
    finally:
        task.cancel()
        broker.close()
        app.close()


async def _ask(lab: Cloud, app: str, port: int, payload: bytes = b"ping"
               ) -> tuple[StreamAccepted | StreamRefused, bytes]:
    context = TrustFolder(lab.trust).context()
    assert context is not None
    reader, writer = await asyncio.open_connection(LOOPBACK, lab.broker_port, ssl=context)
    writer.write(StreamRequest("cc1", IPv4Address("10.10.1.11"), IPv4Address("10.254.0.1"),
                               app, "app-a", port).to_line())
    answer = parse_answer(await reader.readuntil(b"\n"))
    data = b""
    if isinstance(answer, StreamAccepted):
        writer.write(payload)
        data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer, data


def _run(tmp_path: Path, body: Callable[[Cloud], Awaitable[None]]) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl (apt-get install openssl)")

    async def main() -> None:
        async with cloud(tmp_path) as lab:
            await body(lab)

    asyncio.run(main())


def test_user_stream_reaches_the_app_through_its_app_connector(tmp_path: Path) -> None:
    async def body(lab: Cloud) -> None:
        answer, data = await _ask(lab, "app-a.corp.example", lab.app_port)
        assert answer == StreamAccepted("ac-a", LOOPBACK, "s1")
        assert data == b"PING"
        streams = read_events(lab.events, "zpa.stream")
        assert [(e["result"], e["app_connector"], e["site"], e["address"], e["synthetic"])
                for e in streams] == [("connected", "ac-a", "dc-a", LOOPBACK, "10.254.0.1")]

    _run(tmp_path, body)


def test_unknown_app_and_unreachable_app_are_refused_with_a_reason(tmp_path: Path) -> None:
    async def body(lab: Cloud) -> None:
        nobody, _ = await _ask(lab, "app-z.corp.example", lab.app_port)
        assert nobody == StreamRefused("no app connector serves this app")
        closed, _ = await _ask(lab, "app-a.corp.example", 9)  # discard port: nothing listens
        assert isinstance(closed, StreamRefused)
        assert f"{LOOPBACK}:9" in closed.reason
        results = [e["result"] for e in read_events(lab.events, "zpa.stream")]
        assert results == ["refused", "refused"]

    _run(tmp_path, body)


def test_a_broker_whose_certificate_is_not_trusted_is_never_spoken_to(tmp_path: Path) -> None:
    async def body(lab: Cloud) -> None:
        other = tmp_path / "other"
        make_server_certificate(other, "impostor.example", [IPv4Address(LOOPBACK)])
        context = TrustFolder(other).context()
        assert context is not None
        with pytest.raises(ssl.SSLCertVerificationError):
            await asyncio.open_connection(LOOPBACK, lab.broker_port, ssl=context)
        assert TrustFolder(tmp_path / "empty").context() is None

    _run(tmp_path, body)


def test_broker_answers_that_are_not_frames_are_refusals() -> None:
    assert parse_answer(b"not json\n") == StreamRefused("answer is not JSON")
    assert parse_answer(b"[1]\n") == StreamRefused("answer is not a JSON object")
    assert parse_answer(b'{"ok": false}\n') == StreamRefused("refused without a reason")
    assert isinstance(parse_answer(b"{" + b" " * 5000 + b"}\n"), StreamRefused)
