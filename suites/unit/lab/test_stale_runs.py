"""Which labs a new test run removes: the harness's, whose owner is gone, and no other."""

from __future__ import annotations

import pytest

from lab.errors import BackendError
from lab.names import INSTANCE  # the lab-name rule the CLI and loader enforce
from suites.fixtures.stale_runs import harness_instance, orphaned, owner_of, reap

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


def test_a_lab_that_refuses_to_go_is_named_and_the_others_are_still_removed() -> None:
    tried: list[str] = []

    def destroy(instance: str) -> None:
        tried.append(instance)
        if instance == "cloud-azure-no-nat-t200":
            raise BackendError("docker did not remove cclab-x-internet within 30 s",
                               backend="docker")

    reaped = reap(["cloud-azure-no-nat-t200", "minimal", "seal-t300"], {1}, destroy)
    assert tried == ["cloud-azure-no-nat-t200", "seal-t300"]
    assert reaped.removed == ["seal-t300"]
    assert list(reaped.failed) == ["cloud-azure-no-nat-t200"]
    assert "cclab-x-internet" in reaped.failed["cloud-azure-no-nat-t200"]
