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

from suites.fixtures.bring_up_ahead import RECIPES, lab_key, next_lab

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


def key(recipe: Any) -> str | None:
    return None if recipe is None else recipe.key


def cloud(module: str, topology: str, backend: str = "docker") -> Any:
    """A test of a cloud module on `topology` (typed Any: it stands for a pytest.Item)."""
    return Item(f"{module}::t[{topology}-{backend}]", {"cloud": (topology, backend)},
                (backend,))


def item(nodeid: str, params: dict[str, object], markers: tuple[str, ...] = ("docker",)
         ) -> Any:
    return Item(nodeid, params, markers)


def test_the_lab_is_read_from_the_fixture_that_brings_it_up() -> None:
    assert lab_key(cloud("a.py", "azure-x")) == "azure-x"
    assert lab_key(cloud("a.py", "azure-x", "netns")) is None
    assert lab_key(item("a.py::t", {"v6lab": ("aws-y", "docker")})) == "aws-y"
    assert lab_key(item("a.py::t", {"gwlb_lab": "docker"})) == "gwlb"
    assert lab_key(item("a.py::t", {"gwlb_lab": "netns"})) is None
    assert lab_key(item("s.py::t", {"docker_gwlb": None})) == "gwlb"
    # the checked-in compose file's lab has fixed names: never brought up ahead
    assert lab_key(item("m.py::t", {"minimal_lab": "docker"})) is None


def test_the_next_lab_of_the_docker_group_is_brought_up_ahead() -> None:
    items = [cloud("a.py", "azure-x"), cloud("a.py", "azure-x"),
             cloud("b.py", "aws-z", "netns"),  # another worker's: not in the docker group
             cloud("c.py", "gcp-y")]
    assert key(next_lab(items, items[0])) == "gcp-y"
    assert key(next_lab(items, items[1])) == "gcp-y"
    assert next_lab(items, items[3]) is None  # the last lab


def test_each_lab_of_one_module_is_one_to_bring_up() -> None:
    items = [cloud("v6.py", "aws-a"), cloud("v6.py", "aws-b"), cloud("v6.py", "aws-c")]
    assert key(next_lab(items, items[0])) == "aws-b"
    assert key(next_lab(items, items[1])) == "aws-c"


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
    assert key(next_lab(items, items[1])) == "gcp-y"


def test_a_lab_of_the_tests_own_making_is_looked_past() -> None:
    """The compose file's lab (fixed names) has no recipe: the next lab that has one is
    brought up ahead while it runs, and while the lab before it runs."""
    items = [cloud("a.py", "azure-x"), item("m.py::t", {"minimal_lab": "docker"}),
             cloud("c.py", "gcp-y"), cloud("c.py", "azure-x")]
    assert key(next_lab(items, items[0])) == "gcp-y"
    assert key(next_lab(items, items[1])) == "gcp-y"
    # looked past only to a lab the pool would not lend
    assert next_lab([items[0], items[1], items[3]], items[0]) is None


def test_a_module_registers_the_recipe_of_a_lab_it_writes_itself() -> None:
    """The imported clouds', the gateways' and the security groups' fixtures bring up
    topology files of their own; their modules say how to make those labs ahead, under
    keys of their own."""
    import suites.functional.cloud.test_imported_clouds
    import suites.functional.lab.test_gateways_negative
    import suites.functional.lab.test_security_groups  # noqa: F401 - each registers its own

    assert lab_key(item("i.py::t", {"imported": ("aws-vendor-open", "docker")})) == \
        "imp-aws-vendor-open"
    assert lab_key(item("i.py::t", {"imported": ("aws-vendor-open", "netns")})) is None
    assert lab_key(item("g.py::t", {"gw_lab": "docker"})) == "gateways-on"
    assert lab_key(item("n.py::t", {"gw_off_lab": "docker"})) == "gateways-off"
    assert lab_key(item("s.py::t", {"sg_lab": "docker"})) == "sg"
    assert {"imported", "gw_lab", "gw_off_lab", "sg_lab"} <= set(RECIPES)
