"""Bounded memories: a table that, once full, starts again.

The connector remembers what is costly to work out again (a question's
decision, a sender's standing, a flow's identity). A flood of distinct keys
must not grow memory, and an LRU costs time on every hit; emptying the table
when it is full costs the uncached time for a while, never memory.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(table: dict[K, V], key: K, value: V, limit: int) -> V:
    """Keep `value` under `key` and return it; a table holding `limit` entries is
    emptied first."""
    if len(table) >= limit:
        table.clear()
    table[key] = value
    return value
