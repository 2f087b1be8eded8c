"""Line numbers of every path in a YAML document, from one walk of its node tree.

Paths are written as the loaders' problems name them: `forwarding_rules[3].src_ips[0]`,
`nodes.cc1.sysctls.net.ipv4.ip_forward`. A key's path is placed on the key's own
line (where `bogus:` is written, even when its value starts on the next line),
a list item's on its first line. A path that is absent (a missing key) is placed
on the line of its nearest existing parent; a missing top-level key has no line,
because the document as a whole is what lacks it. Keys that contain dots are
found whole: the table is keyed by the full path, never split on dots.
"""

from __future__ import annotations

import yaml

from yamlissues.compose import compose_node


def line_table(text: str) -> dict[str, int]:
    """Map each path in `text` to its 1-based line; empty if `text` is not YAML."""
    try:
        root = compose_node(text, "")
    except yaml.YAMLError:
        return {}
    table: dict[str, int] = {}
    if root is not None:
        _walk(root, "", table)
    return table


def nearest_line(table: dict[str, int], path: str) -> int | None:
    """The line of `path`, or of the longest prefix of it that exists."""
    while path:
        if path in table:
            return table[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return None


def _walk(node: yaml.Node, path: str, table: dict[str, int]) -> None:
    if path:
        table.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = f"{path}.{key.value}" if path else str(key.value)
            table.setdefault(child, key.start_mark.line + 1)
            _walk(value, child, table)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, f"{path}[{index}]", table)
