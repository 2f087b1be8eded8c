"""Map a path inside a YAML document (`nodes.cc1.interfaces[0]`) to its line number."""

from __future__ import annotations

import re

import yaml

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def split_path(path: str) -> list[str | int]:
    """`a.b[2].c` -> ['a', 'b', 2, 'c']."""
    parts: list[str | int] = []
    for key, index in _PART.findall(path):
        parts.append(int(index) if index else key)
    return parts


def line_of(text: str, path: str) -> int | None:
    """The 1-based line where `path` is found in `text`, or of its deepest existing parent."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in split_path(path):
        if node is None:
            break
        line = node.start_mark.line + 1
        node = _child(node, part)
    if node is not None:
        line = node.start_mark.line + 1
    return line


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if key.value == part:
                found: yaml.Node = value
                return found
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        child: yaml.Node = node.value[part]
        return child
    return None
