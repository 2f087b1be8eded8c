"""Golden tests: a bad connector config -> the exact listing of every problem in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.config import load_config, parse_config
from connector.errors import ConfigError
from connector.io.nft_render import render_ruleset
from lab.catalog import TOPOLOGY_DIR
from suites.golden.golden import check_golden

pytestmark = pytest.mark.golden

HERE = Path(__file__).parent
ERROR_CASES = sorted(p.stem for p in (HERE / "errors").glob("*.yaml"))
SHIPPED = sorted(p.stem for p in (TOPOLOGY_DIR / "connectors").glob("*.yaml"))


@pytest.mark.parametrize("case", ERROR_CASES)
def test_bad_config_error_text(request: pytest.FixtureRequest, case: str) -> None:
    source = Path("errors") / f"{case}.yaml"
    with pytest.raises(ConfigError) as caught:
        parse_config((HERE / source).read_text(), source=source)
    check_golden(request, caught.value.render() + "\n", HERE / "errors" / f"{case}.log")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_ruleset(request: pytest.FixtureRequest, name: str) -> None:
    config = load_config(TOPOLOGY_DIR / "connectors" / f"{name}.yaml")
    check_golden(request, render_ruleset(config), HERE / "rulesets" / f"{name}.nft")
