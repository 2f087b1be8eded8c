"""Processes inside namespaces: start detached, wait for readiness, stop by PID.

A lab service announces readiness by writing a `service.ready` event to its
node's event file; the lab never sleeps blindly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from lab.errors import BackendError
from lab.events import read_events

POLL_S = 0.05


def start_in_namespace(ns: str, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def wait_ready(events: Path, node: str, kind: str, proc: subprocess.Popen[bytes] | None,
               log: Path, timeout_s: float, *, after: int = 0, backend: str = "netns") -> None:
    """Wait for the service's `service.ready` event number `after + 1` (restarts count up)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready_count(events, kind) > after:
            return
        if proc is not None and proc.poll() is not None:
            raise BackendError(f"{kind} exited with {proc.returncode} before it was ready\n"
                               f"{_tail(log)}", backend=backend, node=node)
        time.sleep(POLL_S)
    raise BackendError(f"{kind} not ready after {timeout_s:g} s\n{_tail(log)}",
                       backend=backend, node=node)


def ready_count(events: Path, kind: str) -> int:
    return sum(1 for e in read_events(events) if _is_ready(e, kind))


def stopped_count(events: Path, kind: str) -> int:
    return sum(1 for e in read_events(events, "service.stopped") if e.get("service") == kind)


def wait_stopped(events: Path, node: str, kind: str, timeout_s: float, *, after: int,
                 backend: str) -> None:
    """Wait for the service's `service.stopped` event number `after + 1`."""
    deadline = time.monotonic() + timeout_s
    while stopped_count(events, kind) <= after:
        if time.monotonic() > deadline:
            raise BackendError(f"{kind} did not stop within {timeout_s:g} s",
                               backend=backend, node=node)
        time.sleep(POLL_S)


def _is_ready(event: dict[str, object], kind: str) -> bool:
    return event.get("kind") == "service.ready" and event.get("service", kind) == kind


def _tail(log: Path, lines: int = 15) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"    (no log at {log})"
    return "\n".join(f"    | {line}" for line in text) or f"    (empty log {log})"


def pids_in_namespace(ns: str) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split() if p.isdigit()]


def stop_pids(pids: list[int], grace_s: float = 5.0) -> list[int]:
    """SIGTERM, wait up to `grace_s`, then SIGKILL what is left. Returns the pids signalled."""
    alive = [p for p in pids if _signal(p, signal.SIGTERM)]
    deadline = time.monotonic() + grace_s
    while alive and time.monotonic() < deadline:
        time.sleep(POLL_S)
        alive = [p for p in alive if _exists(p)]
    for pid in alive:
        _signal(pid, signal.SIGKILL)
    return pids


def _signal(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def _exists(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return Path(f"/proc/{pid}").exists() and not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
