"""The internet's web server: answers every GET and logs the source it saw; echoes UDP.

Each request becomes an `http.request` event with the peer address as the
server's socket saw it, which is what a suite checks SNAT against. `--port`
takes one port or several (`80,8080`), so one server can stand behind rules
that differ by port. With `--udp-echo PORT` every datagram to that port is
sent back unchanged and logged as a `udp.echo` event (a responsive UDP server:
FQDN rules for UDP, licence inflation by forged sources that draw replies).
A path with `hold=SECONDS` in its query is answered that long after it arrived (at
most `MAX_HOLD_S`), so a suite can keep a connection open while it opens another.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseServer
from urllib.parse import parse_qs, urlsplit

from lab.events import EventWriter
from lab.nodes.base import node_arguments, serve_in_background, serve_until_signalled

MAX_HOLD_S = 3.0


def hold_of(path: str) -> float:
    """`/x?hold=1.5` -> 1.5 (bounded by MAX_HOLD_S); no or a malformed hold -> 0."""
    query = parse_qs(urlsplit(path).query)
    try:
        return min(max(float(query.get("hold", ["0"])[0]), 0.0), MAX_HOLD_S)
    except ValueError:
        return 0.0


def handler_for(events: EventWriter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "cclab-web/1"
        protocol_version = "HTTP/1.1"  # keep-alive for held flows; `Connection: close` ends

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            src, sport = self.client_address[:2]
            dst, dport = self.connection.getsockname()[:2]
            events.emit("http.request", src=src, sport=sport, dst=dst, dport=dport,
                        method="GET", path=self.path, host=self.headers.get("Host", ""))
            time.sleep(hold_of(self.path))
            body = json.dumps({"seen_source": src, "path": self.path}).encode() + b"\n"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    return Handler


def parse_ports(text: str) -> list[int]:
    """`80` or `80,8080,8081` -> [80, 8080, 8081]."""
    return [int(p) for p in text.split(",") if p.strip()]


def udp_echo(port: int, events: EventWriter) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))

    def serve() -> None:
        while True:
            try:
                data, peer = sock.recvfrom(65535)
            except OSError:
                return  # closed at shutdown
            events.emit("udp.echo", src=peer[0], sport=peer[1], dport=port, size=len(data),
                        payload=data[:64].decode("latin-1"))
            sock.sendto(data, peer)

    threading.Thread(target=serve, daemon=True).start()
    return sock


def main() -> None:
    parser = node_arguments("cclab fake web server")
    parser.add_argument("--port", default="80", help="a port, or several: 80,8080")
    parser.add_argument("--udp-echo", type=int, default=0, help="echo UDP on this port")
    args = parser.parse_args()
    events = EventWriter(args.events, args.node)
    servers: list[BaseServer] = []
    for port in parse_ports(args.port):
        server = ThreadingHTTPServer(("0.0.0.0", port), handler_for(events))
        server.daemon_threads = True
        servers.append(server)
    stop_servers = serve_in_background(servers)
    echo = udp_echo(args.udp_echo, events) if args.udp_echo else None

    def stop() -> None:
        stop_servers()
        if echo is not None:
            echo.close()

    serve_until_signalled(events, "web", stop)


if __name__ == "__main__":
    main()
