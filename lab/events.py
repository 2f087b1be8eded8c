"""The one event schema every lab node writes: JSON lines with ts, node, kind.

Fake nodes append events to `<run>/events/<node>.jsonl`; suites read them
through the lab API. Extra fields are free per kind (`src`, `dst`, `qname`...).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


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


def read_events(path: Path, kind: str | None = None) -> list[dict[str, Any]]:
    """Every complete event in `path` (a torn last line is skipped), optionally of one kind."""
    try:
        lines = path.read_text().splitlines()
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
