"""Domain names as the policy compares them: normalised, exact or `*.` wildcard.

Normal form: lower case, no trailing dot. A wildcard `*.example.com` matches any
name strictly below `example.com` (`a.example.com`, `a.b.example.com`) and never
the apex `example.com` itself (docs/decisions.md, "Wildcard apex").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
MAX_NAME_LENGTH = 253


def normalise_name(name: str) -> str:
    """`App-A.Corp.Example.` -> `app-a.corp.example`."""
    return name.strip().lower().rstrip(".")


@dataclass(frozen=True, slots=True)
class NamePattern:
    """An FQDN (`wildcard=False`) or a wildcard whose `name` is the part after `*.`."""

    name: str
    wildcard: bool = False

    def matches(self, qname: str) -> bool:
        """Reference semantics; the indexes in criteria.py must agree with this."""
        if self.wildcard:
            return qname.endswith("." + self.name)
        return qname == self.name

    def __str__(self) -> str:
        return f"*.{self.name}" if self.wildcard else self.name


def name_problem(text: str) -> str | None:
    """Why `text` is not a valid FQDN or `*.` wildcard, or None if it is."""
    name = normalise_name(text)
    if "*" in name:
        if not name.startswith("*.") or "*" in name[2:]:
            return "a wildcard must be `*.` followed by a domain; `*abc.x` and `a.*.x` are invalid"
        name = name[2:]
    if not name or len(name) > MAX_NAME_LENGTH:
        return f"a domain name has 1 to {MAX_NAME_LENGTH} characters"
    bad = [label for label in name.split(".") if not _LABEL.match(label)]
    if bad:
        return f"invalid label '{bad[0]}' (letters, digits, '-', '_'; 1-63 characters)"
    return None


def parse_pattern(text: str) -> NamePattern:
    """A valid name (see `name_problem`) -> its pattern."""
    name = normalise_name(text)
    if name.startswith("*."):
        return NamePattern(name[2:], wildcard=True)
    return NamePattern(name)


def parent_domains(qname: str) -> Iterator[str]:
    """The proper parents of a name, nearest first: `a.b.c` -> `b.c`, `c`."""
    rest = qname
    while "." in rest:
        rest = rest.split(".", 1)[1]
        yield rest
