"""reports/bench/tests.json: how long `make test` took, per tier and per module.

`make test` writes pytest's JUnit XML to reports/junit/ (one file per pytest run:
the parallel part, then the `quiet` tests). Each test case carries its tier and
when it started and ended (properties set in suites/conftest.py), so a tier's
wall time is the time during which at least one of its tests was running (its
tests' intervals merged, across xdist workers), and its test time the sum of its
tests' durations (setup, call and teardown, a module lab's bring-up included in
the test that set it up). `summarize` is pure; `python -m reports.test_times
[XML ...]` reads the files (default reports/junit/*.xml) and writes the JSON.
"""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JUNIT = Path("reports/junit")
OUT = Path("reports/bench/tests.json")
SLOWEST = 15


@dataclass(frozen=True, slots=True)
class Case:
    nodeid: str  # classname.name, as JUnit spells it
    module: str  # suites/x/test_y.py
    tier: str  # "" when the run did not record it
    seconds: float
    started: float | None
    ended: float | None
    outcome: str  # passed, failed, error, skipped


@dataclass(frozen=True, slots=True)
class Run:
    wall_s: float
    cases: list[Case]


def parse_junit(text: str) -> Run:
    """One pytest run's JUnit XML (a <testsuites> or a bare <testsuite>)."""
    root = ET.fromstring(text)
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    cases = [_case(tc) for suite in suites for tc in suite.iter("testcase")]
    return Run(sum(float(s.get("time", 0)) for s in suites), cases)


def _case(tc: ET.Element) -> Case:
    props = {p.get("name", ""): p.get("value", "") for p in tc.iter("property")}
    classname = tc.get("classname", "")
    outcome = next((tag for tag in ("failure", "error", "skipped") if tc.find(tag) is not None),
                   "passed")
    return Case(f"{classname}.{tc.get('name', '')}", module_of(classname), props.get("tier", ""),
                float(tc.get("time", 0)), _float(props.get("started")), _float(props.get("ended")),
                "failed" if outcome == "failure" else outcome)


def module_of(classname: str) -> str:
    """suites.x.test_y(.TestClass) -> suites/x/test_y.py. Pure."""
    parts = classname.split(".")
    while len(parts) > 1 and re.match(r"[A-Z]", parts[-1]):
        parts.pop()
    return "/".join(parts) + ".py"


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """How long at least one of the intervals was open (their union's length). Pure."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def summarize(runs: list[Run]) -> dict[str, Any]:
    """Per tier: tests, test seconds, wall seconds; per module the same; the slowest."""
    cases = [c for run in runs for c in run.cases]
    tiers: dict[str, list[Case]] = defaultdict(list)
    modules: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        tiers[case.tier or "unknown"].append(case)
        modules[case.module].append(case)
    return {
        "wall_s": round(sum(run.wall_s for run in runs), 1),
        "tests": len(cases),
        "outcomes": dict(sorted(Counter(c.outcome for c in cases).items())),
        "tiers": {tier: _totals(group) for tier, group in sorted(tiers.items())},
        "modules": {module: {"tier": "+".join(sorted({c.tier for c in group if c.tier})),
                             **_totals(group)}
                    for module, group in sorted(modules.items(),
                                                key=lambda kv: -sum(c.seconds for c in kv[1]))},
        "slowest": [{"test": c.nodeid, "seconds": round(c.seconds, 1)}
                    for c in sorted(cases, key=lambda c: -c.seconds)[:SLOWEST]],
    }


def _totals(cases: list[Case]) -> dict[str, Any]:
    spans = [(c.started, c.ended) for c in cases if c.started is not None and c.ended is not None]
    totals: dict[str, Any] = {"tests": len(cases),
                              "test_s": round(sum(c.seconds for c in cases), 1)}
    if len(spans) == len(cases) and spans:
        totals["wall_s"] = round(busy_seconds(spans), 1)
    return totals


def main(argv: list[str]) -> int:
    files = [Path(a) for a in argv] or sorted(JUNIT.glob("*.xml"))
    if not files:
        print(f"no JUnit XML in {JUNIT}: run make test first", file=sys.stderr)
        return 2
    summary = summarize([parse_junit(f.read_text()) for f in files])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{OUT}: {summary['tests']} tests, {summary['wall_s']} s; "
          + ", ".join(f"{t} {v.get('wall_s', v['test_s'])} s" for t, v in summary["tiers"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
