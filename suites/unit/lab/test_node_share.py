"""A node's share of the plan, written by the host and read by the node agent, is exactly
what the agent would plan itself from the topology file; a stale or foreign share is not used."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.catalog import TOPOLOGY_DIR, shipped_topologies, topology_path
from lab.compose import attached_addresses, node_shares
from lab.node_agent import __main__ as agent
from lab.node_agent.share import decode_share, encode_share, topology_digest
from lab.plan import build_plan, steps_for_node
from lab.schema import load_topology

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", shipped_topologies())
def test_every_share_round_trips_to_the_agents_own_plan(name: str) -> None:
    topo = load_topology(topology_path(name))
    plan = build_plan(topo, "x")
    shares = node_shares(topo, "x", "d")
    assert [s.node for s in shares] == [n.name for n in topo.nodes]
    for share in shares:
        back = decode_share(encode_share(share))
        assert back == share
        assert list(back.steps) == steps_for_node(plan, "x", share.node)
        assert back.attached == attached_addresses(topo, share.node)


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(agent, "RUN", str(tmp_path))
    (tmp_path / "plans").mkdir()
    return tmp_path


def _write_shares(run_dir: Path, topology: Path, instance: str, digest: str) -> None:
    for share in node_shares(load_topology(topology), instance, digest):
        (run_dir / "plans" / f"{share.node}.json").write_text(encode_share(share))


def test_a_share_the_host_wires_for_names_no_address_and_says_so(run_dir: Path) -> None:
    """`cclab up` on docker: the host makes the interfaces (no docker network attaches an
    address), and the agent learns from the share that it is to wait for them."""
    topology = TOPOLOGY_DIR / "gwlb.yaml"
    digest = topology_digest(topology.read_bytes())
    for share in node_shares(load_topology(topology), "x", digest, wired_by_host=True):
        assert decode_share(encode_share(share)) == share
        (run_dir / "plans" / f"{share.node}.json").write_text(encode_share(share))
    steps, attached, wired_by_host = agent.node_share(topology, "x", "cc1")
    assert (attached, wired_by_host) == ({}, True)
    assert steps == steps_for_node(build_plan(load_topology(topology), "x"), "x", "cc1")


def test_the_agent_reads_its_share_and_plans_the_same_without_one(run_dir: Path) -> None:
    topology = TOPOLOGY_DIR / "gwlb.yaml"
    planned = agent.node_share(topology, "x", "cc1")  # no share: planned in the node
    _write_shares(run_dir, topology, "x", topology_digest(topology.read_bytes()))
    assert agent.node_share(topology, "x", "cc1") == planned


@pytest.mark.parametrize(("instance", "digest"), [("y", None), ("x", "another-file")])
def test_a_share_of_another_lab_or_file_is_not_used(run_dir: Path, instance: str,
                                                    digest: str | None) -> None:
    topology = TOPOLOGY_DIR / "gwlb.yaml"
    other = load_topology(TOPOLOGY_DIR / "minimal.yaml")  # wrong steps, were they used
    for share in node_shares(other, instance, digest or topology_digest(topology.read_bytes())):
        (run_dir / "plans" / f"{share.node}.json").write_text(encode_share(share))
    topo = load_topology(topology)
    expected = (steps_for_node(build_plan(topo, "x"), "x", "workload1"),
                attached_addresses(topo, "workload1"), False)
    assert agent.node_share(topology, "x", "workload1") == expected
    assert (run_dir / "plans" / "workload1.json").exists()
