"""`runtime.routed_locations`: sub-locations of routed traffic by source range, checked.

Each entry names a location declared in `locations`, other than the connector's
own (a source in no range is in it already), once; its ranges may not overlap
another location's (a source would be in two), and a range may not appear twice.
"""

from __future__ import annotations

from typing import Any

from connector.config_schema import RawRoutedLocation
from connector.core.routed_locations import RoutedLocation
from yamlissues import Issue


def routed_locations(raw: list[RawRoutedLocation], data: dict[str, Any], own: str,
                     issues: list[Issue]) -> tuple[RoutedLocation, ...]:
    declared = data.get("locations")
    declared = declared if isinstance(declared, list) else []
    found: list[RoutedLocation] = []
    for i, entry in enumerate(raw):
        path = f"runtime.routed_locations[{i}]"
        if entry.location not in declared:
            issues.append(Issue("", f"{path}.location", f"location '{entry.location}' is not "
                                "declared", "add it to the top-level `locations:` list"))
        elif entry.location == own:
            issues.append(Issue("", f"{path}.location", f"'{own}' is the connector's own "
                                "location", "sources in no range are already in it: list "
                                "only sub-locations"))
        elif any(loc.location == entry.location for loc in found):
            issues.append(Issue("", f"{path}.location", f"'{entry.location}' is listed twice",
                                "give each location one entry with all its ranges"))
        else:
            _check_overlaps(entry, found, path, issues)
            found.append(RoutedLocation(entry.location, tuple(entry.sources)))
    return tuple(found) if len(found) == len(raw) else ()


def _check_overlaps(entry: RawRoutedLocation, found: list[RoutedLocation], path: str,
                    issues: list[Issue]) -> None:
    for j, net in enumerate(entry.sources):
        for other in [*found, RoutedLocation(entry.location, tuple(entry.sources[:j]))]:
            clash = next((o for o in other.sources if o.overlaps(net)), None)
            if clash is not None:
                issues.append(Issue("", f"{path}.sources[{j}]", f"{net} overlaps {clash} of "
                                    f"'{other.location}'", "each source address belongs "
                                    "to one location: make the ranges disjoint"))
