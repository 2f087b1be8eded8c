"""The one event schema every lab node writes: JSON lines with ts, node, kind.

Fake nodes append events to `<run>/events/<node>.jsonl`; suites read them
through the lab API. Extra fields are free per kind (`src`, `dst`, `qname`...).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


class EventWriter:
    """Appends one JSON object a line, flushed at once so readers see it."""

    def __init__(self, path: Path, node: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the node
        self.node = node

    def emit(self, kind: str, **fields: Any) -> None:
        record = {"ts": round(time.time(), 6), "node": self.node, "kind": kind, **fields}
        self._file.write(json.dumps(record, sort_keys=True) + "\n")

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True, slots=True)
class Mark:
    """A point in a lab's event logs: each node's file size when it was taken.

    Events are appended whole lines at a time, so everything past a node's offset
    was written after the mark. A node with no file yet starts at 0.
    """

    offsets: Mapping[str, int] = field(default_factory=dict)
    BEGINNING: ClassVar[Mark]

    @classmethod
    def of_folder(cls, folder: Path, nodes: Iterable[str]) -> Mark:
        return cls({node: _size(folder / f"{node}.jsonl") for node in nodes})

    def offset(self, node: str) -> int:
        return self.offsets.get(node, 0)


Mark.BEGINNING = Mark()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def read_events(path: Path, kind: str | None = None, *,
                offset: int = 0) -> list[dict[str, Any]]:
    """Every complete event in `path` from byte `offset` on (a torn last line is skipped),
    optionally of one kind."""
    try:
        with open(path, "rb") as file:
            file.seek(offset)
            lines = file.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return []
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and (kind is None or event.get("kind") == kind):
            events.append(event)
    return events
