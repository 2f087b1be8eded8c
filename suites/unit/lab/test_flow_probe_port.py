"""The flow probe names each HTTP attempt's local port (`sport`), which the scenarios match
against the GWLB's log of moved flows (`lab.scenario.moves`). The oracle is the server's
side: the peer port its `accept` saw. On loopback, with a real server that answers
once and resets once."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from lab.traffic.flow_probe import http_once
from lab.traffic.held_flows import HeldFlows

pytestmark = pytest.mark.unit


class Server:
    """Each connection: read the request; answer 200 (keep-alive), or reset it."""

    def __init__(self, reset: bool) -> None:
        self.reset, self.peers = reset, list[int]()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.peers.append(peer[1])
            if self.reset:
                conn.recv(4096)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                while conn.recv(4096):  # keep-alive: each request answered, until closed
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(params=[False, True], ids=["answered", "reset"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    s = Server(reset=request.param)
    yield s
    s.close()


def test_a_new_connection_attempt_names_the_port_the_server_saw(server: Server) -> None:
    ok, detail, sport = http_once("p", 1, "127.0.0.1", server.port, 2.0)
    assert (ok, detail) == ((False, "reset") if server.reset else (True, "200"))
    assert server.peers == [sport]


def test_a_held_connection_attempt_names_the_port_and_start_of_its_flow(server: Server) -> None:
    held, before = HeldFlows(slots=1), time.time()
    ok, detail, sport, since = held.once("p", 1, "127.0.0.1", server.port, 2.0)
    assert (ok, detail) == ((False, "reset") if server.reset else (True, "200"))
    assert server.peers == [sport]
    assert before <= since <= time.time()
    if not server.reset:  # the next request rides the same flow: same port, same start
        time.sleep(0.02)
        assert held.once("p", 2, "127.0.0.1", server.port, 2.0) == (True, "200", sport, since)
        assert server.peers == [sport]


def test_a_refused_attempt_says_so() -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    ok, detail, _ = http_once("p", 1, "127.0.0.1", port, 2.0)
    assert (ok, detail) == (False, "refused")
