"""reports/SUMMARY.md: the last run in one page, from Allure's results and the benchmarks.

Pass/fail per feature (the spec area a test belongs to), per tier, the attack
matrix of the cloud topologies (from the `outcome` label each attack test sets
with what it observed; one cell per topology, both backends' outcomes in it
when they differ) and the benchmark figures (the table of docs/figures.md,
from reports/figures.py). `summarize` is pure;
`python -m reports.summary` reads reports/allure-results and reports/bench.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reports import figures

RESULTS = Path("reports/allure-results")
BENCH = Path("reports/bench")
OUT = Path("reports/SUMMARY.md")
STATUSES = ("passed", "failed", "broken", "skipped")

Result = dict[str, Any]


Cells = dict[str, dict[str, set[str]]]


def label(result: Result, name: str, default: str = "") -> str:
    return next((lab["value"] for lab in result.get("labels", []) if lab["name"] == name),
                default)


def param_id(result: Result) -> str:
    match = re.search(r"\[(.*)\]$", result.get("name", ""))
    return match.group(1) if match else ""


def summarize(results: list[Result], bench: dict[str, Any], when: str) -> str:
    lines = [f"# Last run: {when}", ""]
    totals = Counter(r["status"] for r in results)
    lines.append("**" + ", ".join(f"{totals.get(s, 0)} {s}" for s in STATUSES) + "**")
    lines += ["", "## By tier", "", *_table(results, lambda r: label(r, "tag", "untiered"))]
    lines += ["", "## By feature", "",
              *_table(results, lambda r: label(r, "feature") or label(r, "parentSuite"))]
    forwarding = _forwarding_matrix(results)
    if forwarding:
        lines += ["", "## Forwarding matrix (each method on each cloud topology)", "",
                  *forwarding]
    matrix = _attack_matrix(results)
    if matrix:
        lines += ["", "## Attack matrix (cloud topologies, what each test observed)", "",
                  *matrix]
    skipped = _skipped(results)
    if skipped:
        lines += ["", "## Skipped (per tier, by reason; in CI a skip of netns, docker or load"
                  " fails the run)", "", *skipped]
    failed = [r for r in results if r["status"] in ("failed", "broken")]
    if failed:
        lines += ["", "## Failed", ""]
        lines += [f"- `{r.get('fullName', r['name'])}[{param_id(r)}]`: {_first_line(r)}"
                  for r in failed]
    if bench:
        lines += ["", "## Figures (reports/bench)", "", *_figures(bench)]
    return "\n".join(lines) + "\n"


def _skipped(results: list[Result]) -> list[str]:
    reasons: Counter[tuple[str, str]] = Counter(
        (label(r, "tag", "untiered"), _first_line(r).removeprefix("Skipped: "))
        for r in results if r["status"] == "skipped")
    return [f"- {tier}: {count} x {reason}" for (tier, reason), count in sorted(reasons.items())]


def _first_line(result: Result) -> str:
    message = (result.get("statusDetails") or {}).get("message", "")
    return message.strip().splitlines()[0][:200] if message.strip() else "(no message)"


def _table(results: list[Result], key: Any) -> list[str]:
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for r in results:
        groups[key(r)][r["status"]] += 1
    rows = ["| | " + " | ".join(STATUSES) + " |", "|---" * (len(STATUSES) + 1) + "|"]
    for name in sorted(groups):
        rows.append(f"| {name} | " + " | ".join(str(groups[name].get(s, 0)) for s in STATUSES)
                    + " |")
    return rows


def _attack_matrix(results: list[Result]) -> list[str]:
    cells: Cells = defaultdict(lambda: defaultdict(set))
    for r in results:
        outcome = label(r, "outcome")
        if not outcome:
            continue
        mark = outcome if r["status"] == "passed" else f"{outcome} (UNEXPECTED)"
        cells[label(r, "story") or r["name"]][_topology_of(param_id(r))].add(mark)
    return _grid(cells, "attack")


def _forwarding_matrix(results: list[Result]) -> list[str]:
    """Each forwarding method (the tests' `method` label) on each topology: as specified?"""
    cells: Cells = defaultdict(lambda: defaultdict(set))
    for r in results:
        method = label(r, "method")
        if method:
            mark = "as specified" if r["status"] == "passed" else f"**{r['status']}**"
            cells[method][_topology_of(param_id(r))].add(mark)
    return _grid(cells, "method")


def _grid(cells: Cells, corner: str) -> list[str]:
    if not cells:
        return []
    topologies = sorted({t for row in cells.values() for t in row})
    rows = [f"| {corner} | " + " | ".join(topologies) + " |",
            "|---" * (len(topologies) + 1) + "|"]
    for name in sorted(cells):
        rows.append(f"| {name} | " + " | ".join(" / ".join(sorted(cells[name].get(t, {"-"})))
                                                for t in topologies) + " |")
    return rows


def _topology_of(pid: str) -> str:
    """`aws-natgw-netns-vpc` -> `aws-natgw`: the test's own case, then the backend, dropped."""
    pid = re.sub(r"-(vpc|rfc1918)$", "", pid)
    return re.sub(r"-(netns|docker)$", "", pid)


def _figures(bench: dict[str, Any]) -> list[str]:
    """The rows of docs/figures.md (reports/figures.py): medians and targets, no single runs."""
    lines = figures.table(figures.figures(bench))
    missing = figures.unknown(bench)
    if missing:
        lines += ["", "No rows yet for: " + ", ".join(f"{name}.json" for name in missing)]
    return lines


def main() -> int:
    results = []
    for path in sorted(RESULTS.glob("*-result.json")):
        try:
            results.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    if not results:
        print(f"reports.summary: no results in {RESULTS}; run `make test` first", file=sys.stderr)
        return 2
    bench = figures.load(BENCH)
    when = datetime.fromtimestamp(max(r.get("stop", 0) for r in results) / 1000, UTC)
    OUT.write_text(summarize(results, bench, when.strftime("%Y-%m-%d %H:%M UTC")))
    print(f"reports.summary: wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
