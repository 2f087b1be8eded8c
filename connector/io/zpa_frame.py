"""The opening lines of a ZPA tunnel stream (the lab's broker protocol), connector side.

After the TLS handshake the connector sends one JSON line naming the app and
port the workload asked for; the broker answers one JSON line: `ok` with the
app connector and the true app address it reached, or a refusal with a reason.
The bytes after the answer are the workload's TCP stream. Pure. The broker's
side is `lab/nodes/zpa_wire.py` (the fake cloud is not part of the connector).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from ipaddress import IPv4Address

MAX_LINE = 4096
BROKER_PORT = 443
PING_LINE = b'{"role": "ping"}\n'  # answered by a line with "ok": true (health, spec §3.5)


def is_pong(line: bytes) -> bool:
    """The broker's answer to PING_LINE, and nothing else, says it is alive."""
    try:
        answer = json.loads(line) if len(line) <= MAX_LINE else None
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get("ok") is True


@dataclass(frozen=True, slots=True)
class StreamRequest:
    connector: str
    client: IPv4Address
    synthetic: IPv4Address
    app: str
    segment: str
    port: int

    def to_line(self) -> bytes:
        hello = {"role": "user", "connector": self.connector, "client": str(self.client),
                 "synthetic": str(self.synthetic), "app": self.app, "segment": self.segment,
                 "port": self.port}
        return json.dumps(hello, sort_keys=True).encode() + b"\n"


@dataclass(frozen=True, slots=True)
class StreamAccepted:
    app_connector: str
    address: str
    stream: str


@dataclass(frozen=True, slots=True)
class StreamRefused:
    reason: str


def parse_answer(line: bytes) -> StreamAccepted | StreamRefused:
    """The broker's answer line; anything malformed is a refusal naming what was wrong."""
    if len(line) > MAX_LINE:
        return StreamRefused(f"answer of {len(line)} bytes")
    try:
        answer = json.loads(line)
    except ValueError:
        return StreamRefused("answer is not JSON")
    if not isinstance(answer, dict):
        return StreamRefused("answer is not a JSON object")
    if answer.get("ok") is not True:
        return StreamRefused(str(answer.get("error", "refused without a reason"))[:200])
    return StreamAccepted(str(answer.get("app_connector", "")), str(answer.get("address", "")),
                          str(answer.get("stream", "")))
