"""The load balancers' health judgement: the same thresholds at the start's short pace
and at the interval; the short pace only while a young balancer has a target that was
never healthy."""

from __future__ import annotations

import pytest

from lab.nodes.health_probe import STARTUP_PACE_S, STARTUP_S, TargetHealth, pause_after_round

pytestmark = pytest.mark.unit

INTERVAL = 1.0


def _judged(answers: list[bool]) -> TargetHealth:
    health = TargetHealth(2, 3)
    for good in answers:
        health.record(good)
    return health


def test_thresholds_flip_a_target_after_so_many_answers_in_a_row() -> None:
    assert _judged([True]).state == "initial"
    assert _judged([True, True]).state == "healthy"
    assert _judged([False, False]).state == "initial"
    assert _judged([False, False, False]).state == "unhealthy"
    assert _judged([True, True, False, False]).state == "healthy"
    assert _judged([True, True, False, False, False]).state == "unhealthy"


def test_a_young_balancer_probes_at_the_short_pace_until_every_target_was_healthy() -> None:
    never = [_judged([]), _judged([True, True])]
    assert pause_after_round(INTERVAL, never, age_s=0.5) == STARTUP_PACE_S
    refused = [_judged([False] * 3), _judged([True, True])]  # unhealthy, never healthy yet
    assert pause_after_round(INTERVAL, refused, age_s=0.5) == STARTUP_PACE_S
    both = [_judged([True, True]), _judged([True, True])]
    assert pause_after_round(INTERVAL, both, age_s=0.5) == INTERVAL


def test_a_target_that_was_healthy_once_is_probed_at_the_interval_when_it_falls() -> None:
    fallen = [_judged([True, True, False, False, False]), _judged([True, True])]
    assert fallen[0].state == "unhealthy"
    assert pause_after_round(INTERVAL, fallen, age_s=1.0) == INTERVAL


def test_the_short_pace_ends_with_the_start_whatever_the_targets_say() -> None:
    never = [_judged([]), _judged([False] * 3)]
    assert pause_after_round(INTERVAL, never, age_s=STARTUP_S - 0.01) == STARTUP_PACE_S
    assert pause_after_round(INTERVAL, never, age_s=STARTUP_S) == INTERVAL  # e.g. registered late


def test_an_interval_shorter_than_the_pace_is_kept() -> None:
    assert pause_after_round(0.1, [_judged([])], age_s=0.0) == 0.1
