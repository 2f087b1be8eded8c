"""Composed topologies: a variant's plan, and bad overlays -> the exact error listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import TopologyError
from lab.plan import build_plan, render_plan
from lab.schema import load_topology
from suites.golden.golden import check_golden

pytestmark = pytest.mark.golden

HERE = Path(__file__).parent
VARIANTS = sorted(p.stem for p in (HERE / "variants").glob("*.yaml"))
CASES = sorted(p.stem for p in (HERE / "overlays").glob("*.log"))


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_plan(request: pytest.FixtureRequest, name: str) -> None:
    topo = load_topology(HERE / "variants" / f"{name}.yaml")
    check_golden(request, render_plan(build_plan(topo)), HERE / "variants" / f"{name}.plan")


@pytest.mark.parametrize("name", VARIANTS)
def test_a_variant_is_a_small_file(name: str) -> None:
    assert len((HERE / "variants" / f"{name}.yaml").read_text().splitlines()) < 30


@pytest.mark.parametrize("case", CASES)
def test_bad_overlay_error_text(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                                case: str) -> None:
    monkeypatch.chdir(HERE)  # file names in the listing are relative, as a user gives them
    with pytest.raises(TopologyError) as caught:
        load_topology(Path("overlays") / f"{case}.yaml")
    check_golden(request, str(caught.value) + "\n", HERE / "overlays" / f"{case}.log")
