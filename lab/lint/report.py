"""Findings placed in the files they come from, and written as text or JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from lab.extends import Document, read_document
from lab.lint.finding import SEVERITIES, Finding
from yamlissues import Issue


def locate(findings: tuple[Finding, ...], source: Path) -> tuple[Finding, ...]:
    """Each finding's path in the composed topology -> the file, line and path where it is
    written (through `extends:`), its related paths too ('FILE:LINE PATH')."""
    doc = read_document(source.read_text(), source)
    placed = []
    for finding in findings:
        issue = _place(doc, finding.path)
        related = tuple(_where(_place(doc, p)) for p in finding.related)
        placed.append(replace(finding, file=issue.file, line=issue.line, path=issue.path,
                              related=related))
    return tuple(placed)


def _place(doc: Document, path: str) -> Issue:
    """A path may end in a note (`security_groups.nsg (default rule AllowVnetInBound)`):
    the YAML path is placed, the note kept."""
    head, sep, note = path.partition(" (")
    issue = doc.locate(Issue("", head, "", ""))
    return replace(issue, path=issue.path + sep + note)


def _where(issue: Issue) -> str:
    line = f":{issue.line}" if issue.line else ""
    return f"{issue.file}{line} {issue.path}"


def counts(findings: tuple[Finding, ...]) -> dict[str, int]:
    return {s: sum(f.severity == s for f in findings) for s in SEVERITIES}


def render_text(findings: tuple[Finding, ...], topology: str) -> str:
    n = counts(findings)
    head = f"{topology}: " + ", ".join(
        f"{n[s]} {s}{'s' if n[s] != 1 and s != 'info' else ''}" for s in SEVERITIES)
    lines = [head]
    for f in findings:
        at = f"{f.file}:{f.line}" if f.line else f.file
        lines += ["", f"{f.severity} [{f.check.id}] {f.check.title}",
                  f"  at {at} {f.path}".rstrip(), f"  {f.message}"]
        lines += [f"  also {r}" for r in f.related]
        lines += [f"  why: {f.check.reason}", f"  fix: {f.check.fix}"]
    return "\n".join(lines) + "\n"


def render_json(findings: tuple[Finding, ...], topology: str) -> str:
    return json.dumps({
        "topology": topology, "counts": counts(findings),
        "findings": [{"check": f.check.id, "severity": f.severity, "title": f.check.title,
                      "file": f.file, "line": f.line, "path": f.path, "message": f.message,
                      "related": list(f.related), "reason": f.check.reason, "fix": f.check.fix}
                     for f in findings]}, indent=2) + "\n"
