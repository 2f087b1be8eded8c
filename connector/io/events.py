"""The connector's event log: JSON lines `{ts, node, kind, ...}`, the lab's event schema.

The lab reads readiness (`service.ready`) and verdict events from this file, so
the connector and the lab share only a file format, never code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
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
        self._node_json = _ENCODER.encode(node)
        self._taps: dict[str, list[Callable[[dict[str, Any]], None]]] = {}
        self._file = None
        self._held: list[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "a", buffering=1)  # noqa: SIM115 - lives with the service

    def tap(self, kinds: Iterable[str], receiver: Callable[[dict[str, Any]], None]) -> None:
        """`receiver` gets every record of these kinds (e.g. the cloud uploader)."""
        for kind in kinds:
            self._taps.setdefault(kind, []).append(receiver)

    def emit(self, kind: str, **fields: Any) -> None:
        taps = self._taps.get(kind, ())
        if self._file is None and not taps:
            return
        record = {"ts": round(time.time(), 6), "node": self.node, "kind": kind, **fields}
        for tap in taps:
            tap(record)
        if self._file is not None:
            self._write(_ENCODER.encode(record) + "\n")

    @staticmethod
    def members(fields: dict[str, Any]) -> str:
        """`fields` encoded as the members of a JSON object, for emit_members: a caller
        that logs the same fields again and again encodes them once."""
        return ", " + _ENCODER.encode(fields)[1:-1] if fields else ""

    def emit_members(self, kind: str, members: str, times: int = 1) -> None:
        """emit(), with the fields already encoded by members() (plus any ', "k": v');
        `times` the same record (one timestamp) for as many events."""
        if kind in self._taps:
            for _ in range(times):
                self.emit(kind, **json.loads("{" + members[2:] + "}"))
        elif self._file is not None:
            self._write(f'{{"ts": {round(time.time(), 6)!r}, "node": {self._node_json}, '
                        f'"kind": {_ENCODER.encode(kind)}{members}}}\n' * times)

    def _write(self, line: str) -> None:
        if self._held is not None:
            self._held.append(line)
        elif self._file is not None:
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
