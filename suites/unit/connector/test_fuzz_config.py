"""The config parser survives random and mutated files: every outcome is a config or a
`ConfigError` listing problems, never another exception (issue #4.6).

A whole YAML document costs about a millisecond, so the unit tier runs 5,000 inputs
and the load tier the full 100,000 (CI runs both).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.config import ConnectorConfig, parse_config_bytes
from connector.errors import ConfigError
from suites.unit.connector.fuzzing import crashes

TOPOLOGIES = Path(__file__).resolve().parents[3] / "lab" / "topologies" / "connectors"
SEEDS = [p.read_bytes() for p in sorted(TOPOLOGIES.glob("*.yaml"))]


def _parse(data: bytes) -> object:
    try:
        return parse_config_bytes(data, source=Path("fuzz.yaml"))
    except ConfigError as exc:
        return exc if exc.issues else "a ConfigError naming no problem"


@pytest.mark.parametrize("count", [
    pytest.param(5_000, marks=pytest.mark.unit, id="5k"),
    pytest.param(100_000, marks=pytest.mark.load, id="100k")])
def test_config_parser_survives_random_and_mutated_files(count: int) -> None:
    kinds, bad = crashes(_parse, SEEDS, count, (ConnectorConfig, ConfigError))
    assert bad == [], f"{len(bad)} crash(es), first inputs: {bad}"
    assert set(kinds) == {"ConnectorConfig", "ConfigError"}, kinds
