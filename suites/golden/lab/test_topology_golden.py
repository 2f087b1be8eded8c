"""Golden tests: topology -> plan text, and bad topology -> the exact error listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.catalog import TOPOLOGY_DIR, shipped_topologies
from lab.errors import TopologyError
from lab.plan import build_plan, render_plan
from lab.schema import load_topology, parse_topology
from suites.golden.golden import check_golden

pytestmark = pytest.mark.golden

HERE = Path(__file__).parent
ERROR_CASES = sorted(p.stem for p in (HERE / "errors").glob("*.yaml"))


@pytest.mark.parametrize("name", shipped_topologies())
def test_shipped_topology_plan(request: pytest.FixtureRequest, name: str) -> None:
    topo = load_topology(TOPOLOGY_DIR / f"{name}.yaml")
    check_golden(request, render_plan(build_plan(topo)), HERE / "plans" / f"{name}.plan")


@pytest.mark.parametrize("case", ERROR_CASES)
def test_bad_topology_error_text(request: pytest.FixtureRequest, case: str) -> None:
    source = Path("errors") / f"{case}.yaml"
    text = (HERE / source).read_text()
    with pytest.raises(TopologyError) as caught:
        parse_topology(text, source=source)
    check_golden(request, str(caught.value) + "\n", HERE / "errors" / f"{case}.log")
