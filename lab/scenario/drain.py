"""What a connector's leaving the GWLB's target group and coming back did, measured from
the GWLB's own log and the far end's. Pure.

For a `connector_remove` fault (applied at `applied`, deregistered when the GWLB says so
(its detect event; `applied` if it never did), registered again at `undone`, healthy
again at the first back event after it), AWS's rules (docs/decisions.md, "The lab's
GWLB") give four checks:

- `new_flows_out`: new flows (`gwlb.flow`, not rebalanced) the GWLB sent to the removed
  target from its deregistration to its health after the registration: must be 0 (a
  draining target takes no new flow; a registered one only once healthy);
- `new_flows_back`: new flows sent to it after that, in the fault's window: at least 1;
- `held_through`: requests of held flows (kept-open connections, method `held`) that
  reached the far end from the removed connector (its SNAT address is its target
  address) while it drained: at least 1, so flows that were on it kept working;
- `held_lost`: held requests that failed while it drained (started after the
  deregistration, ended before the drain did): must be 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

HELD = "held"  # the profile method whose flows are held open (lab.traffic.held_flows)


@dataclass(frozen=True, slots=True)
class Membership:
    """The GWLB's log for the fault's targets: new flows (time, target) and drain ends."""

    targets: frozenset[str]
    new_flows: tuple[tuple[float, str], ...] = ()
    drained: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class DrainResult:
    new_flows_out: int
    new_flows_back: int
    held_through: int
    held_lost: int
    drain_end_s: float | None  # after the deregistration; None: it did not end in the window


@dataclass(frozen=True, slots=True)
class HeldRequest:
    """A held flow's request: when it started and ended, whether it was answered."""

    t0: float
    t1: float
    ok: bool


def measure_drain(members: Membership, applied: float, left: float | None,
                  undone: float | None, back: float | None, end: float,
                  held: Sequence[HeldRequest],
                  held_arrivals: Sequence[tuple[float, str]]) -> DrainResult:
    """`left`: the deregistration's event time; `held_arrivals`: (time, source) of held
    requests at the far end."""
    healthy_again = back if back is not None else end
    start = left if left is not None else applied
    drained = min((t for t in members.drained if t >= start), default=None)
    drain_end = min(t for t in (drained, undone, end) if t is not None)
    mine = [t for t, target in members.new_flows if target in members.targets]
    return DrainResult(
        new_flows_out=sum(1 for t in mine if start <= t < healthy_again),
        new_flows_back=sum(1 for t in mine if healthy_again <= t < end),
        held_through=sum(1 for t, src in held_arrivals
                         if start <= t < drain_end and src in members.targets),
        held_lost=sum(1 for r in held if not r.ok and r.t0 >= start and r.t1 < drain_end),
        drain_end_s=None if drained is None else round(drained - start, 3))
