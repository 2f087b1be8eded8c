"""The docker lab pool's decisions: what counts as a change, and when a lab is parked.

`Fingerprint.changes` is the check that modules sharing a lab leave it as they were
lent it; `wanted_later` decides whether a given-back lab waits for a later module or
goes. (The pool on a real lab: suites/functional/lab/test_lab_pool.py.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from suites.fixtures.lab_pool import Fingerprint, LabPool, pooled_keys, wanted_later

pytestmark = pytest.mark.unit

RULES = "table inet cclab {\n\tchain input {\n\t\ttype filter hook input priority 0;\n\t}\n}\n"


def test_the_same_lab_has_no_changes() -> None:
    lent = Fingerprint({"web": RULES}, frozenset({("web", "web", True)}))
    assert lent.changes(Fingerprint({"web": RULES}, frozenset({("web", "web", True)}))) == []


def test_an_added_rule_is_named_with_its_node_and_line() -> None:
    lent = Fingerprint({"web": RULES, "cc1": RULES}, frozenset())
    later = RULES.replace("priority 0;\n", "priority 0;\n\t\tip saddr 10.0.0.1 drop\n")
    changes = lent.changes(Fingerprint({"web": RULES, "cc1": later}, frozenset()))
    assert len(changes) == 1
    assert changes[0].startswith("cc1: ")
    assert "+\t\tip saddr 10.0.0.1 drop" in changes[0]


def test_a_stopped_service_is_a_change() -> None:
    lent = Fingerprint({}, frozenset({("cc1", "connector", True)}))
    changes = lent.changes(Fingerprint({}, frozenset({("cc1", "connector", False)})))
    assert changes == ["service cc1/connector: not running (was the other)"]


def test_a_node_gone_is_a_change() -> None:
    lent = Fingerprint({"web": RULES}, frozenset())
    assert lent.changes(Fingerprint({}, frozenset())) != []


@dataclass
class Item:
    """The two attributes of a pytest item the pool reads."""

    nodeid: str
    params: dict[str, object] = field(default_factory=dict)
    group: str | None = None  # its xdist group (suites/fixtures/parallel_groups.py)

    @property
    def callspec(self) -> object:
        return type("CallSpec", (), {"params": self.params})()

    def get_closest_marker(self, name: str) -> object | None:
        return (pytest.mark.xdist_group(self.group).mark
                if name == "xdist_group" and self.group else None)


ITEMS = [Item("a.py::t[docker]", {"gwlb_lab": "docker"}),
         Item("a.py::u[docker]", {"gwlb_lab": "docker"}),
         Item("b.py::t[netns]", {"gwlb_lab": "netns"}),
         Item("c.py::t[docker]", {"minimal_lab": "docker"}),
         Item("d.py::t[docker]", {"gwlb_lab": "docker"}),
         Item("e.py::t[azure-x-docker]", {"cloud": ("azure-x", "docker")}),
         Item("e.py::t[azure-x-netns]", {"cloud": ("azure-x", "netns")}),
         Item("f.py::t[azure-y-docker]", {"v6lab": ("azure-y", "docker")})]


def test_only_the_docker_param_of_a_pooled_fixture_is_pooled() -> None:
    """A cloud fixture's param is (topology, backend): pooled under the topology, and only
    for the fixtures lab_pool.POOLED_BY_TOPOLOGY names."""
    assert [pooled_keys(i) for i in ITEMS] == [  # type: ignore[arg-type]
        {"gwlb"}, {"gwlb"}, set(), {"minimal-compose"}, {"gwlb"}, {"azure-x"}, set(), set()]


def test_a_lab_waits_only_for_a_later_module() -> None:
    items: list = ITEMS  # type: ignore[type-arg]
    assert wanted_later(items, items[0], "gwlb")  # d.py, after a.py
    assert wanted_later(items, items[1], "gwlb")
    assert not wanted_later(items, items[4], "gwlb")  # the last user
    assert wanted_later(items, items[1], "minimal-compose")  # c.py
    assert not wanted_later(items, items[3], "minimal-compose")
    assert wanted_later(items, items[0], "azure-x")  # e.py's cloud fixture
    assert not wanted_later(items, items[5], "azure-x")  # the last user
    assert not wanted_later(items, items[0], "azure-y")  # f.py's fixture is not pooled
    assert not wanted_later(items, None, "gwlb")


def test_a_lab_waits_only_for_a_module_of_its_own_group() -> None:
    """The other docker group's modules run on another worker: a lab parked for them
    would wait for nobody."""
    items: list = [Item("a.py::t[docker]", {"gwlb_lab": "docker"}, "docker-lab"),  # type: ignore[type-arg]
                   Item("b.py::t[docker]", {"gwlb_lab": "docker"}, "docker-cloud"),
                   Item("c.py::t[docker]", {"gwlb_lab": "docker"}, "docker-lab")]
    assert wanted_later(items, items[0], "gwlb")  # c.py
    assert not wanted_later(items, items[1], "gwlb")  # c.py is the other group's


def test_a_lab_does_not_wait_for_its_own_module() -> None:
    own = [Item("a.py::t[docker]", {"gwlb_lab": "docker"}),
           Item("a.py::u[docker]", {"gwlb_lab": "docker"}),
           Item("b.py::t[netns]", {"gwlb_lab": "netns"})]
    assert not wanted_later(own, own[0], "gwlb")  # only a.py itself uses it later


def test_a_lab_with_one_user_is_not_lent() -> None:
    """`shares`: lent (fingerprinted, maybe parked) only when a lab of the key is parked
    or a later module wants one."""
    pool = LabPool(wanted=lambda key: key == "gwlb")
    assert pool.shares("gwlb")
    assert not pool.shares("azure-x")
    pool.parked["azure-x"] = object()  # type: ignore[assignment]
    assert pool.shares("azure-x")
