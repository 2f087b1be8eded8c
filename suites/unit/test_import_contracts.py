"""The import contracts in pyproject.toml cover every module they are meant to cover.

`lint-imports` (make lint) checks the contracts; this checks that a new module
cannot slip past them: the wire-format contract names the modules of
connector/io one by one, so each module there must be named, as a wire format
or as an OS adapter, exactly once.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

import connector.io

pytestmark = pytest.mark.unit

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
IO = Path(connector.io.__file__).parent


def contract(contract_id: str) -> dict[str, Any]:
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    found: dict[str, Any] = next(c for c in contracts if c.get("id") == contract_id)
    return found


def test_every_connector_io_module_is_a_wire_format_or_an_adapter() -> None:
    wire_contract = contract("connector-wire-pure")
    wire = set(wire_contract["source_modules"])
    adapters = {m for m in wire_contract["forbidden_modules"] if m.startswith("connector.io.")}
    modules = {f"connector.io.{p.stem}" for p in IO.glob("*.py") if p.stem != "__init__"}
    assert not wire & adapters, "named as both a wire format and an adapter"
    assert modules == wire | adapters, (
        f"unclassified: {sorted(modules - wire - adapters)}; "
        f"named but absent: {sorted((wire | adapters) - modules)}")

