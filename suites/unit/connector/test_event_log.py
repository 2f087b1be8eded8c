"""The event log's two ways in (fields, or fields encoded once) write the same records,
and taps see the kinds they asked for, however the record was emitted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connector.io.events import EventLog

pytestmark = pytest.mark.unit

FIELDS: dict[str, Any] = {"src": "10.10.1.11", "qname": 'odd"name\\with\u00e9', "n": 3,
                          "none": None, "yes": True, "ratio": 0.5}


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_emit_members_writes_what_emit_writes(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl", "cc1")
    log.emit("dns.query", **FIELDS)
    log.emit_members("dns.query", EventLog.members(FIELDS))
    log.emit_members("empty", EventLog.members({}))
    log.close()
    first, second, empty = _records(tmp_path / "events.jsonl")
    assert first.pop("ts") <= second.pop("ts")
    assert first == second == {"node": "cc1", "kind": "dns.query", **FIELDS}
    assert empty.keys() == {"ts", "node", "kind"}


def test_a_batch_writes_its_lines_at_the_end_in_order(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = EventLog(path, "cc1")
    with log.batch():
        for n in range(3):
            log.emit_members("tick", EventLog.members({"n": n}))
        assert not path.read_text()
    log.close()
    assert [r["n"] for r in _records(path)] == [0, 1, 2]


def test_taps_get_only_their_kinds_from_either_way_in() -> None:
    seen: list[dict[str, Any]] = []
    log = EventLog(None, "cc1")
    log.tap({"flow.new"}, seen.append)
    log.emit("dns.query", src="a")
    log.emit("flow.new", src="b")
    log.emit_members("flow.new", EventLog.members({"src": "c"}))
    log.emit_members("dns.query", EventLog.members({"src": "d"}))
    assert [(r["kind"], r["src"]) for r in seen] == [("flow.new", "b"), ("flow.new", "c")]
