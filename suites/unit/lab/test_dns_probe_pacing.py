"""The DNS probe's pacing (lab.traffic.dns_probe.next_due): one query per interval, never a
catch-up burst after a query that waited for its timeout; and its names, asked in turn
(lab.traffic.dns_probe.names_asked)."""

from __future__ import annotations

import pytest

from lab.traffic.dns_probe import names_asked, next_due

pytestmark = pytest.mark.unit


def send_times(waits: list[float], interval: float) -> list[float]:
    """When each query leaves, given how long each one waited for its answer."""
    now = due = 0.0
    sent = []
    for wait in waits:
        sent.append(now)
        now += wait
        due = next_due(due, interval, now)
        now = max(now, due)
    return sent


def test_on_time_answers_keep_the_interval() -> None:
    sent = send_times([0.001] * 20, 0.05)
    assert sent[-1] == pytest.approx(19 * 0.05)


def test_after_a_timeout_the_next_queries_are_not_sent_in_a_burst() -> None:
    """Query 3 waits its 1 s timeout: the 20 queries whose slots passed meanwhile are not
    sent back to back (the pattern that made a workload's own name exceed the connector's
    20 answers a second per /24, spec §9.4, and lose more answers)."""
    sent = send_times([0.001, 0.001, 1.0] + [0.001] * 30, 0.05)
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    assert min(gaps) >= 0.05 - 1e-9
    assert gaps[2] == pytest.approx(1.0)


def test_several_names_are_asked_in_turn() -> None:
    """Each of three names gets a third of the questions, never two in a row: at 50
    questions a second, about 17 a second each (under the connector's 20 answers a second
    per name and /24, spec §9.4)."""
    asked = names_asked(["a.example", "b.example", "c.example"], 100)
    assert len(asked) == 100
    assert [asked.count(n) for n in ("a.example", "b.example", "c.example")] == [34, 33, 33]
    assert all(x != y for x, y in zip(asked, asked[1:], strict=False))


def test_one_name_is_asked_every_time() -> None:
    assert names_asked(["www.web.example"], 3) == ["www.web.example"] * 3
