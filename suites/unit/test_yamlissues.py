"""yamlissues: where a problem's path is in a YAML file, for the lab and the connector alike.

The lab's topology loader and the connector's config loader once had a locator
each, and they disagreed: the lab's put a key whose value starts on the next
line on that next line, split keys that contain dots, and put a missing
top-level key on the document's first line. These pin the one behaviour both
now share.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lab.errors import TopologyError
from lab.schema import parse_topology
from suites.unit.connector.fuzzing import inputs
from yamlissues import Issue, line_table, located, nearest_line, read_mapping
from yamlissues.compose import compose_node

pytestmark = pytest.mark.unit

DOC = """\
# a comment
nodes:
  r1:
    role: router
    sysctls:
      net.ipv4.conf.all.rp_filter: 0
      net.ipv4.ip_forward: 1
    bogus:
      a: 1
links:
  - name: a
    endpoints:
      - {node: r1, ifname: eth0}
"""

CASES = [
    ("nodes", 2),                                  # a key, its value on the next line
    ("nodes.r1", 3),
    ("nodes.r1.bogus", 8),                         # the key, not its value's first line
    ("nodes.r1.sysctls.net.ipv4.ip_forward", 7),   # a key with dots, found whole
    ("nodes.r1.role.extra", 4),                    # absent: its nearest parent
    ("nodes.r2.role", 2),                          # absent node: `nodes:`
    ("links[0]", 11),                              # a list item: its first line
    ("links[0].endpoints[0].node", 13),
    ("links[0].endpoints[0].address", 13),         # missing field of a flow mapping
    ("name", None),                                # a missing top-level key: the file's
    ("(yaml)", None),
]


@pytest.mark.parametrize(("path", "line"), CASES, ids=[c[0] for c in CASES])
def test_a_path_is_placed_on_its_own_line_or_its_nearest_parents(path: str,
                                                                 line: int | None) -> None:
    assert nearest_line(line_table(DOC), path) == line


@pytest.mark.parametrize("text", ["", "a: [\n"], ids=["empty", "not-yaml"])
def test_a_document_without_nodes_has_no_lines(text: str) -> None:
    assert line_table(text) == {}


def test_located_keeps_a_known_line_fills_the_file_and_sorts_by_line() -> None:
    issues = [Issue("", "links[0]", "late"), Issue("", "(yaml)", "syntax", line=9),
              Issue("", "nodes.r1.bogus", "early")]
    placed = located(issues, DOC, "t.yaml")
    assert [(i.file, i.path, i.line) for i in placed] == [
        ("t.yaml", "nodes.r1.bogus", 8), ("t.yaml", "(yaml)", 9), ("t.yaml", "links[0]", 11)]


@pytest.mark.parametrize(("text", "path"), [("a: [\n", "(yaml)"), ("- a\n", "(root)")],
                         ids=["syntax", "not-a-mapping"])
def test_read_mapping_turns_bad_documents_into_one_issue(text: str, path: str) -> None:
    issues: list[Issue] = []
    read_mapping(text, issues, what="a thing", keys=("a", "b"))
    assert [i.path for i in issues] == [path]


def test_the_lab_puts_an_unknown_block_key_on_its_own_line() -> None:
    """The lab's old locator said line 7 here (the value's first line)."""
    text = "name: t\nlinks: []\nnodes:\n  h:\n    role: host\n    bogus:\n      a: 1\n"
    with pytest.raises(TopologyError) as caught:
        parse_topology(text, source=Path("t.yaml"))
    assert [(i.path, i.line) for i in caught.value.issues] == [("nodes.h.bogus", 6)]


def _safe_load_or_error(text: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return "error"


def test_read_mapping_reads_what_yaml_safe_load_reads_on_every_input() -> None:
    """libyaml parses, PyYAML's safe constructor builds: wherever `yaml.safe_load` (the
    oracle) reads an input, the value is the same, for every shipped file and 1,500
    mutations of them; what read_mapping refuses, `yaml.safe_load` refuses too. (libyaml
    reads a few inputs PyYAML's own parser refuses, such as `a?b` inside `[...]`: YAML
    allows it, and the loaders follow libyaml there.)"""
    root = Path(__file__).resolve().parents[2] / "lab" / "topologies"
    seeds = [p.read_bytes() for p in sorted(root.rglob("*.yaml"))]
    refused = read = 0
    for data in [*seeds, *inputs(seeds, 1500)]:
        text = data.decode("utf-8", "replace")
        issues: list[Issue] = []
        got = read_mapping(text, issues, what="a file", keys=["a"])
        expected = _safe_load_or_error(text)
        if [i.path for i in issues] == ["(yaml)"]:
            assert got is None, text
            assert expected == "error", text
            refused += 1
        elif expected != "error":
            assert got == expected, text
            read += 1
    assert refused > 100
    assert read > 100


def _nodes(root: yaml.Node | None) -> list[tuple[object, ...]]:
    """Every node of a tree, depth first: kind, tag, scalar value and both marks."""
    found: list[tuple[object, ...]] = []
    stack = [] if root is None else [root]
    while stack:
        node = stack.pop()
        found.append((type(node).__name__, node.tag,
                      node.value if isinstance(node.value, str) else None,
                      node.start_mark.name, node.start_mark.index, node.start_mark.line,
                      node.start_mark.column, node.end_mark.index))
        if isinstance(node.value, list):
            stack.extend(reversed([part for item in node.value for part in (
                item if isinstance(item, tuple) else (item,))]))
    return found


def _composed_by_pyyaml(text: str, name: str) -> object:
    try:
        loader = yaml.SafeLoader(text)  # its reader refuses a control character at once
    except yaml.YAMLError as exc:
        return ("error", str(exc))
    loader.name = name
    try:
        return _nodes(loader.get_single_node())
    except yaml.YAMLError as exc:
        return ("error", str(exc))
    finally:
        loader.dispose()


def test_compose_node_gives_pyyamls_nodes_and_marks_and_its_errors() -> None:
    """The topology loader's nodes at libyaml's speed: wherever PyYAML's own composer (the
    oracle) reads an input, every node, tag, value and mark (file, offset, line, column)
    is the same, for every shipped topology and connector config and 1,500 mutations of
    them; where both refuse one, compose_node raises PyYAML's error, word for word. (As
    for read_mapping above, libyaml reads a few inputs PyYAML refuses, such as a tab
    inside a plain scalar; the loader follows libyaml there.)"""
    root = Path(__file__).resolve().parents[2]
    seeds = [p.read_bytes() for p in sorted((root / "lab" / "topologies").rglob("*.yaml"))]
    same = refused = libyaml_reads = 0
    for data in [*seeds, *inputs(seeds, 1500)]:
        text = data.decode("utf-8", "replace")
        expected = _composed_by_pyyaml(text, "t.yaml")
        try:
            got: object = _nodes(compose_node(text, "t.yaml"))
        except yaml.YAMLError as exc:
            got = ("error", str(exc))
        if not isinstance(expected, tuple):
            assert got == expected, text
            same += 1
        elif isinstance(got, tuple):
            assert got == expected, text
            refused += 1
        else:
            libyaml_reads += 1
    assert same > 100
    assert refused > 100
    assert libyaml_reads < refused / 10


def test_compose_node_refuses_a_control_character_with_pyyamls_message() -> None:
    with pytest.raises(yaml.YAMLError, match="special characters are not allowed"):
        compose_node("a: b\x07c\n", "t.yaml")
