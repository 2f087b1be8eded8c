"""The flood engine's pacing (lab.traffic.flood.mmsg.pause_before_next)."""

from __future__ import annotations

import pytest

from lab.traffic.flood.mmsg import pause_before_next

pytestmark = pytest.mark.unit


def test_ahead_of_the_schedule_it_waits_until_the_frames_sent_are_due() -> None:
    assert pause_before_next(1000, 10_000.0, 0.04) == pytest.approx(0.06)


def test_behind_the_schedule_it_sends_at_once_and_owes_no_burst() -> None:
    assert pause_before_next(1000, 10_000.0, 0.5) == 0.0
    assert pause_before_next(0, 10_000.0, 0.0) == 0.0
