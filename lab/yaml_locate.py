"""Paths inside a YAML document (`nodes.cc1.routes[0]`) and the nodes they lead to."""

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


def join_path(head: str, parts: list[str | int]) -> str:
    """`join_path('a.b', [2, 'c'])` -> 'a.b[2].c'; the inverse of `split_path`."""
    path = head
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def node_at(root: yaml.Node | None, path: str) -> tuple[yaml.Node | None, list[str | int]]:
    """The deepest node on `path`, and the parts of the path below it that do not exist."""
    parts = split_path(path)
    node = root
    for n, part in enumerate(parts):
        child = _child(node, part) if node is not None else None
        if child is None:
            return node, parts[n:]
        node = child
    return node, []


def key_at(root: yaml.Node | None, path: str) -> yaml.Node | None:
    """The key node of `path` when it ends in a mapping key that exists: a problem with a
    key is placed on the key's own line, even when its value starts on the next one."""
    parts = split_path(path)
    if not parts or not isinstance(parts[-1], str):
        return None
    parent, below = node_at(root, join_path("", parts[:-1]))
    if below or not isinstance(parent, yaml.MappingNode):
        return None
    return next((k for k, _ in parent.value if k.value == parts[-1]), None)


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
