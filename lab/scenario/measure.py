"""What a played scenario measured, per fault, and whether its bounds held. Pure.

Inputs are timestamps (epoch seconds): each background flow's attempt (`Attempt`),
each arrival the far end logged (`Arrival`), when each fault was applied and undone,
and the times of the events that show it was noticed (detect) and seen ending
(back). A fault's window runs from its start to the next fault's start (or the end
of the traffic). Within it:

- detect_s: the first detect event after the start, minus the start; a fault kind
  with no such event is detected by the flows: the end of the first failed attempt.
- recover_s: for each method that lost a flow in the window, the end of the first
  successful attempt after its last failure, minus the start; the largest of them
  (0 when nothing was lost, None when a method never succeeded again); also
  per method (`recover`).
- lost: failed attempts per method (each attempt is a new flow), but for those whose
  flow the load balancer moved to another target (`moved`, counted apart:
  spec §3.1 lets them fail; `lab.scenario.moves`); reset: of all failed attempts,
  those the peer reset. Moved attempts count for neither detect nor recover.
- fail: per ZIA method during a ZIA outage (`n/a` otherwise), `open` when a flow arrived in the
  window from a source other than the policy's (Direct instead of ZIA), `close`
  when none did and flows failed, `unexercised` when nothing failed.
- slowest: per method, the longest a flow that got through took (a slow link).
- leaks: arrivals from a source the policy never allows (a fail-open method may
  also arrive Direct).
- drain: for a target leaving the load balancer's group and coming back, the
  checks of `lab.scenario.drain` (new flows while out and after, held flows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lab.scenario.drain import HELD, DrainResult, HeldRequest, Membership, measure_drain
from lab.scenario.kinds import ZIA_OUTAGES
from lab.scenario.model import Fault, Scenario
from lab.scenario.moves import Move, moved
from lab.scenario.profiles import Profile


@dataclass(frozen=True, slots=True)
class Attempt:
    method: str
    seq: int
    t0: float
    t1: float
    ok: bool
    detail: str
    sport: int = 0  # an HTTP flow's local port (0: unknown, DNS)
    since: float = 0.0  # when its flow began (a held connection: opened earlier); 0: t0


@dataclass(frozen=True, slots=True)
class Arrival:
    method: str
    src: str
    ts: float


@dataclass(frozen=True, slots=True)
class Played:
    """One fault as it was played: when applied and undone, the events it caused."""

    fault: Fault
    applied: float
    undone: float | None
    detected: tuple[float, ...] = ()  # detect events' times (any, filtered here)
    back: tuple[float, ...] = ()  # back events' times
    has_detect_event: bool = True
    membership: Membership | None = None  # a target leaving the group: the GWLB's log


@dataclass(frozen=True, slots=True)
class FaultResult:
    index: int
    kind: str
    nodes: tuple[str, ...]
    start_s: float  # after the traffic started
    undone_s: float | None
    detect_s: float | None
    detect_by: str  # "event" or "flows"
    recover_s: float | None
    recover: tuple[tuple[str, float | None], ...]  # per method
    back_s: float | None  # from the undo (a restart: its start) to the event showing it ended
    lost: tuple[tuple[str, int], ...]
    reset: tuple[tuple[str, int], ...]
    slowest: tuple[tuple[str, float | None], ...]  # the longest flow that got through
    fail: tuple[tuple[str, str], ...]
    leaks: int
    drain: DrainResult | None = None
    moved: tuple[tuple[str, int], ...] = ()  # failed, moved by the load balancer: not lost


@dataclass(frozen=True, slots=True)
class Verdict:
    fault: int | None  # None: the baseline (before the first fault)
    check: str
    bound: str
    measured: str
    ok: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    scenario: str
    started: float
    baseline_ok: tuple[tuple[str, int], ...]
    faults: tuple[FaultResult, ...]
    verdicts: tuple[Verdict, ...]

    @property
    def passed(self) -> bool:
        return all(v.ok for v in self.verdicts)


@dataclass(frozen=True, slots=True)
class Run:
    """A played scenario: what was measured and the raw timestamps it came from."""

    scenario: Scenario
    outcome: Outcome
    attempts: tuple[Attempt, ...]
    arrivals: tuple[Arrival, ...]
    ended: float


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def leak(arrival: Arrival, profile: Profile) -> bool:
    method = profile.method(arrival.method)
    return arrival.src not in method.allowed_src | method.fail_open_src


def recover_times(attempts: Sequence[Attempt], start: float,
                  methods: Sequence[str]) -> dict[str, float | None]:
    """Per method (see the module's docstring); `attempts` are one window's."""
    out: dict[str, float | None] = {}
    for method in methods:
        mine = sorted((a for a in attempts if a.method == method), key=lambda a: a.t0)
        failed = [i for i, a in enumerate(mine) if not a.ok]
        if not failed:
            out[method] = 0.0
            continue
        again = [a for a in mine[failed[-1] + 1:] if a.ok]
        out[method] = again[0].t1 - start if again else None
    return out


def worst(times: Mapping[str, float | None]) -> float | None:
    """The largest, None if any is None (a method never recovered); 0 with none."""
    values = list(times.values())
    if any(v is None for v in values):
        return None
    return max((v for v in values if v is not None), default=0.0)


def fail_mode(method: str, attempts: Sequence[Attempt], arrivals: Sequence[Arrival],
              profile: Profile, kind: str) -> str:
    allowed = profile.method(method).allowed_src
    if kind not in ZIA_OUTAGES or not allowed <= profile.zia_edges:
        return "n/a"  # not a ZIA outage, or not a ZIA method: no fail mode to show
    if any(a.method == method and a.src not in allowed for a in arrivals):
        return "open"
    if any(a.method == method and not a.ok for a in attempts):
        return "close"
    return "unexercised"


def measure_fault(played: Played, end: float, started: float, attempts: Sequence[Attempt],
                  arrivals: Sequence[Arrival], methods: Sequence[str],
                  profile: Profile, moves: Sequence[Move] = ()) -> FaultResult:
    start = played.applied
    every = [a for a in attempts if start <= a.t0 < end]
    ports = {m: profile.method(m).port for m in methods}
    excused = [a for a in every if not a.ok
               and moved(a.sport, ports[a.method], a.since or a.t0, a.t1, moves)]
    window = [a for a in every if a not in excused]
    seen = [a for a in arrivals if start <= a.ts < end]
    after = [t for t in played.detected if t >= start]
    if played.has_detect_event:
        detect, by = (min(after) - start if after else None), "event"
    else:
        failed = [a.t1 for a in window if not a.ok]
        detect, by = (min(failed) - start if failed else None), "flows"
    recover = recover_times(window, start, methods)
    ended = played.undone if played.undone is not None else start  # a restart ends itself
    later = [t for t in played.back if t >= ended]
    back = min(later) - ended if later else None
    drain = None if played.membership is None else measure_drain(
        played.membership, start, min(after, default=None), played.undone,
        min(later) if later else None, end,
        [HeldRequest(a.t0, a.t1, a.ok) for a in every if a.method == HELD],  # a drain
        # keeps its flows where they are: a held flow moved while it ran is lost there
        [(a.ts, a.src) for a in seen if a.method == HELD])
    return FaultResult(
        index=played.fault.index, kind=played.fault.kind, nodes=played.fault.nodes,
        start_s=round(start - started, 3),
        undone_s=_r(None if played.undone is None else played.undone - started),
        detect_s=_r(detect), detect_by=by, recover_s=_r(worst(recover)),
        recover=tuple((m, _r(t)) for m, t in recover.items()),
        back_s=_r(back),
        lost=tuple((m, sum(1 for a in window if a.method == m and not a.ok)) for m in methods),
        reset=tuple((m, sum(1 for a in every if a.method == m and a.detail == "reset"))
                    for m in methods),
        moved=tuple((m, sum(1 for a in excused if a.method == m)) for m in methods),
        slowest=tuple((m, _r(max((a.t1 - a.t0 for a in window if a.method == m and a.ok),
                                 default=None))) for m in methods),
        fail=tuple((m, fail_mode(m, window, seen, profile, played.fault.kind))
                   for m in methods),
        leaks=sum(1 for a in seen if leak(a, profile)), drain=drain)


def verdicts(fault: Fault, result: FaultResult) -> list[Verdict]:
    """Each bound of the fault's `expect` against what was measured."""
    out: list[Verdict] = []
    i, expect = fault.index, fault.expect

    def upper(check: str, bound: float | None, measured: float | None) -> None:
        if bound is not None:
            out.append(Verdict(i, check, f"<= {bound:g}", "never" if measured is None
                               else f"{measured:g}", measured is not None and measured <= bound))

    upper("detect_s", expect.detect_s, result.detect_s)
    upper("recover_s", expect.recover_s, result.recover_s)
    recover = dict(result.recover)
    for method, limit in expect.recover:
        upper(f"recover.{method}", limit, recover.get(method))
    lost = dict(result.lost)
    for method, bound in expect.lost:
        upper(f"lost.{method}", bound, lost.get(method))
    fail = dict(result.fail)
    for method, mode in expect.fail:
        seen = fail.get(method, "unexercised")
        out.append(Verdict(i, f"fail.{method}", mode, seen, seen == mode))
    upper("leaks", expect.leaks, result.leaks)
    if result.drain is not None:
        out.extend(drain_verdicts(i, result.drain))
    return out


def drain_verdicts(index: int, drain: DrainResult) -> list[Verdict]:
    """The membership checks (`lab.scenario.drain`): bounds from AWS's rules, not the file."""
    checks = (("drain.new_flows_out", "<= 0", drain.new_flows_out, drain.new_flows_out == 0),
              ("drain.new_flows_back", ">= 1", drain.new_flows_back, drain.new_flows_back >= 1),
              ("drain.held_through", ">= 1", drain.held_through, drain.held_through >= 1),
              ("drain.held_lost", "<= 0", drain.held_lost, drain.held_lost == 0))
    return [Verdict(index, check, bound, str(n), ok) for check, bound, n, ok in checks]


def measure(scenario: Scenario, profile: Profile, started: float, ended: float,
            played: Sequence[Played], attempts: Sequence[Attempt],
            arrivals: Sequence[Arrival], moves: Sequence[Move] = ()) -> Outcome:
    methods = scenario.traffic.methods
    first = min((p.applied for p in played), default=ended)
    baseline = tuple((m, sum(1 for a in attempts if a.method == m and a.ok and a.t1 < first))
                     for m in methods)
    checks = [Verdict(None, f"baseline.{m}", ">= 1", str(n), n >= 1) for m, n in baseline]
    early = sum(1 for a in arrivals if a.ts < first and leak(a, profile))
    checks.append(Verdict(None, "baseline.leaks", "<= 0", str(early), early == 0))
    ordered = sorted(played, key=lambda p: p.applied)
    ends: Mapping[int, float] = {p.fault.index: (ordered[k + 1].applied if k + 1 < len(ordered)
                                                  else ended) for k, p in enumerate(ordered)}
    results = []
    for p in ordered:
        result = measure_fault(p, ends[p.fault.index], started, attempts, arrivals, methods,
                               profile, moves)
        results.append(result)
        checks.extend(verdicts(p.fault, result))
    return Outcome(scenario.name, started, baseline, tuple(results), tuple(checks))
