"""`python -m suites.mutants [ID ...] [--list]`: run the hand-made faults (`make mutants`).

For each fault of the catalogue (or the ones named): apply its edits to the
working tree, run its test selection, restore the files (always, also on
Ctrl-C), and record whether the selection failed (killed), passed (survived) or
could not run (error; stale: the edit's text is gone from the file). Prints a
line a fault and writes reports/mutation/mutants.json and mutants.md (a run of
named faults replaces their rows of the last report and keeps the rest). Exit 0
only when every fault run was killed. The files a fault edits must be unchanged
in git (a run never mixes a fault with someone's edit).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suites.mutants.catalogue import FAULTS, Fault

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "reports" / "mutation"
TIMEOUT_S = 900


@dataclass(frozen=True, slots=True)
class Outcome:
    fault: Fault
    verdict: str  # killed | survived | error | stale
    seconds: float
    detail: str = ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m suites.mutants", description=__doc__)
    parser.add_argument("ids", nargs="*", help="faults to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the faults and stop")
    args = parser.parse_args(argv)
    chosen = [f for f in FAULTS if not args.ids or f.id in args.ids]
    unknown = set(args.ids) - {f.id for f in FAULTS}
    if unknown:
        parser.error(f"no such fault: {', '.join(sorted(unknown))}")
    if args.list:
        for f in chosen:
            print(f"{f.id:32} {f.area:28} {f.what}")
        return 0
    outcomes = []
    for n, item in enumerate(chosen, 1):
        print(f"[{n}/{len(chosen)}] {item.id}: {item.what} ...", end=" ", flush=True)
        outcome = run_fault(item)
        note = f" {outcome.detail}" if outcome.detail else ""
        print(f"{outcome.verdict} ({outcome.seconds:.0f} s){note}", flush=True)
        outcomes.append(outcome)
    rows = [_row(o) for o in outcomes]
    if args.ids:  # a subset updates its rows of the last report; the others stay
        rows = merged(_previous_rows(), rows, [f.id for f in FAULTS])
    write_reports(rows)
    killed = sum(o.verdict == "killed" for o in outcomes)
    print(f"mutants: {killed} of {len(outcomes)} killed; reports/mutation/mutants.md "
          f"({sum(r['verdict'] == 'killed' for r in rows)} of {len(rows)} in the report)")
    return 0 if killed == len(outcomes) else 1


def merged(previous: list[dict[str, Any]], new: list[dict[str, Any]],
           order: list[str]) -> list[dict[str, Any]]:
    """The last report's rows with `new` in place of theirs, in catalogue order; rows of
    faults no longer in the catalogue are dropped."""
    by_id = {r["id"]: r for r in previous if r["id"] in order} | {r["id"]: r for r in new}
    return [by_id[i] for i in order if i in by_id]


def _previous_rows() -> list[dict[str, Any]]:
    try:
        rows: list[dict[str, Any]] = json.loads((OUT / "mutants.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        return []
    return rows


def run_fault(item: Fault) -> Outcome:
    started = time.monotonic()
    files = sorted({e.path for e in item.edits})
    dirty = _dirty(files)
    if dirty:
        return Outcome(item, "error", 0.0, f"uncommitted changes in {', '.join(dirty)}")
    originals = {path: (ROOT / path).read_text() for path in files}
    try:
        problem = _apply(item, originals) or _compile(files)
        if problem:
            return Outcome(item, "stale", time.monotonic() - started, problem)
        code, first = _pytest(item.tests)
    finally:
        for path, text in originals.items():
            (ROOT / path).write_text(text)
        _compile(files)
    verdict = {0: "survived", 1: "killed"}.get(code, "error")
    detail = first if code == 1 else "" if code == 0 else f"pytest exited {code}"
    return Outcome(item, verdict, time.monotonic() - started, detail)


def _apply(item: Fault, originals: dict[str, str]) -> str:
    texts = dict(originals)
    for edit in item.edits:
        found = texts[edit.path].count(edit.old)
        if found != 1:
            return f"{edit.path}: the text to change is there {found} times, not once"
        texts[edit.path] = texts[edit.path].replace(edit.old, edit.new)
    for path, text in texts.items():
        (ROOT / path).write_text(text)
    return ""


def _compile(files: list[str]) -> str:
    """A fault in a tc program's C source or header is loaded as its object: `make bpf`
    compiles what changed (the fault, then the original once restored); what failed,
    or ""."""
    if not any(path.endswith((".c", ".h")) for path in files):
        return ""
    done = subprocess.run(["make", "-s", "bpf"], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    return "" if done.returncode == 0 else f"make bpf: {done.stderr[-300:]}"


def _dirty(files: list[str]) -> list[str]:
    done = subprocess.run(["git", "status", "--porcelain", "--", *files], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    return [line[3:] for line in done.stdout.splitlines()]


def _pytest(tests: tuple[str, ...]) -> tuple[int, str]:
    """pytest's exit code, and the first test that failed (what killed the fault)."""
    argv = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
            "-o", "addopts=--strict-markers", "-rfE", *tests]
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return -1, ""
    first = next((line for line in done.stdout.splitlines()
                  if line.startswith(("FAILED ", "ERROR "))), "")
    return done.returncode, first[:160]


def _row(o: Outcome) -> dict[str, Any]:
    return {"id": o.fault.id, "area": o.fault.area, "fault": o.fault.what,
            "verdict": o.verdict, "seconds": round(o.seconds, 1), "detail": o.detail,
            "tests": " ".join(o.fault.tests)}


def write_reports(rows: list[dict[str, Any]]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    killed = sum(r["verdict"] == "killed" for r in rows)
    (OUT / "mutants.json").write_text(json.dumps(
        {"faults": len(rows), "killed": killed, "results": rows}, indent=2) + "\n")
    lines = ["# Hand-made faults (`make mutants`)", "",
             f"**{killed} of {len(rows)} killed.** Each fault is one realistic mistake "
             "(suites/mutants/catalogue.py), run against the narrowest tests that should "
             "catch it; *by* names the first test that failed.", "",
             "| fault | area | the mistake | verdict | by | seconds | tests |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['id']} | {r['area']} | {r['fault']} | {r['verdict']} "
              f"| {_cell(str(r['detail']))} | {r['seconds']} | `{r['tests']}` |" for r in rows]
    (OUT / "mutants.md").write_text("\n".join(lines) + "\n")


def _cell(text: str) -> str:
    return text.replace("|", "/")


if __name__ == "__main__":
    sys.exit(main())
