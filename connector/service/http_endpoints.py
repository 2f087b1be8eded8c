"""The connector's two small HTTP servers: the probe answer and the management view.

* Service interface, `health_port` (default 50000): any GET (the LBs ask for
  `/?cchealth`) gets 200 or 503 with no detail, then the connection is closed
  (spec §3.5). A request must arrive within 2 s; probes are never rate-limited.
* Management interface, `metrics_port`: `GET /metrics` is Prometheus text
  (counters, gauges, health), `GET /health` is JSON with the reasons of a 503.
Neither parses more than one request line and 8 KiB of headers; anything else is
answered 400 and closed, so a bad client cannot hold a probe slot.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from ipaddress import IPv4Address

from connector.core.health import HealthVerdict

READ_TIMEOUT_S = 2.0
MAX_HEADER = 8192


async def read_request_path(reader: asyncio.StreamReader) -> str | None:
    """The path of one GET, or None when the request is not one we answer."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
            ConnectionError):
        return None
    return request_path(head)


def request_path(head: bytes) -> str | None:
    """The path of a `GET <path> HTTP/1.x` request head; None for anything else."""
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    if len(parts) != 3 or parts[0] != b"GET" or not parts[2].startswith(b"HTTP/1."):
        return None
    return parts[1].decode("latin-1")


def response(status: int, body: bytes, content_type: str = "text/plain") -> bytes:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found",
              503: "Service Unavailable"}[status]
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


class HttpEndpoint:
    """One listening socket answering each request with `handler(path)`, then closing."""

    def __init__(self, address: IPv4Address, port: int,
                 handler: Callable[[str], bytes]) -> None:
        self.address, self.port, self.handler = address, port, handler
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, str(self.address), self.port,
                                                  limit=MAX_HEADER, reuse_address=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            path = await read_request_path(reader)
            writer.write(response(400, b"bad request\n") if path is None else self.handler(path))
            await asyncio.wait_for(writer.drain(), READ_TIMEOUT_S)
        except (ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()


def probe_answer(verdict: HealthVerdict) -> bytes:
    return response(200, b"OK\n") if verdict.healthy else response(503, b"unhealthy\n")


def management_answer(path: str, verdict: HealthVerdict, metrics: Callable[[], str]) -> bytes:
    if path.split("?", 1)[0] == "/metrics":
        return response(200, metrics().encode(), "text/plain; version=0.0.4")
    if path.split("?", 1)[0] == "/health":
        body = json.dumps({"healthy": verdict.healthy, "reasons": list(verdict.reasons)})
        return response(200 if verdict.healthy else 503, body.encode() + b"\n",
                        "application/json")
    return response(404, b"not found: try /metrics or /health\n")


def prometheus_text(counters: dict[str, int], gauges: dict[str, float]) -> str:
    lines = []
    for name, value in sorted(counters.items()):
        metric = f"cclab_connector_{_metric_name(name)}_total"
        lines += [f"# TYPE {metric} counter", f"{metric} {value}"]
    for name, fvalue in sorted(gauges.items()):
        metric = f"cclab_connector_{_metric_name(name)}"
        lines += [f"# TYPE {metric} gauge", f"{metric} {fvalue:g}"]
    return "\n".join(lines) + "\n"


def _metric_name(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)
