"""The rule indexes agree with a plain scan (spec §5.2: first match, OR inside a criterion).

Every value of a small range is looked up in an interval index and compared with the
bits whose inclusive intervals contain it, counted one by one; every name is looked up
in a name index and compared with `NamePattern.matches`, the reference semantics.
The interval sets cover overlaps, nesting, touching ends, one bit in two intervals and
single points, the cases where a sweep can go wrong.
"""

from __future__ import annotations

import pytest

from connector.core.intervals import IntervalIndex, NameIndex
from connector.core.names import parse_pattern

pytestmark = pytest.mark.unit

INTERVAL_SETS: dict[str, list[tuple[int, int, int]]] = {
    "empty": [],
    "single-point": [(5, 5, 0)],
    "touching-ends": [(0, 4, 0), (5, 9, 1)],
    "overlap": [(2, 8, 0), (5, 12, 1)],
    "nested": [(0, 20, 0), (5, 6, 1), (6, 6, 2)],
    "same-bit-twice-overlapping": [(0, 10, 3), (5, 15, 3)],
    "same-bit-twice-apart": [(0, 2, 1), (8, 9, 1)],
    "same-start": [(4, 4, 0), (4, 9, 1), (4, 6, 2)],
    "same-end": [(1, 9, 0), (6, 9, 1)],
    "from-zero": [(0, 0, 0), (0, 3, 1)],
    "high-bits": [(3, 7, 40), (6, 11, 63)],
}


def scan(intervals: list[tuple[int, int, int]], value: int) -> int:
    mask = 0
    for lo, hi, bit in intervals:
        if lo <= value <= hi:
            mask |= 1 << bit
    return mask


@pytest.mark.parametrize("name", INTERVAL_SETS)
def test_interval_index_agrees_with_a_scan_on_every_value(name: str) -> None:
    intervals = INTERVAL_SETS[name]
    index = IntervalIndex(intervals)
    for value in range(-2, 24):
        assert index.lookup(value) == scan(intervals, value), (name, value)


PATTERNS = ["corp.example", "*.corp.example", "*.app.corp.example", "app.corp.example",
            "*.other.example", "other.example"]
NAMES = ["corp.example", "a.corp.example", "app.corp.example", "x.app.corp.example",
         "y.x.app.corp.example", "other.example", "b.other.example", "example",
         "notcorp.example", "corp.example.net"]


def test_name_index_agrees_with_the_reference_matching() -> None:
    patterns = [(parse_pattern(p), bit) for bit, p in enumerate(PATTERNS)]
    index = NameIndex(patterns)
    for name in NAMES:
        expected = 0
        for pattern, bit in patterns:
            if pattern.matches(name):
                expected |= 1 << bit
        assert index.lookup(name) == expected, name
    assert index.lookup_any(["a.corp.example", "b.other.example"]) == \
        index.lookup("a.corp.example") | index.lookup("b.other.example")
    assert index.lookup_any([]) == 0


def test_one_pattern_shared_by_several_rules_carries_every_bit() -> None:
    index = NameIndex([(parse_pattern("*.corp.example"), 1), (parse_pattern("*.corp.example"), 4),
                       (parse_pattern("app.corp.example"), 2),
                       (parse_pattern("app.corp.example"), 5)])
    assert index.lookup("x.corp.example") == 0b10010
    assert index.lookup("app.corp.example") == 0b110110


def test_exact_only_index_matches_only_the_exact_names() -> None:
    index = NameIndex([(parse_pattern("corp.example"), 0)])
    assert index.lookup("corp.example") == 1
    assert index.lookup("a.corp.example") == 0
