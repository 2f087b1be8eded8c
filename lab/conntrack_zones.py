"""Which conntrack zones a docker lab's bridges use. Pure.

Each bridge of a lab gets a zone of its own (lab.security_groups: a routed flow crosses
several bridges, and one zone would see its packets twice). On docker every lab's
rules run in the host's one conntrack table, and labs may carry the very same
addresses and ports (two labs of one topology, or GENEVE between the same two
addresses at fixed ports): zones numbered from 1 in each lab would put both labs'
flows in one entry. So a lab takes a block of zones no other running lab holds
(`free_block`, reserved by lab.backends.docker_zones). A netns lab has a conntrack
table of its own and numbers from 1.
"""

from __future__ import annotations

from collections.abc import Iterable

ZONES = range(1, 65536)  # zone 0 is the default zone every other packet is in


def free_block(count: int, taken: Iterable[range], space: range = ZONES) -> range | None:
    """The first `count` consecutive zones of `space` that no taken block holds, or None
    when none is left."""
    if count < 1:
        raise ValueError("a block holds at least one zone")
    start = space.start
    for block in sorted((b for b in taken if b), key=lambda b: b.start):
        if block.start - start >= count:
            break
        start = max(start, block.stop)
    return range(start, start + count) if start + count <= space.stop else None
