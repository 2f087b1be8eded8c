"""Failure scenarios: each shipped scenario (lab/scenarios/*.yaml) played once, on one lab
per topology; per fault, the time to detect and to recover, the flows lost, against the bounds
its own file writes. reports/bench/scenarios.json; each scenario's full result and
timeline picture under reports/scenarios/ (as `cclab scenario run` writes them).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from lab.api import bring_up
from lab.cli_scenario import write
from lab.scenario.model import Scenario
from lab.scenario.results import to_json
from lab.scenario.runner import play
from lab.scenario.schema import load_scenario

OUT = Path("reports/bench/scenarios.json")
SCENARIOS = Path("lab/scenarios")
DETAIL = Path("reports/scenarios")


def main() -> None:
    scenarios = [load_scenario(p) for p in sorted(SCENARIOS.glob("*.yaml"))]
    rows: list[dict[str, object]] = []
    for topology in sorted({s.topology for s in scenarios}):
        rows += _on_one_lab(topology, [s for s in scenarios if s.topology == topology])
    result = {"benchmark": "failure scenarios: time to detect and recover per fault",
              "backend": "netns", "results": rows}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")


def _on_one_lab(topology: str, scenarios: list[Scenario]) -> list[dict[str, object]]:
    lab = bring_up(topology, instance=f"bench-scen-{os.getpid()}")
    rows: list[dict[str, object]] = []
    try:
        for scenario in scenarios:
            run = play(lab, scenario)
            write(to_json(run), DETAIL)
            for fault, result in zip(scenario.timeline, run.outcome.faults, strict=True):
                rows.append({
                    "scenario": scenario.name, "topology": topology, "index": fault.index,
                    "fault": fault.kind, "params": dict(fault.params),
                    "nodes": list(fault.nodes), "detect_s": result.detect_s,
                    "detect_by": result.detect_by, "detect_bound_s": fault.expect.detect_s,
                    "recover_s": result.recover_s, "recover_bound_s": fault.expect.recover_s,
                    "lost": dict(result.lost), "leaks": result.leaks,
                    "fail": {m: v for m, v in result.fail if v != "n/a"},
                    "passed": all(v.ok for v in run.outcome.verdicts
                                  if v.fault in (None, fault.index))})
            print(f"  scenario {scenario.name}: "
                  f"{'bounds held' if run.outcome.passed else 'a bound FAILED'}", file=sys.stderr)
    finally:
        lab.down()
    return rows


if __name__ == "__main__":
    main()
