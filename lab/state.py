"""The journal of a running lab instance: what was made, written as it is made.

`up` records each namespace and process before moving on, so `down` can undo a
lab that crashed halfway; `down` also finds leftovers by name, so a lost journal
loses nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(slots=True)
class ProcessRecord:
    node: str
    kind: str
    pid: int
    argv: list[str]
    log: str


@dataclass(slots=True)
class LabState:
    instance: str
    topology: str
    backend: str
    namespaces: list[str] = field(default_factory=list)
    processes: list[ProcessRecord] = field(default_factory=list)
    ready: bool = False

    def save(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        tmp = run_dir / "state.json.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2))
        os.replace(tmp, run_dir / "state.json")

    @classmethod
    def load(cls, run_dir: Path) -> LabState | None:
        try:
            data = json.loads((run_dir / "state.json").read_text())
        except (OSError, ValueError):
            return None
        procs = [ProcessRecord(**p) for p in data.pop("processes", [])]
        return cls(**data, processes=procs)


def status_fields(instance: str, backend: str, state: LabState | None,
                  run_dir: Path) -> dict[str, object]:
    """What `cclab status` shows for every backend; each adds what it owns."""
    return {"instance": instance, "backend": backend,
            "topology": state.topology if state else None,
            "ready": bool(state and state.ready), "run_dir": str(run_dir)}
