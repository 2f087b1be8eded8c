"""A topology file with the files it `extends:`, read and laid into one YAML tree.

`extends:` names one file or a list of them, each relative to the file that
names it. The chain is read depth first, bases before the files that extend
them, each file once (a base two overlays share is laid once), and every file
is laid over what the files before it built, by the rules of `lab.overlay`.

A relative path in a service option that names a file (a connector's `config:`,
the ZPA cloud's `policy:`) is relative to the file it is written in. It is
rewritten here relative to the folder of the topology being loaded, the folder
the plan calls `{topodir}`: a base in `cloud/` says `../connectors/x.yaml`.

Every node keeps its file and line (its YAML mark); `Document.locate` turns a
problem's path in the composed tree into the file, line and path where the
value was written.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from yaml import MappingNode, Node, ScalarNode, SequenceNode

from lab.overlay import overlay
from lab.services import KINDS
from lab.yaml_locate import join_path, key_at, node_at
from yamlissues import Issue
from yamlissues.compose import compose_node


@dataclass
class Document:
    """The composed tree, the files it came from (bases first), and its problems so far."""

    root: Node | None
    files: list[str]
    issues: list[Issue]
    paths: dict[tuple[str, int], str] = field(default_factory=dict)  # (file, offset) -> path

    def data(self) -> Any:
        if self.root is None:
            return None
        return yaml.constructor.SafeConstructor().construct_document(self.root)

    def locate(self, issue: Issue) -> Issue:
        """A problem of the composed topology, placed where its value was written."""
        if issue.file:
            return issue
        node, below = node_at(self.root, issue.path)
        if node is None:
            return replace(issue, file=self.files[-1])
        mark = node.start_mark
        own = self.paths.get((mark.name, mark.index))
        path = issue.path if own is None else join_path(own, below)
        key = None if below else key_at(self.root, issue.path)
        if key is not None and key.start_mark.name == mark.name:
            mark = key.start_mark  # a key's problem sits on the key's own line
        return Issue(mark.name, path, issue.message, issue.hint, mark.line + 1)

    def order(self, issue: Issue) -> tuple[int, int, str]:
        """Sort key: bases first, then by line."""
        rank = self.files.index(issue.file) if issue.file in self.files else len(self.files)
        return rank, issue.line or 0, issue.path


def read_document(text: str, source: Path) -> Document:
    """`text` (the file `source`) with its `extends:` chain laid in."""
    chain = _Chain(source.parent)
    chain.visit(source, text, ())
    files = [str(path) for path in chain.order]
    if chain.issues:
        return Document(None, files, chain.issues, chain.paths)
    root: Node | None = None
    for _, tree in chain.read:
        root = overlay(root, tree, chain.issues)
    return Document(root, files, chain.issues, chain.paths)


@dataclass
class _Chain:
    topdir: Path
    read: list[tuple[Path, Node]] = field(default_factory=list)
    order: list[Path] = field(default_factory=list)  # every file, bases first
    done: set[Path] = field(default_factory=set)
    issues: list[Issue] = field(default_factory=list)
    paths: dict[tuple[str, int], str] = field(default_factory=dict)

    def visit(self, path: Path, text: str, stack: tuple[Path, ...]) -> None:
        me = path.resolve()
        self.done.add(me)
        tree = self._compose(path, text)
        if tree is None:
            self.order.append(path)
            return
        tree, bases = _split_extends(tree, self.issues)
        for name, node, where in bases:
            self._base(Path(posixpath.normpath(path.parent / name)), node, where, (*stack, me))
        _rebase_files(tree, path.parent, self.topdir)
        self.read.append((path, tree))
        self.order.append(path)

    def _base(self, path: Path, node: Node, where: str, stack: tuple[Path, ...]) -> None:
        if path.resolve() in stack:
            cycle = " -> ".join(p.name for p in (*stack, path.resolve()))
            self.issues.append(_issue(node, where, f"circular extends: {cycle}",
                                      "a topology cannot extend itself, directly or not"))
            return
        if path.resolve() in self.done:
            return
        try:
            text = path.read_text()
        except OSError as exc:
            self.issues.append(_issue(node, where, f"cannot read {path}: {exc.strerror}",
                                      "extends: paths are relative to the file that names them"))
            return
        self.visit(path, text, stack)

    def _compose(self, path: Path, text: str) -> Node | None:
        try:
            tree = compose_node(text, str(path))
        except yaml.YAMLError as exc:
            self.issues.append(Issue(str(path), "(yaml)", f"not valid YAML: {_problem(exc)}",
                                     "check indentation and quoting near this line",
                                     _line_of(exc, text)))
            return None
        for own, node in _walk(tree, "") if tree is not None else ():
            self.paths.setdefault((str(path), node.start_mark.index), own)
        return tree


def _problem(exc: yaml.YAMLError) -> object:
    if isinstance(exc, yaml.reader.ReaderError):  # a character no YAML may hold
        return f"unacceptable character #x{exc.character:04x}: {exc.reason}"
    return getattr(exc, "problem", exc)


def _line_of(exc: yaml.YAMLError, text: str) -> int | None:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    if isinstance(exc, yaml.reader.ReaderError):  # it knows the offset only
        return text.count("\n", 0, exc.position) + 1
    return None


def _split_extends(tree: Node, issues: list[Issue]) -> tuple[Node, list[tuple[str, Node, str]]]:
    """The document without `extends:`, and the names it gives (with node and path)."""
    if not isinstance(tree, MappingNode):
        return tree, []
    rest: list[tuple[Node, Node]] = []
    bases: list[tuple[str, Node, str]] = []
    for key, value in tree.value:
        if key.value != "extends":
            rest.append((key, value))
            continue
        many = isinstance(value, SequenceNode)
        for n, item in enumerate(value.value if many else [value]):
            where = f"extends[{n}]" if many else "extends"
            if isinstance(item, ScalarNode) and item.tag.endswith(":str") and item.value:
                bases.append((str(item.value), item, where))
            else:
                issues.append(_issue(item, where, "must name a topology file",
                                     "write `extends: base.yaml` or a list of such names"))
    return MappingNode(tree.tag, rest, tree.start_mark, tree.end_mark, tree.flow_style), bases


def _rebase_files(tree: Node, folder: Path, topdir: Path) -> None:
    """Make file options written in `folder` relative to `topdir` (this file's own tree)."""
    if folder.resolve() == topdir.resolve():
        return
    for value in _service_files(tree):
        if not Path(value.value).is_absolute():
            value.value = posixpath.relpath(folder / value.value, topdir)


def _service_files(tree: Node) -> Iterator[ScalarNode]:
    for _, node in _entries(_get(tree, "nodes")):
        services = _get(node, "services")
        for service in services.value if isinstance(services, SequenceNode) else []:
            kind = KINDS.get(str(getattr(_get(service, "kind"), "value", "")))
            for key, value in _entries(service):
                if kind and key in kind.files and isinstance(value, ScalarNode):
                    yield value


def _get(node: Node | None, key: str) -> Node | None:
    return next((v for k, v in _entries(node) if k == key), None)


def _entries(node: Node | None) -> list[tuple[str, Node]]:
    return [(str(k.value), v) for k, v in node.value] if isinstance(node, MappingNode) else []


def _walk(node: Node, path: str) -> Iterator[tuple[str, Node]]:
    """Every node of a file's tree with its path in that file, parents first."""
    yield path, node
    if isinstance(node, MappingNode):
        for key, value in node.value:
            yield from _walk(value, join_path(path, [str(key.value)]))
    elif isinstance(node, SequenceNode):
        for n, item in enumerate(node.value):
            yield from _walk(item, join_path(path, [n]))


def _issue(node: Node, path: str, message: str, hint: str) -> Issue:
    return Issue(node.start_mark.name, path, message, hint, node.start_mark.line + 1)
