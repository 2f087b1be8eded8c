"""The two ends of loading a YAML input file: parse it into a mapping, place each problem."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import yaml

from yamlissues.compose import SAFE_LOADER
from yamlissues.issue import Issue
from yamlissues.lines import line_table, nearest_line

NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE


def read_mapping(text: str, issues: list[Issue], *, what: str, keys: Sequence[str]) -> Any:
    """`text` parsed by `yaml.safe_load`'s rules at libyaml's speed; a syntax error or a
    non-mapping joins `issues`.

    `what` names the document in the message ("a topology"); `keys` are the
    top-level keys the hint suggests. Returns what was parsed, None on a syntax error.
    """
    try:
        if NON_PRINTABLE.search(text):  # PyYAML refuses these, libyaml lets them through
            raise yaml.YAMLError("non-printable character")
        data = yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError:
        try:  # PyYAML's own parser decides, and names what it found where libyaml says less
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            issues.append(Issue("", "(yaml)", f"not valid YAML: {getattr(exc, 'problem', exc)}",
                                "check indentation and quoting near this line",
                                mark.line + 1 if mark else None))
            return None
    if not isinstance(data, dict):
        issues.append(Issue("", "(root)", f"{what} must be a mapping",
                            f"start with keys such as {', '.join(keys)}"))
    return data


def located(issues: Iterable[Issue], text: str, file: str) -> list[Issue]:
    """Each issue with `file` and its line in `text` (a line it has is kept), by line."""
    issues = list(issues)
    # a syntax error comes with its line: parsing again only to fail again would cost
    # PyYAML's pure-Python parser twice (half of a config fuzz run's time)
    lines = line_table(text) if any(i.line is None for i in issues) else {}
    placed = [Issue(file, i.path, i.message, i.hint, i.line or nearest_line(lines, i.path))
              for i in issues]
    return sorted(placed, key=lambda i: (i.line or 0, i.path))
