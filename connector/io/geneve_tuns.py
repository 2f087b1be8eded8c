"""One TUN per GENEVE location: how the kernel keeps two locations' flows apart.

Two sub-locations may reuse one address plan, so the same 5-tuple can arrive
from both at once. The kernel's connection tracking knows 5-tuples only; each
location's inner packets therefore enter the kernel through a TUN of their own,
whose packets are tracked in a conntrack zone of their own (the original
direction only: SNAT then gives the second flow another port, and a reply from
the internet, in the shared default zone, finds its flow by that port). Each
location's connections carry its mark, which routes their replies back into its
own TUN, so the data plane reads the location off the device a reply left by.

The connector's own location keeps `ccgnv0`, zone 0 and the plain GENEVE mark:
a config without sub-locations renders exactly as before. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

TUN_NAME = "ccgnv0"  # the own location's TUN: GENEVE inner packets enter the kernel here
GENEVE_MARK = 0x100  # connection arrived over GENEVE: its replies route to a TUN
LOCATION_SHIFT = 16  # a sub-location's index, in the marks' bits 16-23
LOCATION_MASK = 0xFF << LOCATION_SHIFT
RETURN_TABLE = 61  # the own location's return route table (62 is the routed path's)
LOCATION_TABLES = 160  # sub-location i's return route table: 160 + i
MAX_LOCATIONS = 0xFF


@dataclass(frozen=True, slots=True)
class LocationTun:
    """Where one location's GENEVE flows meet the kernel."""

    location: str  # "" for the connector's own
    name: str  # the TUN device
    zone: int  # conntrack zone of the original direction (0: the default)
    mark: int  # connection mark and packet mark of its flows (GENEVE_MARK + index bits)
    table: int  # policy-routing table holding the route into the TUN

    @property
    def mask(self) -> int:
        """The mark bits that select this TUN's return route."""
        return GENEVE_MARK | LOCATION_MASK


def location_tuns(sublocations: Iterable[str]) -> tuple[LocationTun, ...]:
    """The own location's TUN first, then one per sub-location in name order."""
    names = sorted(set(sublocations) - {""})
    if len(names) > MAX_LOCATIONS:
        raise ValueError(f"at most {MAX_LOCATIONS} sub-locations have a TUN")
    return tuple(LocationTun(name, f"ccgnv{i}", i, GENEVE_MARK | i << LOCATION_SHIFT,
                             LOCATION_TABLES + i if i else RETURN_TABLE)
                 for i, name in enumerate(["", *names]))
