"""The node's services as child processes of the agent: start, wait ready, restart, stop."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from lab.backends.processes import ready_count, stop_pids, wait_ready
from lab.container_layout import CONTAINER_RUN, CONTAINER_TOPOLOGY
from lab.services import resolve_argv
from lab.steps import StartService, WaitReady

RUN = CONTAINER_RUN


@dataclass
class Services:
    node: str
    started: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    argv: dict[str, list[str]] = field(default_factory=dict)

    def start(self, step: StartService) -> None:
        self.argv[step.kind] = resolve_argv(step.argv, python=sys.executable, run=RUN,
                                            topodir=CONTAINER_TOPOLOGY)
        self._spawn(step.kind)

    def _spawn(self, kind: str) -> None:
        log = self.log(kind)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            self.started[kind] = subprocess.Popen(self.argv[kind], stdout=out,
                                                  stderr=subprocess.STDOUT,
                                                  stdin=subprocess.DEVNULL,
                                                  start_new_session=True)

    def wait(self, step: WaitReady) -> None:
        wait_ready(self.events, self.node, step.kind, self.started.get(step.kind),
                   self.log(step.kind), step.timeout_s, backend="docker")

    def restart(self, kind: str) -> None:
        """Stop `kind` and start it again as it was; the caller waits for readiness."""
        if kind not in self.started:
            return
        self.stop(kind)
        self._spawn(kind)

    def stop(self, kind: str) -> None:
        """Stop `kind` (SIGTERM, then SIGKILL after a grace); it stays stopped."""
        if kind in self.started and self.started[kind].poll() is None:
            stop_pids([self.started[kind].pid])
            self.started[kind].wait()

    def start_again(self, kind: str) -> None:
        """Start a stopped `kind` as it was; the caller waits for readiness."""
        if kind in self.argv and (kind not in self.started
                                  or self.started[kind].poll() is not None):
            self._spawn(kind)

    def stop_all(self) -> None:
        stop_pids([p.pid for p in self.started.values() if p.poll() is None])
        for proc in self.started.values():
            proc.wait()

    def pids(self) -> dict[str, int]:
        return {kind: proc.pid for kind, proc in self.started.items()}

    def exited(self) -> dict[str, int]:
        return {k: p.returncode for k, p in self.started.items() if p.poll() is not None}

    @property
    def events(self) -> Path:
        return Path(RUN, "events", f"{self.node}.jsonl")

    def log(self, kind: str) -> Path:
        return Path(RUN, "logs", f"{self.node}-{kind}.log")

    def ready_count(self, kind: str) -> int:
        return ready_count(self.events, kind)
