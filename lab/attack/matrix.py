"""The attack matrix: for each attack at each target, what the rules say (expected, with
the deciding rule), what the packets did (observed), and whether the two agree.
Written as JSON (read back by `cclab diff`), Markdown and JUnit XML. Pure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from lab.attack.expect import Cell

EXIT_BLOCKED = 0
EXIT_SUCCEEDED = 1
EXIT_UNANSWERED = 2  # a probe never left: the lab could not answer the question


@dataclass(frozen=True, slots=True)
class Row:
    """One attack at one target. `sent`: its packets were seen at the internet gateway
    (None where the lab has no gateway to look at)."""

    key: str
    attack: str
    title: str
    target: str
    proto: str
    port: int
    source: str
    expected: bool
    rule: str
    path: str
    observed: bool
    sent: bool | None
    evidence: str

    @property
    def agree(self) -> bool:
        return self.expected == self.observed

    @classmethod
    def of(cls, cell: Cell, observed: bool, sent: bool | None, evidence: str) -> Row:
        target = f"{cell.target.node}/{cell.target.iface} ({cell.destination})"
        return cls(cell.key, cell.attack.id, cell.attack.title, target,
                   cell.attack.proto, cell.port, str(cell.source), cell.expected, cell.rule,
                   cell.path, observed, sent, evidence)


@dataclass(frozen=True, slots=True)
class Matrix:
    topology: str
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def blocked(self) -> list[Row]:
        return [r for r in self.rows if not r.observed]

    @property
    def succeeded(self) -> list[Row]:
        return [r for r in self.rows if r.observed]

    @property
    def disagreements(self) -> list[Row]:
        return [r for r in self.rows if not r.agree]

    @property
    def unsent(self) -> list[Row]:
        return [r for r in self.rows if r.sent is False]

    def summary(self) -> str:
        text = (f"{len(self.blocked)} attacks blocked, {len(self.succeeded)} succeeded, "
                f"{len(self.disagreements)} where expectation and packets disagree")
        if self.unsent:
            text += f"; {len(self.unsent)} never reached the internet gateway"
        return text

    def exit_code(self) -> int:
        if self.unsent:
            return EXIT_UNANSWERED
        return EXIT_SUCCEEDED if self.succeeded else EXIT_BLOCKED

    def to_json(self) -> str:
        doc = {"topology": self.topology, "summary": self.summary(),
               "rows": [{**{k: getattr(r, k) for k in Row.__slots__}, "agree": r.agree}
                        for r in self.rows],
               "notes": list(self.notes)}
        return json.dumps(doc, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Matrix:
        doc: dict[str, Any] = json.loads(text)
        rows = tuple(Row(**{k: r[k] for k in Row.__slots__}) for r in doc["rows"])
        return cls(str(doc["topology"]), rows, tuple(doc.get("notes", ())))


def _word(through: bool) -> str:
    return "gets through" if through else "blocked"


def markdown(matrix: Matrix) -> str:
    lines = [f"# Attack matrix: {matrix.topology}", "", f"**{matrix.summary()}**", "",
             "| attack | target | expected (rules) | deciding rule | observed (packets) | |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in matrix.rows:
        where = f" (`{r.path}`)" if r.path else ""
        mark = "agree" if r.agree else "**DISAGREE**"
        if r.sent is False:
            mark = "**never sent**"
        lines.append(f"| {r.title} ({r.proto} {r.port}) | {r.target} | {_word(r.expected)} | "
                     f"{r.rule}{where} | {_word(r.observed)}: {r.evidence} | {mark} |")
    lines += [""] + [f"- {n}" for n in matrix.notes]
    return "\n".join(lines).rstrip() + "\n"


def text(matrix: Matrix) -> str:
    """The terminal's view: one line per row, disagreements marked."""
    out = []
    for r in matrix.rows:
        flag = "" if r.agree else "   <-- DISAGREE: rules say " + _word(r.expected)
        if r.sent is False:
            flag = "   <-- NEVER SENT (no packet at the internet gateway)"
        out.append(f"{'SUCCEEDED' if r.observed else 'blocked  '}  {r.attack:<20} "
                   f"{r.target:<34} {r.rule}{flag}")
    return "\n".join([*out, matrix.summary()]) + "\n"


def junit(matrix: Matrix) -> str:
    """One test case per row: a failure when the attack got through or the two disagree."""
    suite = ElementTree.Element("testsuite", name=f"cclab attack {matrix.topology}",
                                tests=str(len(matrix.rows)),
                                failures=str(sum(1 for r in matrix.rows
                                                 if r.observed or not r.agree)))
    for r in matrix.rows:
        case = ElementTree.SubElement(suite, "testcase", classname=f"attack.{r.attack}",
                                      name=r.target)
        if r.observed or not r.agree:
            message = "attack succeeded" if r.observed else "blocked, but the rules say it " \
                                                            "gets through"
            failure = ElementTree.SubElement(case, "failure", message=message)
            failure.text = f"expected {_word(r.expected)} by {r.rule} {r.path}\n{r.evidence}"
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
