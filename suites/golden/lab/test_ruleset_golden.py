"""Golden: the fabric's security-group ruleset, word for word, for the dual-stack
topologies (IPv4 and IPv6 rules, each its family's; neighbour discovery passes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.catalog import TOPOLOGY_DIR
from lab.plan import peer_names
from lab.schema import load_topology
from lab.security_groups import render_security_groups
from suites.golden.golden import check_golden

pytestmark = pytest.mark.golden

HERE = Path(__file__).parent / "rulesets"


@pytest.mark.parametrize("name", ["aws-natgw-ipv6", "aws-natgw-ipv6-connector"])
def test_dual_stack_ruleset(request: pytest.FixtureRequest, name: str) -> None:
    topo = load_topology(TOPOLOGY_DIR / f"{name}.yaml")
    check_golden(request, render_security_groups(topo, peer_names(topo)), HERE / f"{name}.nft")
