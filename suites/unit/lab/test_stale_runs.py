"""Which labs a new test run removes: the harness's, whose owner is gone, and no other."""

from __future__ import annotations

import pytest

from lab.names import INSTANCE  # the lab-name rule the CLI and loader enforce
from suites.fixtures.stale_runs import harness_instance, orphaned, owner_of

pytestmark = pytest.mark.unit


def test_the_name_keeps_the_whole_pid_within_the_limit() -> None:
    name = harness_instance("cloud-azure-gwlb-no-natgw-extra", 4194303)
    assert len(name) <= 31
    assert name.endswith("-t4194303")
    assert owner_of(name) == 4194303
    assert INSTANCE.fullmatch(name)


def test_only_harness_labs_of_dead_owners_are_orphaned() -> None:
    names = ["minimal", "lab-2", "seal-t100", "cloud-aws-natg-t200", "ilb-t300"]
    assert orphaned(names, alive={200, 2}) == ["seal-t100", "ilb-t300"]


def test_a_lab_named_by_hand_is_never_orphaned() -> None:
    assert owner_of("aws-no-natgw") is None
    assert owner_of("my-lab-12") is None
    assert orphaned(["my-lab-12", "foo-t"], alive=set()) == []
