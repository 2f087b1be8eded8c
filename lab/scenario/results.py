"""A played scenario as JSON (reports/scenarios/NAME.json) and as text. Pure."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from lab.scenario.measure import Run

LATE_SHOWN = 12  # failed attempts listed after a fault's undo


def to_json(run: Run) -> dict[str, Any]:
    """Times are seconds after the traffic started, rounded to milliseconds."""
    s, o = run.scenario, run.outcome

    def rel(t: float) -> float:
        return round(t - o.started, 3)

    return {
        "scenario": s.name, "description": s.description, "topology": s.topology,
        "source": str(s.source) if s.source else None,
        "passed": o.passed, "duration_s": s.traffic.duration_s,
        "interval_s": s.traffic.interval_s, "methods": list(s.traffic.methods),
        "baseline_ok": dict(o.baseline_ok),
        "faults": [{**asdict(f), "nodes": list(f.nodes), "lost": dict(f.lost),
                    "reset": dict(f.reset), "moved": dict(f.moved), "fail": dict(f.fail),
                    "recover": dict(f.recover), "slowest": dict(f.slowest),
                    "hold_s": s.timeline[k].hold_s, "params": dict(s.timeline[k].params)}
                   for k, f in enumerate(o.faults)],
        "verdicts": [asdict(v) for v in o.verdicts],
        "attempts": [[a.method, a.seq, rel(a.t0), rel(a.t1), a.ok, a.detail, a.sport]
                     for a in run.attempts],
        "arrivals": [[a.method, a.src, rel(a.ts)] for a in run.arrivals],
    }


def text(run: Run) -> str:
    o = run.outcome
    lines = [f"scenario {o.scenario}: {'PASSED' if o.passed else 'FAILED'}"]
    for f in o.faults:
        lost = ", ".join(f"{m} {n}" for m, n in f.lost)
        moved = ", ".join(f"{m} {n}" for m, n in f.moved if n)
        if moved:
            lost += f" (and moved by the load balancer, spec §3.1: {moved})"
        fail = ", ".join(f"{m} {v}" for m, v in f.fail if v not in ("unexercised", "n/a"))
        lines.append(f"  #{f.index} {f.kind} {','.join(f.nodes)} at {f.start_s:g} s: "
                     f"detect {_s(f.detect_s)} ({f.detect_by}), recover {_s(f.recover_s)}"
                     f"{_each(f.recover)}, back {_s(f.back_s)}; lost {lost}; leaks {f.leaks}"
                     + (f"; fail {fail}" if fail else ""))
        if f.drain is not None:
            d = f.drain
            lines.append(f"     drain ends {_s(d.drain_end_s)}; new flows to it while out "
                         f"{d.new_flows_out}, once back {d.new_flows_back}; held requests "
                         f"through it while draining {d.held_through}, lost {d.held_lost}")
    for v in o.verdicts:
        where = "baseline" if v.fault is None else f"#{v.fault}"
        lines.append(f"  {'ok  ' if v.ok else 'FAIL'} {where} {v.check}: {v.measured} "
                     f"(bound {v.bound})")
    return "\n".join(lines) + "\n"


def failed_after_undo(run: Run) -> str:
    """The attempts that failed after a fault was undone, by fault: beside a missed recovery
    bound, it tells one late loss (a flow lost on a loaded machine) from a path that stayed
    down. Times are seconds after the traffic started, as in the JSON."""
    o = run.outcome
    lines = []
    ends = [f.start_s for f in o.faults[1:]] + [float("inf")]
    for f, end in zip(o.faults, ends, strict=True):
        if f.undone_s is None:
            continue
        late = [a for a in run.attempts if not a.ok
                and f.undone_s <= a.t0 - o.started < end]
        shown = ", ".join(f"{a.method}#{a.seq} {a.t0 - o.started:.2f}-{a.t1 - o.started:.2f} s"
                          f" {a.detail}" for a in late[:LATE_SHOWN])
        more = f" and {len(late) - LATE_SHOWN} more" if len(late) > LATE_SHOWN else ""
        lines.append(f"  #{f.index} undone at {f.undone_s:g} s; failed after: "
                     f"{shown or 'none'}{more}")
    return "\n".join(lines) + "\n" if lines else ""


def _each(recover: tuple[tuple[str, float | None], ...]) -> str:
    lost = [(m, t) for m, t in recover if t != 0.0]
    return f" ({', '.join(f'{m} {_s(t)}' for m, t in lost)})" if len(lost) > 1 else ""


def _s(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"
