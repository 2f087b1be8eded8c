"""A GWLB target group as AWS keeps it: registrations, target states, and which target a
flow goes to. Pure: the node (`lab.nodes.gwlb`) does the probing, the clock and the events.

Target states are AWS's (elbv2 TargetHealth.State): `initial` (registered, not yet
through its health checks), `healthy`, `unhealthy`, `draining` (deregistered, its
deregistration delay running) and `unused` (not a member: never registered, or drained).
AWS's rules, as the lab plays them (docs/decisions.md, "The lab's GWLB"):

- New flows go to healthy targets only; with none healthy, to every registered target
  that is not draining (fail open). A registered target gets new flows once healthy.
- A deregistered target gets no new flow; its existing flows keep going to it while
  it drains. When the delay ends it is `unused`: with target failover `rebalance`
  (the vendor's Terraform) its flows are rehashed to a target that takes new flows;
  with `no_rebalance` (AWS's default) they stay on it.
- A flow on an unhealthy target: rebalanced, or kept with `no_rebalance` (AWS makes
  `on_unhealthy` and `on_deregistration` equal; the lab has one switch for both).
- Registering a draining target again stops its drain; it starts over as `initial`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address

from lab.nodes.health_probe import TargetHealth

STATES = ("initial", "healthy", "unhealthy", "draining", "unused")


@dataclass(frozen=True, slots=True)
class Failover:
    """The target group's attributes the lab plays: `deregistration_delay.timeout_seconds`
    and `target_failover.on_deregistration` (= `on_unhealthy`)."""

    delay_s: float = 300.0  # AWS's default
    rebalance: bool = True  # the vendor's Terraform (spec §3.2)


@dataclass(frozen=True, slots=True)
class Choice:
    """Where a packet of a flow goes; `target` None: no registered target at all."""

    target: IPv4Address | None
    new: bool  # the flow was not known
    moved: bool  # the flow was known and now goes to another target
    failing_open: bool


def keeps(state: str, failover: Failover, failing_open: bool) -> bool:
    """Whether a flow already on a target in `state` stays on it."""
    if state in ("healthy", "initial", "draining"):
        return True
    if not failover.rebalance:
        return True  # no_rebalance: failed and drained targets keep their flows
    return state == "unhealthy" and failing_open  # every target is unhealthy: all are used


@dataclass(frozen=True, slots=True)
class GroupView:
    """The group at one moment, with what every pick needs worked out once. The node
    keeps one and replaces it when a target's state changes, so a packet's pick takes
    no lock and builds no list."""

    state_of: Mapping[IPv4Address, str]
    registered: tuple[IPv4Address, ...]  # initial, healthy or unhealthy: not draining
    pool: tuple[IPv4Address, ...]  # where new flows go
    failing_open: bool
    failover: Failover

    @classmethod
    def of(cls, states: Sequence[tuple[IPv4Address, str]], failover: Failover) -> GroupView:
        healthy = [t for t, s in states if s == "healthy"]
        registered = [t for t, s in states if s in ("initial", "healthy", "unhealthy")]
        return cls(dict(states), tuple(registered), tuple(healthy or registered),
                   not healthy, failover)

    def choose(self, current: IPv4Address | None, flow_hash: int) -> Choice:
        failing_open = self.failing_open
        if current is not None and keeps(self.state_of.get(current, "unused"), self.failover,
                                         failing_open):
            return Choice(current, new=False, moved=False, failing_open=failing_open)
        if not self.pool:
            return Choice(None, new=current is None, moved=False, failing_open=True)
        return Choice(self.pool[flow_hash % len(self.pool)], new=current is None,
                      moved=current is not None, failing_open=failing_open)


def choose(states: Sequence[tuple[IPv4Address, str]], current: IPv4Address | None,
           flow_hash: int, failover: Failover) -> Choice:
    """The target of a flow, given every target's state in the group's order."""
    return GroupView.of(states, failover).choose(current, flow_hash)


class TargetGroup:
    """Members in registration order, their health, and when each drain ends."""

    def __init__(self, targets: Sequence[IPv4Address], thresholds: tuple[int, int],
                 failover: Failover) -> None:
        self.thresholds, self.failover = thresholds, failover
        self.health: dict[IPv4Address, TargetHealth] = {
            t: TargetHealth(*thresholds) for t in targets}
        self.drain_ends: dict[IPv4Address, float] = {}

    def state(self, target: IPv4Address) -> str:
        if target in self.drain_ends:
            return "draining"
        health = self.health.get(target)
        return "unused" if health is None else health.state

    def states(self) -> list[tuple[IPv4Address, str]]:
        return [(t, self.state(t)) for t in self.health]

    def register(self, target: IPv4Address) -> bool:
        """True when this changed the group (a member that is not draining: no change)."""
        if target in self.health and target not in self.drain_ends:
            return False
        self.drain_ends.pop(target, None)
        self.health.pop(target, None)  # a draining target starts over, at the end
        self.health[target] = TargetHealth(*self.thresholds)
        return True

    def deregister(self, target: IPv4Address, now: float) -> bool:
        """True when this started a drain (not a member, or draining: no change)."""
        if target not in self.health or target in self.drain_ends:
            return False
        self.drain_ends[target] = now + self.failover.delay_s
        return True

    def expire(self, now: float) -> list[IPv4Address]:
        """The targets whose drain ended by `now`; they are no longer members."""
        done = [t for t, end in self.drain_ends.items() if end <= now]
        for target in done:
            del self.drain_ends[target]
            del self.health[target]
        return done

    def to_probe(self) -> list[IPv4Address]:
        """Registered targets that may take new flows (a draining one will not again)."""
        return [t for t in self.health if t not in self.drain_ends]

    def record(self, target: IPv4Address, good: bool) -> str | None:
        """A probe's answer; the new health state when it changed (None for a target
        that left the group meanwhile)."""
        if target not in self.to_probe():
            return None
        return self.health[target].record(good)

    def choose(self, current: IPv4Address | None, flow_hash: int) -> Choice:
        return self.view().choose(current, flow_hash)

    def view(self) -> GroupView:
        return GroupView.of(self.states(), self.failover)
