"""Which conntrack zones a docker lab holds: reserved when the host's part is added, kept
in the lab's run folder ("FIRST COUNT" in `ct-zones`), given back when `destroy` removes
that folder. The first free block (lab.conntrack_zones) among the other labs' blocks,
chosen and written under one lock (lab.backends.run_reservation), so two labs starting
at once never share a zone.
"""

from __future__ import annotations

from lab.backends.run_reservation import RunReservation
from lab.conntrack_zones import free_block
from lab.errors import BackendError


def _parse(text: str) -> range:
    first, count = (int(x) for x in text.split())
    return range(first, first + count)


ZONES: RunReservation[range] = RunReservation("ct-zones", _parse,
                                              lambda r: f"{r.start} {len(r)}")


def reserve(instance: str, count: int) -> range:
    """The lab's block of `count` zones: the one it holds, else a free one, now reserved."""
    held = ZONES.held(instance)
    if held is not None and len(held) == count:
        return held

    def first_free(taken: list[range]) -> range:
        chosen = free_block(count, taken)
        if chosen is None:
            raise BackendError(f"no {count} free conntrack zones left for lab '{instance}': "
                               f"{len(taken)} labs hold blocks\n    hint: `cclab status` "
                               "lists the labs; `cclab down --name LAB` removes one",
                               backend="docker")
        return chosen

    return ZONES.take(instance, first_free)
