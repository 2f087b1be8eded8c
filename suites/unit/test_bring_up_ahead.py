"""Which lab the docker group brings up ahead, while the lab before it serves its tests.

`next_lab` reads the run order (the docker group runs on one worker in collection
order); it must never bring a lab up across a test that runs alone, nor bring up one
the pool would lend. (A lab brought up ahead and taken: suites/functional/lab/
test_bring_up_ahead.py.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from suites.fixtures.bring_up_ahead import docker_topology, next_lab

pytestmark = pytest.mark.unit


@dataclass
class Item:
    """What `next_lab` reads of a pytest item: its id, params, fixtures and markers."""

    nodeid: str
    params: dict[str, object] = field(default_factory=dict)
    markers: tuple[str, ...] = ("docker",)

    @property
    def callspec(self) -> object:
        return type("CallSpec", (), {"params": self.params})()

    @property
    def fixturenames(self) -> list[str]:
        return [*self.params, "tmp_path"]

    def get_closest_marker(self, name: str) -> object | None:
        return object() if name in self.markers else None


def cloud(module: str, topology: str, backend: str = "docker") -> Any:
    """A test of a cloud module on `topology` (typed Any: it stands for a pytest.Item)."""
    return Item(f"{module}::t[{topology}-{backend}]", {"cloud": (topology, backend)},
                (backend,))


def item(nodeid: str, params: dict[str, object], markers: tuple[str, ...] = ("docker",)
         ) -> Any:
    return Item(nodeid, params, markers)


def test_the_topology_is_read_from_the_fixture_that_brings_it_up() -> None:
    assert docker_topology(cloud("a.py", "azure-x")) == "azure-x"
    assert docker_topology(cloud("a.py", "azure-x", "netns")) is None
    assert docker_topology(item("a.py::t", {"v6lab": ("aws-y", "docker")})) == "aws-y"
    assert docker_topology(item("a.py::t", {"gwlb_lab": "docker"})) == "gwlb"
    assert docker_topology(item("a.py::t", {"gwlb_lab": "netns"})) is None
    assert docker_topology(item("s.py::t", {"docker_gwlb": None})) == "gwlb"
    # the checked-in compose file's lab has fixed names: never brought up ahead
    assert docker_topology(item("m.py::t", {"minimal_lab": "docker"})) is None


def test_the_next_lab_of_the_docker_group_is_brought_up_ahead() -> None:
    items = [cloud("a.py", "azure-x"), cloud("a.py", "azure-x"),
             cloud("b.py", "aws-z", "netns"),  # another worker's: not in the docker group
             cloud("c.py", "gcp-y")]
    assert next_lab(items, items[0]) == "gcp-y"
    assert next_lab(items, items[1]) == "gcp-y"
    assert next_lab(items, items[3]) is None  # the last lab


def test_each_lab_of_one_module_is_one_to_bring_up() -> None:
    items = [cloud("v6.py", "aws-a"), cloud("v6.py", "aws-b"), cloud("v6.py", "aws-c")]
    assert next_lab(items, items[0]) == "aws-b"
    assert next_lab(items, items[1]) == "aws-c"


def test_no_lab_comes_up_across_a_test_that_runs_alone() -> None:
    wide = item("w.py::t", {}, ("netns", "host_wide"))
    quiet = item("q.py::t", {"cloud": ("gcp-y", "docker")}, ("docker", "quiet"))
    items = [cloud("a.py", "azure-x"), wide, cloud("c.py", "gcp-y")]
    assert next_lab(items, items[0]) is None
    assert next_lab(items, items[1]) is None  # nor during one
    assert next_lab([items[0], quiet], items[0]) is None
    assert next_lab([quiet, items[2]], quiet) is None


def test_a_lab_the_pool_would_lend_is_not_brought_up() -> None:
    items = [cloud("a.py", "azure-x"), cloud("b.py", "azure-x"), cloud("c.py", "gcp-y")]
    assert next_lab(items, items[0]) is None  # a.py's, given back
    assert next_lab(items, items[1], frozenset({"gcp-y"})) is None
    assert next_lab(items, items[1]) == "gcp-y"


def test_a_next_lab_not_brought_up_by_name_stops_the_look() -> None:
    items = [cloud("a.py", "azure-x"), item("m.py::t", {"minimal_lab": "docker"}),
             cloud("c.py", "gcp-y")]
    assert next_lab(items, items[0]) is None
    assert next_lab(items, items[1]) == "gcp-y"
