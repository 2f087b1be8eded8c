"""A fake node's threads see its stop at once, not at their next timeout.

Every lab teardown waits for its slowest node; a node's loops noticed a stop only
at their next poll (a socketserver's poll, a select timeout, a load balancer's
probe interval: up to a second). These tests give each waiting loop a wait of ten
minutes and check that a stop still ends it: only the wake-up can (the bound on
each join is the test's guard, far below the wait, not a speed figure).
"""

from __future__ import annotations

import select
import socket
import socketserver
import threading

import pytest

from lab.nodes import base
from lab.nodes.base import Wakeup, serve_in_background

pytestmark = pytest.mark.unit
LONG_S = 600.0  # every loop's own wait: only a wake-up ends it within the test
GUARD_S = 20.0


class Recorder(socketserver.BaseRequestHandler):
    handled: list[object] = []

    def handle(self) -> None:
        Recorder.handled.append((self.request, self.client_address))


def _ended(thread: threading.Thread) -> bool:
    """Joined within the guard. Every waiting thread is a daemon: one a broken stop
    leaves waiting must not keep the test process alive for its ten minutes."""
    thread.join(GUARD_S)
    return not thread.is_alive()


def test_a_stream_server_stops_without_waiting_for_its_poll(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "STREAM_POLL_S", LONG_S)
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Recorder)
    stop = serve_in_background([server])
    threading.Event().wait(0.3)  # the loop settles into its wait (else a stop beats it)
    stopper = threading.Thread(target=stop, daemon=True)
    stopper.start()
    assert _ended(stopper)
    server.server_close()


def test_a_datagram_server_is_stopped_by_its_short_poll_and_handles_no_phantoms(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A shut-down UDP socket reads as empty datagrams from nobody, so a datagram server
    is not woken that way (its handler would be given them): its own short poll ends
    it, and its handler saw only what was sent."""
    Recorder.handled = []
    server = socketserver.ThreadingUDPServer(("127.0.0.1", 0), Recorder)
    stop = serve_in_background([server])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.sendto(b"ping", server.server_address)
        for _ in range(200):  # the datagram arrives (it was handled) before the stop
            if Recorder.handled:
                break
            threading.Event().wait(0.01)
    stopper = threading.Thread(target=stop, daemon=True)
    stopper.start()
    assert _ended(stopper)
    server.server_close()
    assert [request[0] for request, _ in Recorder.handled] == [b"ping"]  # type: ignore[index]


def test_a_wakeup_ends_a_select_and_a_wait_at_once() -> None:
    stopping = Wakeup()
    seen: list[object] = []

    def select_loop() -> None:
        ready, _, _ = select.select([stopping.fileno()], [], [], LONG_S)
        seen.append(("select", bool(ready)))

    def periodic() -> None:
        seen.append(("wait", stopping.wait(LONG_S)))

    threads = [threading.Thread(target=select_loop, daemon=True),
               threading.Thread(target=periodic, daemon=True)]
    for thread in threads:
        thread.start()
    assert not stopping.is_set()
    stopping.set()
    assert all(_ended(thread) for thread in threads)
    assert sorted(seen) == [("select", True), ("wait", True)]  # type: ignore[type-var]
    assert stopping.is_set()
