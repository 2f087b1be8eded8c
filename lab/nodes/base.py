"""What every fake node shares: its command line, its event writer, clean shutdown."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import socketserver
import subprocess
import threading
from collections.abc import Callable
from ipaddress import IPv4Address
from pathlib import Path

from lab.events import EventWriter


def run_checked(argv: list[str], stdin: str | None = None) -> None:
    """Run a setup command (ip, nft); a failure stops the node with the command's error."""
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")


# How often a socketserver looks for shutdown(). A stream server is woken at once by
# stop() (its listening socket shut down: accept fails, which the loop passes over), so
# it may wait long; a datagram server cannot be (a shut-down UDP socket reads as empty
# datagrams from nobody, which its handler would be given), so it looks often. Each
# poll, waited out, once added up to 0.2 s to every lab's teardown.
STREAM_POLL_S = 0.5
DATAGRAM_POLL_S = 0.05


def serve_in_background(servers: list[socketserver.BaseServer]) -> Callable[[], None]:
    """Each server's loop in a daemon thread; returns what stops them all at once."""
    for server in servers:
        poll = STREAM_POLL_S if _listening(server) is not None else DATAGRAM_POLL_S
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": poll},
                         daemon=True).start()

    def stop() -> None:
        stopping = [threading.Thread(target=s.shutdown) for s in servers]
        for thread in stopping:
            thread.start()
        for server in servers:
            if (sock := _listening(server)) is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for thread in stopping:
            thread.join()
    return stop


def _listening(server: socketserver.BaseServer) -> socket.socket | None:
    sock = getattr(server, "socket", None)
    return sock if isinstance(sock, socket.socket) and sock.type == socket.SOCK_STREAM else None


class Wakeup:
    """A node's stop, seen at once by its threads: a select loop watches it beside its
    sockets (it has a `fileno`), a periodic loop waits on it instead of sleeping. Without
    it each loop noticed a stop at its next timeout or probe interval, and a lab's
    teardown waited for the slowest (up to a second, for a load balancer's prober)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._read, self._write = os.pipe()

    def fileno(self) -> int:
        return self._read

    def set(self) -> None:
        self._event.set()
        with contextlib.suppress(OSError):
            os.write(self._write, b"\0")

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep `seconds`, or less if the node stops meanwhile; True if it stopped."""
        return self._event.wait(seconds)


def node_arguments(description: str, *, tls: bool = False) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--node", required=True, help="the node's name, written in every event")
    parser.add_argument("--events", required=True, type=Path, help="JSON-lines event file")
    if tls:
        parser.add_argument("--trust", required=True, type=Path,
                            help="the lab's trust folder (<run>/pki)")
    return parser


def serve_until_signalled(events: EventWriter, service: str, stop: Callable[[], None]) -> None:
    """Announce readiness, then block until SIGTERM or SIGINT, then call `stop`."""
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    events.emit("service.ready", service=service)
    done.wait()
    stop()
    events.emit("service.stopped", service=service)
    events.close()


def take_loopback_address(address: IPv4Address) -> bool:
    """Put `address` on the loopback unless the node has it; True when this added it
    (the node removes it again on close)."""
    shown = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True,
                           check=False).stdout
    if f" {address}/" in shown:
        return False
    run_checked(["ip", "addr", "add", f"{address}/32", "dev", "lo"])
    return True
