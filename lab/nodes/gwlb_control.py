"""The fake GWLB's control: RegisterTargets and DeregisterTargets at run time.

The GWLB node listens on 127.0.0.1:CONTROL_PORT inside its own node (its loopback: no
other node reaches it); a request is one line, `register ADDR[,ADDR...]`,
`deregister ADDR[,ADDR...]` or `show`, and the answer one line of JSON: every target's
state (`initial`, `healthy`, `unhealthy`, `draining`), or `{"error": ...}`.
`python -m lab.nodes.gwlb_control ACTION [ADDRS]` is the client, run in the node
(`LabHandle.gwlb_targets`, or `cclab exec gwlb -- PYTHON -m lab.nodes.gwlb_control ...`);
it prints the answer and exits 1 on an error.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address

CONTROL_PORT = 6082
ACTIONS = ("register", "deregister", "show")


@dataclass(frozen=True, slots=True)
class Request:
    action: str
    targets: tuple[IPv4Address, ...]


def parse_request(line: str) -> Request:
    """`ACTION [ADDR,...]`; ValueError with what is wrong."""
    words = line.split()
    if not words or words[0] not in ACTIONS:
        raise ValueError(f"want one of {', '.join(ACTIONS)}, got {line.strip()!r}")
    targets = tuple(IPv4Address(t) for w in words[1:] for t in w.split(",") if t)
    if (words[0] == "show") != (not targets):
        raise ValueError(f"{words[0]}: " + ("takes no address" if targets
                                             else "needs an address"))
    return Request(words[0], targets)


Handler = Callable[[Request], dict[str, str]]


def serve(handle: Handler, running: Callable[[], bool]) -> socket.socket:
    """Answer requests on the loopback in a thread; the socket (closed at shutdown)."""
    server = socket.create_server(("127.0.0.1", CONTROL_PORT))
    server.settimeout(0.5)

    def loop() -> None:
        while running():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            with conn:
                conn.settimeout(2.0)
                try:
                    line = conn.makefile().readline()
                    answer: dict[str, str] = handle(parse_request(line))
                except (ValueError, OSError) as exc:
                    answer = {"error": str(exc)}
                conn.sendall(json.dumps(answer).encode() + b"\n")

    threading.Thread(target=loop, daemon=True).start()
    return server


def request(line: str, timeout: float = 5.0) -> dict[str, str]:
    with socket.create_connection(("127.0.0.1", CONTROL_PORT), timeout=timeout) as conn:
        conn.sendall(line.encode() + b"\n")
        answer: dict[str, str] = json.loads(conn.makefile().readline())
    return answer


def main() -> None:
    answer = request(" ".join(sys.argv[1:]))
    print(json.dumps(answer))
    sys.exit(1 if "error" in answer else 0)


if __name__ == "__main__":
    main()
