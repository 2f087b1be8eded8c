"""What every backend offers: a small protocol (deploy, destroy, exec, status, capture)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lab.errors import StaleLabError
from lab.model import Topology
from lab.steps import Step

Progress = Callable[[int, int, Step], None]


@dataclass(frozen=True, slots=True)
class ExecResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Capture(Protocol):
    path: Path
    dropped: int | None  # packets the capture itself lost (known once stopped)

    def stop(self) -> Path: ...


def clear_leftovers(backend: Backend, clean: bool) -> None:
    """Refuse to build over a stale lab of the same name, or remove it first (`--clean`)."""
    leftovers = backend.leftovers()
    if leftovers and not clean:
        raise StaleLabError(backend.instance, leftovers)
    if leftovers:
        backend.destroy()


class Backend(Protocol):
    name: str
    instance: str
    node_python: str  # the project's interpreter as nodes see it

    def deploy(self, topo: Topology, plan: list[Step], *, clean: bool = False,
               progress: Progress | None = None) -> None: ...

    def destroy(self) -> list[str]: ...

    def leftovers(self) -> list[str]: ...

    def exec(self, node: str, argv: list[str], *, timeout: float = 60.0,
             input_text: str | None = None) -> ExecResult: ...

    def status(self) -> dict[str, Any]: ...

    def start_capture(self, node: str, iface: str, path: Path) -> Capture: ...

    def restart_service(self, node: str, kind: str, timeout_s: float = 15.0) -> int: ...

    def stop_service(self, node: str, kind: str, timeout_s: float = 15.0) -> None: ...

    def start_service(self, node: str, kind: str, timeout_s: float = 15.0) -> int: ...

    def fabric_ruleset(self) -> str: ...
