"""A validated scenario: frozen value objects, built only by `lab.scenario.schema`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

FailMode = Literal["close", "open"]


@dataclass(frozen=True, slots=True)
class Expect:
    """Upper bounds for one fault (None: not bounded), and the fail mode each method
    must show while the fault holds."""

    detect_s: float | None = None
    recover_s: float | None = None
    recover: tuple[tuple[str, float], ...] = ()  # per method
    lost: tuple[tuple[str, int], ...] = ()
    fail: tuple[tuple[str, FailMode], ...] = ()
    leaks: int = 0


@dataclass(frozen=True, slots=True)
class Fault:
    """One timeline entry: `kind` applied at `at_s` (seconds after the traffic started)
    to `nodes`, undone `hold_s` later (a fault with no undo, a restart, has hold_s 0)."""

    index: int
    kind: str
    at_s: float
    nodes: tuple[str, ...]
    hold_s: float = 0.0
    params: tuple[tuple[str, str], ...] = ()
    expect: Expect = field(default_factory=Expect)

    def param(self, key: str, default: str = "") -> str:
        return dict(self.params).get(key, default)

    @property
    def label(self) -> str:
        return f"#{self.index} {self.kind} {','.join(self.nodes)}"


@dataclass(frozen=True, slots=True)
class Traffic:
    """Background flows: `methods` of the topology's profile, one new flow each
    `interval_s`, from the start for `duration_s`."""

    profile: str
    methods: tuple[str, ...]
    interval_s: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    topology: str
    traffic: Traffic
    timeline: tuple[Fault, ...]
    source: Path | None = None
