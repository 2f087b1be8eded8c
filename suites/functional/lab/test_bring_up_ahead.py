"""A lab brought up ahead (suites/fixtures/bring_up_ahead.py), on a real netns lab: the
docker group brings its next lab up this way; the mechanism is the same on both backends.
(Which lab is brought up ahead, and when not: suites/unit/test_bring_up_ahead.py.)"""

from __future__ import annotations

import pytest

from lab.api import bring_up
from lab.backends.netns_links import list_namespaces
from suites.fixtures.bring_up_ahead import BringUpsAhead, Recipe, shipped

pytestmark = [pytest.mark.netns, pytest.mark.usefixtures("lab_capable")]


def _namespaces_of(instance: str) -> list[str]:
    return [ns for ns in list_namespaces() if ns.startswith(f"cclab.{instance}.")]


MINIMAL = shipped("minimal", backend="netns")


def test_a_lab_brought_up_ahead_is_taken_once_and_up(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    ahead = BringUpsAhead()
    ahead.start(MINIMAL, tmp_path_factory)
    ahead.start(MINIMAL, tmp_path_factory)  # already going: not a second lab
    assert list(ahead.going) == ["minimal"]
    lab = ahead.take("minimal")
    assert lab is not None
    try:
        assert lab.topology.name == "minimal"
        assert lab.exec("workload1", "ping", "-c", "1", "-W", "2", "10.10.1.12").ok
        assert ahead.take("minimal") is None  # taken: the next fixture brings its own
    finally:
        lab.down()
    assert _namespaces_of(lab.instance) == []


def test_a_lab_brought_up_ahead_and_not_taken_is_removed(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    ahead = BringUpsAhead()
    ahead.start(MINIMAL, tmp_path_factory)
    going = ahead.going["minimal"]
    assert going.thread is not None
    going.thread.join()
    instance = going.made[0].instance
    assert _namespaces_of(instance)  # it came up
    ahead.drop()
    assert _namespaces_of(instance) == []
    assert ahead.going == {}


def test_a_bring_up_ahead_that_failed_leaves_the_fixture_its_own(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    ahead = BringUpsAhead()
    broken = Recipe("broken", lambda instance, _tmp: bring_up(
        "no-such-topology", instance=instance, backend="netns"))
    ahead.start(broken, tmp_path_factory)
    assert ahead.take("broken") is None
    assert ahead.going == {}
