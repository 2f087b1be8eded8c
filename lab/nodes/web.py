"""The internet's web server: answers every GET and logs the source it saw.

Each request becomes an `http.request` event with the peer address as the
server's socket saw it, which is what a suite checks SNAT against.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lab.events import EventWriter
from lab.nodes.base import node_arguments, serve_until_signalled


def handler_for(events: EventWriter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "cclab-web/1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            src, sport = self.client_address[:2]
            dst, dport = self.connection.getsockname()[:2]
            events.emit("http.request", src=src, sport=sport, dst=dst, dport=dport,
                        method="GET", path=self.path, host=self.headers.get("Host", ""))
            body = json.dumps({"seen_source": src, "path": self.path}).encode() + b"\n"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    return Handler


def main() -> None:
    parser = node_arguments("cclab fake web server")
    parser.add_argument("--port", type=int, default=80)
    args = parser.parse_args()
    events = EventWriter(args.events, args.node)
    server = ThreadingHTTPServer(("0.0.0.0", args.port), handler_for(events))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    serve_until_signalled(events, "web", server.shutdown)


if __name__ == "__main__":
    main()
