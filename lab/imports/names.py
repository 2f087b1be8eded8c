"""Names an export gives, made into names a topology accepts (lower-case, digits, '-')."""

from __future__ import annotations

import re

_BAD = re.compile(r"[^a-z0-9-]+")


def lab_name(text: str, fallback: str, taken: set[str] | None = None, *, limit: int = 31) -> str:
    """`Cloud Connector MGMT (1a)` -> `cloud-connector-mgmt-1a`; unique among `taken`."""
    name = _BAD.sub("-", text.lower()).strip("-")
    name = re.sub("-{2,}", "-", name)
    if not name or not name[0].isalpha():
        name = _BAD.sub("-", fallback.lower()).strip("-") or "x"
        if not name[0].isalpha():
            name = "x-" + name
    name = name[:limit].rstrip("-")
    taken = taken if taken is not None else set()
    unique, n = name, 2
    while unique in taken:
        suffix = f"-{n}"
        unique = name[:limit - len(suffix)].rstrip("-") + suffix
        n += 1
    taken.add(unique)
    return unique
