"""reports/mutation/core.md and core.json from the results `mutmut run` left in mutants/.

`make mutmut` runs mutmut over connector/core with the unit tier, then this. Every
mutant that no test killed is listed with its diff and a verdict: "equivalent" with
the reason kept in suites/mutants/equivalent.toml; "accepted" where it is not
equivalent but a test would only copy the code (an entry with `verdict = "accepted"`,
its reason saying why); or UNEXPLAINED. An entry there is
keyed by what the mutant is (module, function, the original and the mutated line
text), not by mutmut's numbering, so the verdicts survive edits elsewhere in a file.
Run it from the project root: `python -m suites.mutants.mutmut_report`.
"""

from __future__ import annotations

import argparse
import ast
import json
import tomllib
from collections import Counter
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

CORE = Path("connector/core")
MUTANTS = Path("mutants")
EQUIVALENT = Path("suites/mutants/equivalent.toml")
OUT = Path("reports/mutation")

# mutmut's exit codes (mutmut/stats.py): a test failed = killed; the rest did not kill.
KILLED, TIMEOUT = {1, 3}, {-24, 24, 152, 255, 36}
STATUS = {0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", 37: "type check"}


def status_of(code: int | None) -> str:
    if code in KILLED:
        return "killed"
    if code in TIMEOUT:
        return "timeout"  # the mutant made a test run past its time limit: detected
    if code is None:
        return "not checked"
    return STATUS.get(code, "suspicious")


@dataclass(frozen=True)
class Survivor:
    module: str
    function: str
    line: int
    before: str
    after: str
    status: str
    diff: str
    verdict: str  # "equivalent", "accepted" or "UNEXPLAINED"
    reason: str
    mutant: str  # mutmut's name, for `mutmut show` (changes between runs)


def changed_lines(diff: str) -> tuple[str, str]:
    """The original and the mutated lines of a unified diff, stripped, one per line."""
    lines = diff.splitlines()
    old = [ln[1:].strip() for ln in lines if ln.startswith("-") and not ln.startswith("---")]
    new = [ln[1:].strip() for ln in lines if ln.startswith("+") and not ln.startswith("+++")]
    return "\n".join(old), "\n".join(new)


def function_of(mutant: str) -> str:
    """`connector.core.rrl.xǁResponseRateLimiterǁcheck__mutmut_3` -> `ResponseRateLimiter.check`."""
    mangled = mutant.rpartition(".")[2].partition("__mutmut_")[0]
    if mangled.startswith("x_"):
        return mangled[2:]
    _, cls, name = mangled.split("ǁ")
    return f"{cls}.{name}"


def line_of(source: str, function: str, text: str) -> int:
    """The line in `source` of `text` (stripped) inside `function`, 0 if not found."""
    *owner, name = function.split(".")
    body: list[ast.stmt] = ast.parse(source).body
    for cls in owner:
        body = next((n.body for n in body if isinstance(n, ast.ClassDef) and n.name == cls), [])
    lines = source.splitlines()
    for fn in body:
        if isinstance(fn, ast.FunctionDef) and fn.name == name:
            span = range(fn.lineno, (fn.end_lineno or fn.lineno) + 1)
            return next((n for n in span if lines[n - 1].strip() == text), fn.lineno)
    return 0


Known = dict[tuple[str, str, str, str], tuple[str, str]]
VERDICTS = ("equivalent", "accepted")


def load_equivalents(path: Path) -> tuple[Known, dict[str, str]]:
    """(identity -> (verdict, reason), deferred module -> why no verdicts are written yet)."""
    data = tomllib.loads(path.read_text()) if path.exists() else {}
    known: Known = {}
    for e in data.get("mutant", []):
        verdict = e.get("verdict", "equivalent")
        if verdict not in VERDICTS:
            raise ValueError(f"{path}: {e['module']} {e['function']}: verdict {verdict!r} "
                             f"is none of {VERDICTS}")
        known[(e["module"], e["function"], e["before"].strip(), e["after"].strip())] = \
            (verdict, e["reason"])
    return known, dict(data.get("deferred", {}))


def read_results(mutants: Path) -> dict[str, dict[str, int | None]]:
    """Module -> mutant name -> exit code, from mutmut's per-file .meta files."""
    results: dict[str, dict[str, int | None]] = {}
    for meta in sorted((mutants / CORE).glob("*.py.meta")):
        module = ".".join(CORE.parts) + "." + meta.name.removesuffix(".py.meta")
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if codes:
            results[module] = codes
    return results


def survivors(results: dict[str, dict[str, int | None]], known: Known) -> list[Survivor]:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    found: list[Survivor] = []
    for module, codes in results.items():
        path = CORE / (module.rpartition(".")[2] + ".py")
        source = path.read_text()
        for mutant, code in sorted(codes.items(), key=lambda kv: _number(kv[0])):
            status = status_of(code)
            if status in ("killed", "timeout"):
                continue
            # the hunk alone: its header's line numbers count from the function, not the file
            diff = "\n".join(get_diff_for_mutant(mutant, path=path).splitlines()[3:])
            before, after = changed_lines(diff)
            function = function_of(mutant)
            verdict, reason = known.get((module, function, before, after),
                                        ("UNEXPLAINED", ""))
            found.append(Survivor(module, function, line_of(source, function,
                                                             before.split("\n")[0]),
                                  before, after, status, diff, verdict, reason, mutant))
    return sorted(found, key=lambda s: (s.module, s.line, s.mutant))


def _number(mutant: str) -> tuple[str, int]:
    head, _, n = mutant.rpartition("__mutmut_")
    return head, int(n) if n.isdigit() else 0


def figures(results: dict[str, dict[str, int | None]]) -> dict[str, Any]:
    modules: dict[str, dict[str, Any]] = {}
    for module, codes in results.items():
        counts = Counter(status_of(c) for c in codes.values())
        modules[module] = {"total": len(codes), **dict(sorted(counts.items())),
                           "score": _score(counts, len(codes))}
    total = Counter[str]()
    for item in modules.values():
        total.update({k: v for k, v in item.items() if k not in ("total", "score")})
    count = sum(item["total"] for item in modules.values())
    return {"total": count, **dict(sorted(total.items())), "score": _score(total, count),
            "modules": modules}


def _score(counts: Counter[str], total: int) -> float:
    """Detected share: killed plus timed out, over every mutant."""
    return round(100 * (counts["killed"] + counts["timeout"]) / total, 1) if total else 0.0


def markdown(data: dict[str, Any], found: list[Survivor], deferred: dict[str, str],
             stale: list[tuple[str, str, str, str]]) -> str:
    out = [
        "# Mutation testing of connector/core",
        "",
        f"`make mutmut`: mutmut {data['mutmut']} over `connector/core/*.py`, each mutant "
        "against the unit tests of `suites/unit/connector/` that run its function "
        "(settings in pyproject.toml `[tool.mutmut]`). Equivalent mutants and their reasons: "
        f"`{EQUIVALENT}`.",
        "",
        f"**Score: {data['detected']} of {data['total']} mutants killed ({data['score']}%)**"
        f"; {data.get('survived', 0)} survived, {data.get('no tests', 0)} reached by no test, "
        f"{len([s for s in found if s.verdict == 'equivalent'])} of the "
        f"{len(found)} not killed explained as equivalent, "
        f"{len([s for s in found if s.verdict == 'accepted'])} accepted with a reason "
        "(not equivalent: a test would only copy the code), "
        f"{len([s for s in found if s.verdict == 'UNEXPLAINED'])} unexplained.",
    ]
    if data.get("seconds"):
        workers = data.get("workers", 1)
        out.append(f"A full run took {data['seconds'] / 60:.0f} min "
                   f"({'one worker' if workers == 1 else f'{workers} workers'}).")
    out += ["", "| module | mutants | killed | timeout | survived | no tests | other | score |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    rows = [*data["modules"].items(), ("**all**", data)]
    for module, m in rows:
        other = m["total"] - sum(m.get(k, 0) for k in ("killed", "timeout", "survived",
                                                       "no tests"))
        out.append(f"| {module} | {m['total']} | {m.get('killed', 0)} | {m.get('timeout', 0)} "
                   f"| {m.get('survived', 0)} | {m.get('no tests', 0)} | {other} "
                   f"| {m['score']}% |")
    if deferred:
        out += ["", "Deferred (survivors listed, verdicts not written yet): "
                + "; ".join(f"`{m}` ({why})" for m, why in sorted(deferred.items()))]
    out += ["", "## Mutants not killed", ""]
    if not found:
        out.append("None.")
    for s in found:
        verdict = f"{s.verdict}: {s.reason}" if s.reason else "**UNEXPLAINED**"
        if not s.reason and s.module in deferred:
            verdict += f" (deferred: {deferred[s.module]})"
        out += [f"### {s.module} `{s.function}` line {s.line} ({s.status})", "",
                verdict, "", "```diff", s.diff, "```", ""]
    if stale:
        out += ["## Entries of the equivalence file that match no surviving mutant", ""]
        out += [f"- {m} `{f}`: `{b}` -> `{a}`" for m, f, b, a in stale]
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.0,
                        help="how long the mutmut run took, to print in the report")
    parser.add_argument("--workers", type=int, default=1,
                        help="how many mutants ran at once (mutmut --max-children)")
    args = parser.parse_args()
    results = read_results(MUTANTS)
    if not results:
        print("no mutmut results in mutants/: run `make mutmut`")
        return 2
    known, deferred = load_equivalents(EQUIVALENT)
    found = survivors(results, known)
    data = figures(results)
    data["detected"] = data.get("killed", 0) + data.get("timeout", 0)
    data["mutmut"] = version("mutmut")
    if args.seconds:
        data["seconds"] = round(args.seconds)
        data["workers"] = args.workers
    used = {(s.module, s.function, s.before, s.after) for s in found}
    stale = sorted(set(known) - used)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "core.md").write_text(markdown(data, found, deferred, stale))
    data["not_killed"] = [asdict(s) for s in found]
    (OUT / "core.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    unexplained = sum(s.verdict == "UNEXPLAINED" for s in found)
    print(f"mutation score {data['score']}% ({data['detected']}/{data['total']}); "
          f"{len(found)} not killed, {unexplained} unexplained -> {OUT}/core.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
