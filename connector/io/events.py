"""The connector's event log: JSON lines `{ts, node, kind, ...}`, the lab's event schema.

The lab reads readiness (`service.ready`) and verdict events from this file, so
the connector and the lab share only a file format, never code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Made once (the DNS listener logs every query); fields in the order given: ts, node, kind
# first, which reads better than sorted and costs less.
_ENCODER = json.JSONEncoder(default=str)


class EventLog:
    """Appends one flushed JSON object a line; a None path writes nowhere."""

    def __init__(self, path: Path | None, node: str) -> None:
        self.node = node
        self.taps: list[Callable[[dict[str, Any]], None]] = []  # e.g. the cloud uploader
        self._file = None
        self._held: list[str] | None = None
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
            line = _ENCODER.encode(record) + "\n"
            if self._held is not None:
                self._held.append(line)
            else:
                self._file.write(line)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Events emitted inside are written together at the end, in one system call
        (the DNS listener: one per burst of queries, written before their answers leave)."""
        if self._held is not None:
            yield  # already batching: the outer batch writes
            return
        self._held = []
        try:
            yield
        finally:
            held, self._held = self._held, None
            if held and self._file is not None:
                self._file.write("".join(held))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
