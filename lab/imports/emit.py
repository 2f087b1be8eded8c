"""A topology document written as YAML a person can read: block mappings, one flow-style
line per rule, endpoint and route, and a comment where each part came from. Pure."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

_PLAIN = re.compile(r"^[A-Za-z0-9_./@+-][A-Za-z0-9_./:@+-]*$")
_SPECIAL = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}
WIDTH = 100


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _SPECIAL and not _number_like(text):
        return text
    return json.dumps(text)


def _number_like(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def _flat(value: Any) -> bool:
    """A mapping of scalars and lists of scalars: one line in flow style."""
    return isinstance(value, dict) and all(
        not isinstance(v, dict) and not (isinstance(v, list | tuple)
                                         and any(isinstance(x, dict | list) for x in v))
        for v in value.values())


def emit(doc: dict[str, Any], comments: dict[str, str] | None = None) -> str:
    """`doc` as YAML; `comments` maps a path (`security_groups.cc-mgmt`, `links[2]`) to a
    comment put at the end of that key's or item's line."""
    return "\n".join(_mapping(doc, "", 0, comments or {})) + "\n"


def _mapping(doc: dict[str, Any], path: str, indent: int,
             comments: dict[str, str]) -> Iterator[str]:
    pad = " " * indent
    for key, value in doc.items():
        here = f"{path}.{key}" if path else str(key)
        note = _note(comments.get(here))
        commented = any(c.startswith(here + ".") for c in comments)
        if isinstance(value, dict) and value and (commented or not (
                _flat(value) and _fits(pad, key, value))):
            yield f"{pad}{scalar(key)}:{note}"
            yield from _mapping(value, here, indent + 2, comments)
        elif isinstance(value, list | tuple) and any(isinstance(v, dict | list) for v in value):
            yield f"{pad}{scalar(key)}:{note}"
            yield from _sequence(list(value), here, indent + 2, comments)
        else:
            yield f"{pad}{scalar(key)}: {flow(value)}{note}"


def _sequence(items: list[Any], path: str, indent: int,
              comments: dict[str, str]) -> Iterator[str]:
    pad = " " * indent
    for i, item in enumerate(items):
        here = f"{path}[{i}]"
        note = _note(comments.get(here))
        if isinstance(item, dict) and not _flat(item):
            first, *rest = list(_mapping(item, here, indent + 2, comments))
            yield f"{pad}- {first.lstrip()}{note}"
            yield from rest
        else:
            yield from _wrapped(f"{pad}- ", flow(item), note, indent + 2)


def _wrapped(head: str, text: str, note: str, indent: int) -> Iterator[str]:
    """A long flow line broken after commas (YAML allows it inside {...})."""
    line = head + text
    if len(line) + len(note) <= WIDTH or not text.startswith("{"):
        yield line + note
        return
    parts = text.split(", ")
    current = head + parts[0]
    for part in parts[1:]:
        if len(current) + len(part) + 2 > WIDTH:
            yield current + ","
            current = " " * (indent + 1) + part
        else:
            current += ", " + part
    yield current + note


def _fits(pad: str, key: str, value: dict[str, Any]) -> bool:
    return len(f"{pad}{key}: {flow(value)}") <= WIDTH


def _note(comment: str | None) -> str:
    return f"  # {comment}" if comment else ""


def header(lines: list[str]) -> str:
    return "".join(f"# {line}".rstrip() + "\n" for line in lines)
