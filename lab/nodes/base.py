"""What every fake node shares: its command line, its event writer, clean shutdown."""

from __future__ import annotations

import argparse
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from lab.events import EventWriter


def run_checked(argv: list[str], stdin: str | None = None) -> None:
    """Run a setup command (ip, nft); a failure stops the node with the command's error."""
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")


def node_arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--node", required=True, help="the node's name, written in every event")
    parser.add_argument("--events", required=True, type=Path, help="JSON-lines event file")
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
