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

from suites.fixtures import lab
from suites.fixtures.bring_up_ahead import lab_key, lab_recipe, next_lab, shipped_by_param

pytestmark = pytest.mark.unit


@lab_recipe(shipped_by_param)
def cloud_fixture() -> None:
    """Stands for a module fixture whose param is (topology, backend)."""


def minimal_fixture() -> None:
    """Stands for the compose file's lab: made by no recipe (fixed names)."""


def real(fixture: Any) -> Any:
    """The function under a real `@pytest.fixture`: what pytest's fixture definitions hold
    (and `recipe_of` reads)."""
    return fixture._get_wrapped_function()


# The fixtures the fake items below stand on, by name.
FIXTURES: dict[str, Any] = {"cloud": cloud_fixture, "minimal_lab": minimal_fixture,
                            "gwlb_lab": real(lab.gwlb_lab)}


@dataclass
class Item:
    """What `next_lab` reads of a pytest item: its id, params, fixtures (and the
    functions that define them) and markers."""

    nodeid: str
    params: dict[str, object] = field(default_factory=dict)
    markers: tuple[str, ...] = ("docker",)
    functions: dict[str, Any] = field(default_factory=dict)
    group: str | None = None  # its xdist group (suites/fixtures/parallel_groups.py)

    @property
    def callspec(self) -> object:
        return type("CallSpec", (), {"params": self.params})()

    @property
    def fixturenames(self) -> list[str]:
        return [*self.params, "tmp_path"]

    @property
    def _fixtureinfo(self) -> object:
        defs = {name: [type("Def", (), {"func": staticmethod(function)})]
                for name, function in {**FIXTURES, **self.functions}.items()}
        return type("Info", (), {"name2fixturedefs": defs})()

    def get_closest_marker(self, name: str) -> object | None:
        if name == "xdist_group":
            return pytest.mark.xdist_group(self.group).mark if self.group else None
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


def test_the_lab_is_read_from_the_recipe_of_the_fixture_that_makes_it() -> None:
    assert lab_key(cloud("a.py", "azure-x")) == "azure-x"
    assert lab_key(cloud("a.py", "azure-x", "netns")) is None  # docker labs only
    assert lab_key(item("a.py::t", {"gwlb_lab": "docker"})) == "gwlb"
    assert lab_key(item("a.py::t", {"gwlb_lab": "netns"})) is None
    # the checked-in compose file's lab has fixed names: made by no recipe, never ahead
    assert lab_key(item("m.py::t", {"minimal_lab": "docker"})) is None
    # by the fixture's function, not its name: another module's `cloud` without a recipe
    other: Any = Item("o.py::t", {"cloud": ("azure-x", "docker")}, functions={"cloud": min})
    assert lab_key(other) is None


def test_the_next_lab_of_the_docker_group_is_brought_up_ahead() -> None:
    items = [cloud("a.py", "azure-x"), cloud("a.py", "azure-x"),
             cloud("b.py", "aws-z", "netns"),  # another worker's: not in the docker group
             cloud("c.py", "gcp-y")]
    assert key(next_lab(items, items[0])) == "gcp-y"
    assert key(next_lab(items, items[1])) == "gcp-y"
    assert next_lab(items, items[3]) is None  # the last lab


def test_the_next_lab_is_one_of_the_same_docker_group() -> None:
    """The other docker group runs on another worker: its labs are not this one's."""
    mine, other = "docker-lab", "docker-cloud"
    items = [Item("a.py::t", {"cloud": ("azure-x", "docker")}, group=mine),
             Item("b.py::t", {"cloud": ("aws-z", "docker")}, group=other),
             Item("c.py::t", {"cloud": ("gcp-y", "docker")}, group=mine)]
    assert key(next_lab(items, items[0])) == "gcp-y"  # b.py's aws-z looked past
    assert next_lab(items, items[1]) is None  # its group has no lab after it


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


def test_each_fixture_that_makes_a_docker_lab_declares_its_recipe() -> None:
    """The shipped topologies' fixtures, and those of labs a module writes itself (the
    imported clouds', the gateways' and the security groups'): each makes its lab by the
    recipe it declares, under a key of its own."""
    from suites.functional.cloud import (
        test_azure_gwlb,
        test_azure_ilb,
        test_azure_plb_inbound,
        test_cloud_topologies,
        test_imported_clouds,
        test_ipv6_bypass,
    )
    from suites.functional.lab import test_gateways, test_gateways_negative, test_security_groups
    from suites.functional.scenarios import test_scenarios_docker

    def key_of(fixture: Any, param: object) -> str | None:
        made_by: Any = Item("x.py::t", {"f": param}, functions={"f": real(fixture)})
        return lab_key(made_by)

    for fixture in (test_cloud_topologies.cloud, test_ipv6_bypass.v6lab, test_azure_ilb.azure,
                    test_azure_gwlb.gwlb, test_azure_plb_inbound.plb):
        assert key_of(fixture, ("aws-y", "docker")) == "aws-y", fixture
        assert key_of(fixture, ("aws-y", "netns")) is None, fixture
    assert key_of(lab.sublocation_lab, "docker") == "gwlb-sublocations"
    assert key_of(test_scenarios_docker.docker_gwlb, None) == "gwlb"
    assert key_of(test_imported_clouds.imported, ("aws-vendor-open", "docker")) == \
        "imp-aws-vendor-open"
    assert key_of(test_imported_clouds.imported, ("aws-vendor-open", "netns")) is None
    assert key_of(test_gateways.gw_lab, "docker") == "gateways-on"
    assert key_of(test_gateways_negative.gw_off_lab, "docker") == "gateways-off"
    assert key_of(test_security_groups.sg_lab, "docker") == "sg"
