"""A lab brought up ahead (suites/fixtures/bring_up_ahead.py), on a real netns lab: the
docker group brings its next lab up this way; the mechanism is the same on both backends.
(Which lab is brought up ahead, and when not: suites/unit/test_bring_up_ahead.py.)"""

from __future__ import annotations

import pytest

from lab.backends.netns_links import list_namespaces
from suites.fixtures.bring_up_ahead import BringUpsAhead

pytestmark = [pytest.mark.netns, pytest.mark.usefixtures("lab_capable")]


def _namespaces_of(instance: str) -> list[str]:
    return [ns for ns in list_namespaces() if ns.startswith(f"cclab.{instance}.")]


def test_a_lab_brought_up_ahead_is_taken_once_and_up() -> None:
    ahead = BringUpsAhead(backend="netns")
    ahead.start("minimal")
    ahead.start("minimal")  # already going: not a second lab
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


def test_a_lab_brought_up_ahead_and_not_taken_is_removed() -> None:
    ahead = BringUpsAhead(backend="netns")
    ahead.start("minimal")
    going = ahead.going["minimal"]
    assert going.thread is not None
    going.thread.join()
    instance = going.made[0].instance
    assert _namespaces_of(instance)  # it came up
    ahead.drop()
    assert _namespaces_of(instance) == []
    assert ahead.going == {}


def test_a_bring_up_ahead_that_failed_leaves_the_fixture_its_own() -> None:
    ahead = BringUpsAhead(backend="netns")
    ahead.start("no-such-topology")
    assert ahead.take("no-such-topology") is None
    assert ahead.going == {}
