"""What every fake node shares: its command line, its event writer, clean shutdown."""

from __future__ import annotations

import argparse
import asyncio
import signal
import socketserver
import subprocess
import threading
from collections.abc import Awaitable, Callable
from ipaddress import IPv4Address
from pathlib import Path

from lab.events import EventWriter


def run_checked(argv: list[str], stdin: str | None = None) -> None:
    """Run a setup command (ip, nft); a failure stops the node with the command's error."""
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")


# How often a socketserver looks for shutdown(): a teardown waits up to this per server.
# The library's 0.5 s, one server after another, made a web node with five ports take
# 2.7 s to stop, and every lab's teardown wait for it.
SERVER_POLL_S = 0.2


def serve_in_background(servers: list[socketserver.BaseServer]) -> Callable[[], None]:
    """Each server's loop in a daemon thread; returns what stops them all at once."""
    for server in servers:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": SERVER_POLL_S},
                         daemon=True).start()

    def stop() -> None:
        stopping = [threading.Thread(target=s.shutdown) for s in servers]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
    return stop


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


def run_async_node(parser: argparse.ArgumentParser, service: str,
                   start: Callable[[argparse.Namespace, EventWriter], Awaitable[object]]) -> None:
    """Parse the node's arguments and run an asyncio service until signalled."""
    args = parser.parse_args()
    events = EventWriter(args.events, args.node)
    asyncio.run(serve_async(events, service, lambda: start(args, events)))


async def serve_async(events: EventWriter, service: str,
                      start: Callable[[], Awaitable[object]]) -> None:
    """The asyncio twin of `serve_until_signalled`: `start` must return once the service
    listens (it may return something with `close()`); ready is announced after that."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started = await start()
    events.emit("service.ready", service=service)
    await stop.wait()
    close = getattr(started, "close", None)
    if close is not None:
        close()
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
