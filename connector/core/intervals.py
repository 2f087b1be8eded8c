"""Bitmask indexes: which rules cover a value, found in O(log n), not by scanning rules.

Each rule is one bit (bit i = the i-th rule in evaluation order). An index
answers "the set of rules whose criterion holds for this value" as an int mask;
a rule list is matched by AND-ing the masks of all criteria and taking the
lowest set bit, which is the first match.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping

from connector.core.names import NamePattern, parent_domains


class IntervalIndex:
    """Inclusive integer intervals, each tagged with a bit, swept into disjoint segments."""

    __slots__ = ("_starts", "_masks")

    def __init__(self, intervals: Iterable[tuple[int, int, int]]) -> None:
        deltas: dict[int, list[tuple[int, int]]] = {}
        for lo, hi, bit in intervals:
            deltas.setdefault(lo, []).append((bit, 1))
            deltas.setdefault(hi + 1, []).append((bit, -1))
        self._starts: list[int] = []
        self._masks: list[int] = []
        for start, mask in _sweep(deltas):
            self._starts.append(start)
            self._masks.append(mask)

    def lookup(self, value: int) -> int:
        at = bisect_right(self._starts, value) - 1
        return self._masks[at] if at >= 0 else 0

    def __len__(self) -> int:
        return len(self._starts)


def _sweep(deltas: Mapping[int, list[tuple[int, int]]]) -> Iterator[tuple[int, int]]:
    """(segment start, mask of bits covering it), counting overlaps of one bit."""
    counts: dict[int, int] = {}
    mask = 0
    for point in sorted(deltas):
        for bit, step in deltas[point]:
            counts[bit] = counts.get(bit, 0) + step
            if counts[bit] > 0:
                mask |= 1 << bit
            else:
                mask &= ~(1 << bit)
        yield point, mask


class NameIndex:
    """FQDN and `*.` wildcard patterns, each tagged with a bit."""

    __slots__ = ("_exact", "_below")

    def __init__(self, patterns: Iterable[tuple[NamePattern, int]]) -> None:
        self._exact: dict[str, int] = {}
        self._below: dict[str, int] = {}
        for pattern, bit in patterns:
            table = self._below if pattern.wildcard else self._exact
            table[pattern.name] = table.get(pattern.name, 0) | (1 << bit)

    def lookup(self, name: str) -> int:
        """Mask of patterns matching a normalised name (see NamePattern.matches)."""
        mask = self._exact.get(name, 0)
        if self._below:
            for parent in parent_domains(name):
                mask |= self._below.get(parent, 0)
        return mask

    def lookup_any(self, names: Iterable[str]) -> int:
        mask = 0
        for name in names:
            mask |= self.lookup(name)
        return mask
