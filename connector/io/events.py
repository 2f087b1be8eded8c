"""The connector's event log: JSON lines `{ts, node, kind, ...}`, the lab's event schema.

The lab reads readiness (`service.ready`) and verdict events from this file, so
the connector and the lab share only a file format, never code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class EventLog:
    """Appends one flushed JSON object a line; a None path writes nowhere."""

    def __init__(self, path: Path | None, node: str) -> None:
        self.node = node
        self.taps: list[Callable[[dict[str, Any]], None]] = []  # e.g. the cloud uploader
        self._file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "a", buffering=1)  # noqa: SIM115 - lives with the service

    def emit(self, kind: str, **fields: Any) -> None:
        if self._file is None and not self.taps:
            return
        record = {"ts": round(time.time(), 6), "node": self.node, "kind": kind, **fields}
        for tap in self.taps:
            tap(record)
        if self._file is not None:
            self._file.write(json.dumps(record, sort_keys=True, default=str) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
