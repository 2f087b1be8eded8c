"""The fake ZPA cloud: where connectors enroll, fetch their policy and upload logs.

HTTPS on port 443 of `listen` (certificate made at start, published in the lab's
trust folder). JSON over three calls:

    POST /v1/enroll    {connector, group, location}   -> {token, policy}
    POST /v1/logs      {connector, records: [...]}     -> {accepted}
    POST /v1/licences  {connector, workloads, window_s} -> {ok}

`policy` is the connector group's entry of `--policy FILE` (the sections a
connector config has: `app_segments`, `ip_pools`, `runtime.zpa_brokers`); the
connector lays it over its own file. Logs and licences need the enrollment's
bearer token. Events: `cloud.enrolled` (connector, group, src), `cloud.logs`
(connector, count, records), `cloud.licences` (connector, workloads),
`cloud.rejected` (why).
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import yaml

from lab.events import EventWriter
from lab.nodes.base import node_arguments, serve_in_background, serve_until_signalled
from lab.nodes.tls_files import make_server_certificate

PORT = 443
MAX_BODY = 1 << 20


class Cloud:
    def __init__(self, policies: dict[str, Any], events: EventWriter) -> None:
        self.policies, self.events = policies, events
        self.tokens: dict[str, str] = {}  # token -> connector
        self.lock = threading.Lock()

    def enroll(self, body: dict[str, Any], src: str) -> tuple[int, dict[str, Any]]:
        connector, group = str(body.get("connector", "")), str(body.get("group", ""))
        policy = self.policies.get(group)
        if not connector or policy is None:
            self.events.emit("cloud.rejected", src=src, reason=f"unknown group {group!r}")
            return 403, {"error": f"no policy for connector group {group!r}"}
        token = secrets.token_hex(16)
        with self.lock:
            self.tokens[token] = connector
        self.events.emit("cloud.enrolled", connector=connector, group=group, src=src,
                         location=body.get("location"))
        return 200, {"token": token, "policy": policy}

    def logs(self, connector: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        records = body.get("records", [])
        if not isinstance(records, list):
            return 400, {"error": "records must be a list"}
        self.events.emit("cloud.logs", connector=connector, count=len(records),
                         records=records[:100])
        return 200, {"accepted": len(records)}

    def licences(self, connector: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.events.emit("cloud.licences", connector=connector,
                         workloads=body.get("workloads"), window_s=body.get("window_s"))
        return 200, {"ok": True}

    def holder(self, authorization: str | None) -> str | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        with self.lock:
            return self.tokens.get(authorization.removeprefix("Bearer "))


def handler_for(cloud: Cloud) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "cclab-zpa-cloud/1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            src = self.client_address[0]
            body = self._body()
            if body is None:
                self._answer(400, {"error": "body must be one JSON object"})
                return
            if self.path == "/v1/enroll":
                self._answer(*cloud.enroll(body, src))
                return
            connector = cloud.holder(self.headers.get("Authorization"))
            if connector is None:
                cloud.events.emit("cloud.rejected", src=src, reason="no valid token",
                                  path=self.path)
                self._answer(401, {"error": "enroll first"})
            elif self.path == "/v1/logs":
                self._answer(*cloud.logs(connector, body))
            elif self.path == "/v1/licences":
                self._answer(*cloud.licences(connector, body))
            else:
                self._answer(404, {"error": f"no {self.path}"})

        def _body(self) -> dict[str, Any] | None:
            size = int(self.headers.get("Content-Length") or 0)
            if not 0 < size <= MAX_BODY:
                return None
            try:
                body = json.loads(self.rfile.read(size))
            except ValueError:
                return None
            return body if isinstance(body, dict) else None

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    return Handler


def load_policies(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, dict):
        raise ValueError(f"{path}: expected a 'groups:' mapping of connector group -> policy")
    return groups


def main() -> None:
    parser = node_arguments("cclab fake ZPA cloud (enrollment, policy, log upload)", tls=True)
    parser.add_argument("--listen", required=True, type=IPv4Address)
    parser.add_argument("--policy", required=True, type=Path, help="groups -> policy YAML")
    parser.add_argument("--name", default="cloud.zpa.example")
    args = parser.parse_args()
    events = EventWriter(args.events, args.node)
    cloud = Cloud(load_policies(args.policy), events)
    context = make_server_certificate(args.trust, args.name, [args.listen])
    server = ThreadingHTTPServer((str(args.listen), PORT), handler_for(cloud))
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    serve_until_signalled(events, "zpa-cloud", serve_in_background([server]))


if __name__ == "__main__":
    main()
