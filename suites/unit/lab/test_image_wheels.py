"""The wheel stamp: a warm docker `up` asks PyPI nothing, a changed requirement does."""

from __future__ import annotations

import pytest

from lab.images.build import wheels_current, wheels_stamp

pytestmark = pytest.mark.unit

REQS = ["pydantic>=2", "PyYAML>=6"]
WHEELS = ["pydantic-2.1-py3-none-any.whl", "pyyaml-6.0-cp311-x.whl"]


def test_a_stamp_of_these_requirements_with_its_wheels_present_is_current() -> None:
    assert wheels_current(wheels_stamp(REQS, WHEELS), REQS, WHEELS)
    assert wheels_current(wheels_stamp(REQS, WHEELS), REQS, [*WHEELS, "old-1.0.whl"])


def test_a_changed_requirement_or_a_missing_wheel_downloads_again() -> None:
    stamp = wheels_stamp(REQS, WHEELS)
    assert not wheels_current(stamp, [*REQS, "scapy>=2.5"], WHEELS)
    assert not wheels_current(stamp, REQS[:1], WHEELS)
    assert not wheels_current(stamp, REQS, WHEELS[:1])


def test_no_stamp_or_a_stamp_without_wheels_is_not_current() -> None:
    assert not wheels_current("", REQS, WHEELS)
    assert not wheels_current("garbage\n", REQS, WHEELS)
    assert not wheels_current(wheels_stamp(REQS, []), REQS, WHEELS)
