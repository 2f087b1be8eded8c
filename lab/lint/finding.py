"""A lint finding: a value, with where the rule is written, why it matters and the fix."""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True, slots=True)
class Check:
    """What one check looks for: its id, the seed's or spec's reason, and the usual fix."""

    id: str
    title: str
    reason: str
    fix: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem. `path` is the YAML path in the composed topology (`locate` turns it
    into the file, line and path where it is written); `related` are other paths the
    finding names (the rule a widening route feeds, say)."""

    check: Check
    severity: str
    path: str
    message: str
    related: tuple[str, ...] = ()
    file: str = ""
    line: int | None = None

    @property
    def rank(self) -> int:
        return SEVERITIES.index(self.severity)
