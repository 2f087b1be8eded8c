"""A played scenario as JSON (reports/scenarios/NAME.json) and as text. Pure."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from lab.scenario.measure import Run


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
                    "reset": dict(f.reset), "fail": dict(f.fail), "recover": dict(f.recover),
                    "slowest": dict(f.slowest),
                    "hold_s": s.timeline[k].hold_s, "params": dict(s.timeline[k].params)}
                   for k, f in enumerate(o.faults)],
        "verdicts": [asdict(v) for v in o.verdicts],
        "attempts": [[a.method, a.seq, rel(a.t0), rel(a.t1), a.ok, a.detail]
                     for a in run.attempts],
        "arrivals": [[a.method, a.src, rel(a.ts)] for a in run.arrivals],
    }


def text(run: Run) -> str:
    o = run.outcome
    lines = [f"scenario {o.scenario}: {'PASSED' if o.passed else 'FAILED'}"]
    for f in o.faults:
        lost = ", ".join(f"{m} {n}" for m, n in f.lost)
        fail = ", ".join(f"{m} {v}" for m, v in f.fail if v not in ("unexercised", "n/a"))
        lines.append(f"  #{f.index} {f.kind} {','.join(f.nodes)} at {f.start_s:g} s: "
                     f"detect {_s(f.detect_s)} ({f.detect_by}), recover {_s(f.recover_s)}, "
                     f"back {_s(f.back_s)}; lost {lost}; leaks {f.leaks}"
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


def _s(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"
