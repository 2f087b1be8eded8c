"""The lab as a Python API: bring a topology up, act in nodes, read what they saw.

    with lab.api.up("minimal", instance="demo") as lab:
        mark = lab.mark()
        lab.exec("workload1", "curl", "-s", "http://198.18.10.10/")
        lab.wait_event("web", "http.request", after=mark)

Events are awaited, never looked up: a `Mark` taken before an action says
where each node's event log stood, and `wait_event(..., after=mark)` is
satisfied only by an event written after it, so an old event from an earlier
test can never stand in for the one the action should cause.

This is what the suites use; it works the same on every backend.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from lab.backends import Backend, ExecResult, get_backend
from lab.backends.base import Capture, Progress
from lab.catalog import topology_path
from lab.errors import LabError
from lab.events import Mark, read_events
from lab.model import Topology
from lab.names import LabNames
from lab.plan import build_plan
from lab.schema import load_topology

Event = dict[str, Any]


class CommandFailed(LabError):
    """A command run in a node exited non-zero."""

    def __init__(self, node: str, argv: tuple[str, ...], result: ExecResult) -> None:
        self.node, self.argv, self.result = node, argv, result
        super().__init__(f"{node}: `{' '.join(argv)}` exited {result.returncode}\n"
                         f"{result.stderr.strip() or result.stdout.strip()}")


class LabHandle:
    """A running lab instance."""

    def __init__(self, topology: Topology, backend: Backend) -> None:
        self.topology = topology
        self.backend = backend
        self.instance = backend.instance

    @property
    def python(self) -> str:
        """The interpreter, with the project importable, as a path inside the nodes."""
        return self.backend.node_python

    @property
    def run_dir(self) -> Path:
        """The lab's run folder (events, logs, state), fixed by its name. Asking the backend
        (`status()`) would cost a `docker ps` on docker, at every poll of `wait_event`."""
        return LabNames(self.instance).run_dir

    def exec(self, node: str, *argv: str, check: bool = True, timeout: float = 60.0,
             input_text: str | None = None) -> ExecResult:
        result = self.backend.exec(node, list(argv), timeout=timeout, input_text=input_text)
        if check and not result.ok:
            raise CommandFailed(node, argv, result)
        return result

    def _event_file(self, node: str) -> Path:
        return self.run_dir / "events" / f"{node}.jsonl"

    def mark(self) -> Mark:
        """Where every node's event log stands now; take it before the action."""
        folder = self.run_dir / "events"
        return Mark.of_folder(folder, [n.name for n in self.topology.nodes])

    def events(self, node: str, kind: str | None = None, *,
               after: Mark | None = None) -> list[Event]:
        """The node's events of `kind` (all of them, or only those written after `after`)."""
        offset = after.offset(node) if after is not None else 0
        return read_events(self._event_file(node), kind, offset=offset)

    def wait_event(self, node: str, kind: str, match: Callable[[Event], bool] = lambda e: True,
                   *, after: Mark, timeout: float = 10.0) -> Event:
        """The first event of `kind` matching `match` written after `after`; waits for it.
        `after=Mark.BEGINNING` accepts any event since the lab started (readiness)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.events(node, kind, after=after) if match(e)]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise LabError(f"{node}: no '{kind}' event matching, written after the mark, "
                               f"within {timeout:g} s")
            time.sleep(0.05)

    @contextmanager
    def capture(self, node: str, iface: str, path: Path) -> Iterator[Capture]:
        """Capture on `node`/`iface` for the duration of the block; the pcap stays at `path`."""
        running = self.backend.start_capture(node, iface, path)
        try:
            yield running
        finally:
            running.stop()

    def address(self, node: str, iface: str | None = None) -> IPv4Address:
        n = self.topology.node(node)
        chosen = n.interface(iface) if iface else n.interfaces[0]
        return chosen.address.ip

    def restart_service(self, node: str, kind: str, timeout_s: float = 15.0) -> int:
        """Restart one service (SIGTERM, start again, wait `timeout_s` for its readiness);
        the new PID."""
        return self.backend.restart_service(node, kind, timeout_s)

    def service_pid(self, node: str, kind: str) -> int | None:
        """The PID of a running service, as the backend reports it now (after a restart,
        the new one); None if it is not running."""
        for proc in self.backend.status()["processes"]:
            if proc["node"] == node and proc["kind"] == kind and proc.get("alive", True):
                return int(proc["pid"])
        return None

    def stop_service(self, node: str, kind: str) -> None:
        """Stop one service (SIGTERM, SIGKILL after a grace); it stays down until started."""
        self.backend.stop_service(node, kind)

    def start_service(self, node: str, kind: str) -> int:
        """Start a stopped service again as it was, waiting for its readiness; new PID."""
        return self.backend.start_service(node, kind)

    def gwlb_targets(self, action: str, targets: tuple[str, ...] = (),
                     balancer: str | None = None) -> dict[str, str]:
        """RegisterTargets / DeregisterTargets on the lab's GWLB (`action` register,
        deregister or show; `balancer` the node, else the one `gwlb` node): every
        target's state after it (lab.nodes.gwlb_control)."""
        node = balancer or next(n.name for n in self.topology.nodes
                                if any(s.kind == "gwlb" for s in n.services))
        argv = [self.python, "-m", "lab.nodes.gwlb_control", action]
        result = self.exec(node, *argv, *([",".join(targets)] if targets else []))
        answer: dict[str, str] = json.loads(result.stdout)
        return answer

    def down(self) -> None:
        self.backend.destroy()


def bring_up(topology: str | Path, *, instance: str | None = None, backend: str = "netns",
             clean: bool = False, progress: Progress | None = None) -> LabHandle:
    topo = load_topology(topology_path(str(topology)))
    name = instance or topo.name
    chosen = get_backend(backend, name)
    chosen.deploy(topo, build_plan(topo, name), clean=clean, progress=progress)
    return LabHandle(topo, chosen)


@contextmanager
def up(topology: str | Path, **options: Any) -> Iterator[LabHandle]:
    """A lab for the block; it is always torn down, whatever happens inside."""
    handle = bring_up(topology, **options)
    try:
        yield handle
    finally:
        handle.down()
