"""Labs torn down behind the next one: what waits for what, and what a failed removal becomes.

The labs here are stand-ins whose `down` the test holds and releases, so the order of
events is the test's, not the machine's; what a real docker lab's removal does is
`LabHandle.down`, the same call (suites/functional/lab/test_docker_lifecycle.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from lab.api import LabHandle
from lab.backends.docker import DockerBackend
from suites.fixtures.teardown_behind import (
    TeardownFailed,
    TeardownsBehind,
    tears_down_behind,
    wait_for_removals,
)

pytestmark = pytest.mark.unit


@dataclass
class HeldLab:
    """A lab whose removal waits until the test lets it go, and fails as told."""

    instance: str
    backend: object = None
    fails: list[str] = field(default_factory=list)  # one message per failing removal
    released: threading.Event = field(default_factory=threading.Event)
    downs: int = 0

    def down(self) -> None:
        self.released.wait(5)
        self.downs += 1
        if self.fails:
            raise RuntimeError(self.fails.pop(0))


def _lab(held: HeldLab) -> LabHandle:
    return cast(LabHandle, held)


def test_start_returns_while_the_removal_goes_on_and_settle_waits_for_it() -> None:
    behind, held = TeardownsBehind(), HeldLab("cloud-aws-t1")
    behind.start(_lab(held))
    assert held.downs == 0
    assert len(behind.going) == 1
    threading.Timer(0.2, held.released.set).start()
    behind.settle()
    assert held.downs == 1
    assert behind.going == []
    assert behind.failed == []


def test_a_failed_removal_is_tried_again_at_the_finish_and_then_passes() -> None:
    behind, held = TeardownsBehind(), HeldLab("cloud-aws-t1", fails=["network stayed"])
    held.released.set()
    behind.start(_lab(held))
    behind.settle()
    assert [r.lab for r in behind.failed] == [held]  # kept, not raised mid-session
    behind.finish()
    assert held.downs == 2
    assert behind.failed == []


def test_a_removal_that_fails_again_ends_the_session_naming_the_lab_and_both_causes() -> None:
    behind = TeardownsBehind()
    held = HeldLab("cloud-aws-t1", fails=["network stayed", "engine busy"])
    held.released.set()
    behind.start(_lab(held))
    with pytest.raises(TeardownFailed) as raised:
        behind.finish()
    message = str(raised.value)
    assert "cloud-aws-t1: network stayed; tried again: engine busy" in message
    assert "cclab down --name NAME" in message


def test_every_removal_is_waited_for_in_the_order_started() -> None:
    behind = TeardownsBehind()
    labs = [HeldLab(f"lab{n}") for n in range(3)]
    for held in labs:
        held.released.set()
        behind.start(_lab(held))
    behind.settle()
    assert [held.downs for held in labs] == [1, 1, 1]


class DestroyRecorded(DockerBackend):
    """A docker backend whose removal records how it was asked, and removes nothing."""

    asked: list[dict[str, bool]]

    def destroy(self, *, may_restart_engine: bool = True) -> list[str]:
        self.asked.append({"may_restart_engine": may_restart_engine})
        return []


def test_a_docker_lab_removed_behind_never_restarts_the_engine() -> None:
    """The engine restart that frees a stale network would take the engine from under the
    lab coming up beside the removal (the retry at the finish, with none beside it, may)."""
    backend = DestroyRecorded("cloud-aws-t1")
    backend.asked = []
    held = HeldLab("cloud-aws-t1", backend=backend)
    held.down = backend.destroy  # type: ignore[method-assign, assignment]
    behind = TeardownsBehind()
    behind.start(_lab(held))
    behind.settle()
    assert backend.asked == [{"may_restart_engine": False}]


@dataclass
class Named:
    name: str


@pytest.mark.parametrize(("backend", "instance", "behind"), [
    ("docker", "cloud-aws-no-natg-t42", True),
    ("docker", "minimal", False),  # the checked-in compose file's lab: fixed names
    ("netns", "cloud-aws-no-natg-t42", False),
])
def test_only_docker_labs_of_their_own_slice_go_behind(backend: str, instance: str,
                                                       behind: bool) -> None:
    lab: Any = type("Lab", (), {"backend": Named(backend), "instance": instance,
                                "topology": Named("minimal")})()
    assert tears_down_behind(lab) is behind


@pytest.mark.parametrize(("markers", "how"), [
    ((), ""),  # beside a removal: it touches only its own lab
    (("docker",), ""),
    (("netns", "host_wide"), "finish"),  # no container may run; failed ones tried again
    (("docker", "quiet"), "settle"),  # a flood beside a removal would measure its CPU
    (("host_wide", "quiet"), "finish"),
])
def test_only_a_test_that_must_be_alone_waits_for_the_removals(markers: tuple[str, ...],
                                                                how: str) -> None:
    item: Any = type("Item", (), {"get_closest_marker":
                                  lambda self, name: object() if name in markers else None})()
    assert wait_for_removals(item) == how
