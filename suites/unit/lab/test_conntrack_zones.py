"""Blocks of conntrack zones for docker labs: the first free one, never a shared zone."""

from __future__ import annotations

import pytest

from lab.conntrack_zones import ZONES, free_block

pytestmark = pytest.mark.unit


def test_the_first_lab_starts_at_zone_1() -> None:
    assert free_block(5, []) == range(1, 6)


def test_a_block_never_overlaps_a_taken_one() -> None:
    taken = [range(1, 6), range(6, 14)]
    assert free_block(3, taken) == range(14, 17)
    assert free_block(3, list(reversed(taken))) == range(14, 17)  # in any order


def test_a_gap_big_enough_is_reused_and_one_too_small_is_not() -> None:
    taken = [range(1, 4), range(7, 9), range(20, 30)]  # gaps: 4-6 (3), 9-19 (11)
    assert free_block(3, taken) == range(4, 7)
    assert free_block(4, taken) == range(9, 13)


def test_a_full_space_gives_none_and_zone_0_is_never_given() -> None:
    assert free_block(2, [range(1, 65535)]) is None
    assert free_block(1, [range(1, 65535)]) == range(65535, 65536)
    assert 0 not in ZONES
    with pytest.raises(ValueError, match="at least one zone"):
        free_block(0, [])
