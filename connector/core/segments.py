"""Which ZPA application segment a name belongs to (spec §6.4, docs/decisions.md).

Matching is on normalised names (lower case, no trailing dot). When several
segments match, the most specific wins: an exact FQDN before any wildcard, a
longer wildcard suffix before a shorter one, then the segment name for a stable
tie-break. A wildcard never matches its apex (names.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from connector.core.names import normalise_name, parent_domains
from connector.core.policy import AppSegment


class SegmentIndex:
    __slots__ = ("_exact", "_below")

    def __init__(self, segments: Mapping[str, AppSegment]) -> None:
        self._exact: dict[str, list[str]] = {}
        self._below: dict[str, list[str]] = {}
        for name in sorted(segments):
            for pattern in segments[name].domains:
                table = self._below if pattern.wildcard else self._exact
                table.setdefault(pattern.name, []).append(name)

    def segments_for(self, qname: str) -> tuple[str, ...]:
        """Every segment matching `qname`, most specific first."""
        name = normalise_name(qname)
        found = list(self._exact.get(name, ()))
        for parent in parent_domains(name):
            found += [s for s in self._below.get(parent, ()) if s not in found]
        return tuple(found)

    def segment_for(self, qname: str) -> str | None:
        matches = self.segments_for(qname)
        return matches[0] if matches else None

    def is_zpa_name(self, qname: str) -> bool:
        return self.segment_for(qname) is not None
