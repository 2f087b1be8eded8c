"""`suites/fixtures/each_node.py`: commands in several nodes at once, judged per node."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.api import LabHandle
from suites.fixtures.each_node import answered_pings, run_in_each

pytestmark = [pytest.mark.netns, pytest.mark.usefixtures("lab_capable")]
ONLY_NETNS = pytest.mark.parametrize("minimal_lab", ["netns"], indirect=True, scope="module")
WORKLOAD1, WORKLOAD2, UNUSED = "10.10.1.11", "10.10.1.12", "10.10.1.99"  # minimal.yaml


@ONLY_NETNS
def test_each_node_sees_only_the_pings_that_were_answered(minimal_lab: LabHandle) -> None:
    """A neighbour answers, an address no node has does not: per node, only the first."""
    answered = answered_pings(minimal_lab, {"workload1": [WORKLOAD2, UNUSED],
                                            "workload2": [UNUSED, WORKLOAD1]})
    assert answered == {"workload1": [WORKLOAD2], "workload2": [WORKLOAD1]}


@ONLY_NETNS
def test_the_nodes_commands_run_at_the_same_time(minimal_lab: LabHandle, tmp_path: Path) -> None:
    """Each node's command waits for the other's mark (netns nodes share the host's
    files): asked one after the other, the first would wait out its 5 s and fail."""
    def meet(mine: str, theirs: str) -> tuple[str, ...]:
        return ("timeout", "5", "sh", "-c", f"touch {tmp_path / mine}; "
                f"while [ ! -e {tmp_path / theirs} ]; do sleep 0.05; done; echo met")
    done = run_in_each(minimal_lab, {"workload1": meet("a", "b"), "workload2": meet("b", "a")},
                       check=False)
    assert {node: (r.returncode, r.stdout.strip()) for node, r in done.items()} == {
        "workload1": (0, "met"), "workload2": (0, "met")}
