"""Topology pictures: the DOT text of every shipped topology, and the SVG `cclab graph` draws."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import pytest

from lab.catalog import TOPOLOGY_DIR, shipped_topologies
from lab.graph import draw, render_dot
from lab.schema import load_topology
from suites.golden.golden import check_golden

pytestmark = pytest.mark.golden

HERE = Path(__file__).parent


@pytest.mark.parametrize("name", shipped_topologies())
def test_shipped_topology_dot(request: pytest.FixtureRequest, name: str) -> None:
    topo = load_topology(TOPOLOGY_DIR / f"{name}.yaml")
    check_golden(request, render_dot(topo), HERE / "graphs" / f"{name}.dot")


def test_graph_draws_an_svg_with_every_node_and_public_address(tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        pytest.skip("needs graphviz's `dot` (apt-get install graphviz)")
    topo = load_topology(TOPOLOGY_DIR / "aws-no-natgw.yaml")
    svg = html.unescape(draw(topo, tmp_path / "aws.svg").read_text())  # "ac&#45;a"
    assert svg.lstrip().startswith("<?xml")
    for node in topo.nodes:
        assert f">{node.name}<" in svg, node.name
    for public in ("203.0.113.21", "203.0.113.31"):
        assert public in svg
