"""Sub-locations of routed traffic, by source address (issue 18 part 2).

Routed traffic (an Azure or GCP ILB next hop, plain routing) carries no GWLB
endpoint, so its location comes from where it was sent from, as the vendor
defines sub-locations by internal IP ranges: `runtime.routed_locations` gives
each sub-location its source networks; a source in none of them is in the
connector's own location. Ranges of different locations never overlap (the
config refuses it), so "the most specific network" and "the only one" agree.

A rule's `locations` then narrow the sources it may match: `source_scope`
says which, for the kernel's ruleset, in the same terms as `location_of` does
for the user-space core. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network


@dataclass(frozen=True, slots=True)
class RoutedLocation:
    location: str
    sources: tuple[IPv4Network, ...]


@dataclass(frozen=True, slots=True)
class SourceScope:
    """`ip saddr` in (`inside`) or not in (not `inside`) these networks."""

    inside: bool
    networks: tuple[IPv4Network, ...]


class SourceLocations:
    def __init__(self, locations: tuple[RoutedLocation, ...] = ()) -> None:
        self.locations = locations
        self._by_network = sorted(((net, loc.location) for loc in locations
                                   for net in loc.sources),
                                  key=lambda item: -item[0].prefixlen)

    def location_of(self, addr: IPv4Address) -> str:
        """The sub-location a routed source is in; "" for the connector's own."""
        for network, location in self._by_network:
            if addr in network:
                return location
        return ""

    def names(self) -> tuple[str, ...]:
        return tuple(loc.location for loc in self.locations)


def source_scope(rule_locations: tuple[str, ...], own: str,
                 routed: tuple[RoutedLocation, ...]) -> SourceScope | None:
    """The routed sources a rule naming `rule_locations` applies to: None when all (it
    names none, or every location there is); else the ranges of the sub-locations it
    names, or, when it names the own location, all but the ranges of those it does not.
    A rule that names neither the own location nor a routed one matches no source."""
    if not rule_locations or not routed:
        return None if not rule_locations or own in rule_locations else SourceScope(True, ())
    named = [loc for loc in routed if loc.location in rule_locations]
    if own in rule_locations:
        others = tuple(net for loc in routed if loc not in named for net in loc.sources)
        return SourceScope(False, others) if others else None
    return SourceScope(True, tuple(net for loc in named for net in loc.sources))
