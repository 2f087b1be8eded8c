"""One topology document laid over another: the merge rules of `extends:`.

- A mapping merges key by key, recursively (nodes, security_groups, tags, a
  node's settings, an endpoint's).
- A list of named items merges item by item, matched by the fields in `KEYED`
  (links by name, endpoints by node and ifname, routes by to and from, services
  by kind). A new item goes at the end.
- Anything else (a scalar, any other list, such as a security group's rules) is
  replaced by the overlay's value.
- `!remove` removes a key (`gwlb: !remove`) or a named item
  (`- !remove {name: natgw}`); `!replace` takes a mapping or list as written
  instead of merging it. Both need something to act on in the base.
- `after: NAME` or `before: NAME` in a node or a link puts it next to another:
  the order of nodes and links is the order of the plan (namespaces, bridges).

Pure: it works on PyYAML's composed nodes, whose marks keep the file and line of
every value, so a problem is reported where it was written. Problems are added
to the caller's list; the result is then not to be used.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from yaml import MappingNode, Node, ScalarNode, SequenceNode

from yamlissues import Issue

REMOVE = "!remove"
REPLACE = "!replace"
PLACE_KEYS = ("after", "before")

# Where a list holds named items ("*": any item or name), and the fields naming one.
KEYED: dict[tuple[str, ...], tuple[str, ...]] = {
    ("links",): ("name",),
    ("links", "*", "endpoints"): ("node", "ifname"),
    ("nodes", "*", "routes"): ("to", "from"),
    ("nodes", "*", "services"): ("kind",),
}
# Mappings whose keys are names of items.
NAMED: dict[tuple[str, ...], str] = {
    ("nodes",): "node", ("security_groups",): "security group", ("tags",): "tag",
    ("network_acls",): "network ACL"}
NOUNS: dict[tuple[str, ...], str] = {
    **NAMED, ("links",): "link", ("links", "*", "endpoints"): "endpoint",
    ("nodes", "*", "routes"): "route", ("nodes", "*", "services"): "service"}
PLACED = (("links",), ("nodes",))


@dataclass(frozen=True, slots=True)
class _At:
    """Where the merge is: the pattern in the topology, and the overlay's path in its file."""

    pattern: tuple[str, ...] = ()
    path: str = ""

    def key(self, name: str) -> _At:
        part = "*" if self.pattern in NAMED else name
        return _At((*self.pattern, part), f"{self.path}.{name}" if self.path else name)

    def item(self, index: int) -> _At:
        return _At((*self.pattern, "*"), f"{self.path}[{index}]")

    @property
    def noun(self) -> str:
        """What the value here is: a node, a link, ... or a key."""
        return NOUNS.get(self.pattern[:-1], "key")


@dataclass(frozen=True, slots=True)
class _Place:
    where: str  # after | before
    anchor: str
    node: Node
    path: str


def overlay(base: Node | None, top: Node, issues: list[Issue]) -> Node:
    """`top` laid over `base` (over nothing if None); its problems go to `issues`."""
    return _merge(base, top, _At(), issues)


def _merge(base: Node | None, top: Node, at: _At, issues: list[Issue]) -> Node:
    if top.tag == REPLACE:
        if base is None:
            issues.append(_issue(top, at.path, f"no {at.noun} here to replace",
                                 "!replace acts on what the base defines; drop it to add"))
        return _plain(top, at, issues)
    if not _local(top.tag) and (base is None or type(base) is type(top)):
        if isinstance(top, MappingNode):
            return _merge_mapping(base.value if base else [], top, at, issues)
        if isinstance(top, SequenceNode) and at.pattern in KEYED:
            return _merge_list(base.value if base else [], top, KEYED[at.pattern], at, issues)
    _check_plain(top, at, issues)
    return top


def _merge_mapping(pairs: list[tuple[Node, Node]], top: MappingNode, at: _At,
                   issues: list[Issue]) -> MappingNode:
    pairs = list(pairs)
    for key, value in top.value:
        name = str(key.value)
        here = at.key(name)
        names = [str(k.value) for k, _ in pairs]
        found = names.index(name) if name in names else None
        if value.tag == REMOVE:
            if not _removable(value, here, (), issues):
                continue
            if found is None:
                issues.append(_missing(name, names, here, value))
            else:
                del pairs[found]
            continue
        value, place = _placement(value, here, issues) if at.pattern in PLACED else (value, None)
        merged = _merge(None if found is None else pairs[found][1], value, here, issues)
        if found is None:
            pairs.append((key, merged))
        else:
            pairs[found] = (pairs[found][0], merged)
        if place:
            _move(pairs, [str(k.value) for k, _ in pairs], name, place, here.noun, issues)
    return MappingNode(top.tag, pairs, top.start_mark, top.end_mark, top.flow_style)


def _merge_list(items: list[Node], top: SequenceNode, keys: tuple[str, ...], at: _At,
                issues: list[Issue]) -> SequenceNode:
    items = list(items)
    for j, item in enumerate(top.value):
        here = at.item(j)
        key = _key(item, keys)
        names = [_key(old, keys) for old in items]
        found = names.index(key) if key is not None and key in names else None
        if item.tag == REMOVE:
            if not _removable(item, here, keys, issues):
                continue
            if found is None:
                issues.append(_missing(_show(keys, key), [_show(keys, n) for n in names], here,
                                       item))
            else:
                del items[found]
            continue
        item, place = _placement(item, here, issues) if at.pattern in PLACED else (item, None)
        merged = _merge(None if found is None else items[found], item, here, issues)
        if found is None:
            items.append(merged)
        else:
            items[found] = merged
        if place and key is not None:
            _move(items, [_show(keys, _key(i, keys)) for i in items], _show(keys, key), place,
                  here.noun, issues)
    return SequenceNode(top.tag, items, top.start_mark, top.end_mark, top.flow_style)


def _key(item: Node, keys: tuple[str, ...]) -> tuple[str | None, ...] | None:
    """The item's key fields as written (None: the item has no name to be matched by)."""
    if not isinstance(item, MappingNode):
        return None
    given = {str(k.value): v.value for k, v in item.value if isinstance(v, ScalarNode)}
    if keys[0] not in given:
        return None
    return tuple(given.get(k) for k in keys)


def _show(keys: tuple[str, ...], key: tuple[str | None, ...] | None) -> str:
    """A name as messages give it: `natgw`, or `{node: cc1, ifname: eth-svc}`."""
    if key is None or len(keys) == 1:
        return str(key[0]) if key else ""
    return "{" + ", ".join(f"{k}: {v}" for k, v in zip(keys, key, strict=True) if v) + "}"


def _removable(node: Node, at: _At, keys: tuple[str, ...], issues: list[Issue]) -> bool:
    """`!remove` names a key with no value, or an item by its key fields only."""
    if not keys and isinstance(node, ScalarNode) and node.value == "":
        return True
    if keys and isinstance(node, MappingNode) and _key(node, keys) is not None and \
            all(str(k.value) in keys for k, _ in node.value):
        return True
    if keys:
        fields = ", ".join(f"{k}: ..." for k in keys)
        issues.append(_issue(node, at.path, f"!remove of a {at.noun} names it only",
                             f"write `- !remove {{{fields}}}`"))
    else:
        name = at.path.rpartition(".")[2]
        issues.append(_issue(node, at.path, "!remove takes no value",
                             f"write `{name}: !remove`"))
    return False


def _missing(name: str, names: list[str], at: _At, node: Node) -> Issue:
    shown = name if name.startswith("{") else f"'{name}'"
    return _issue(node, at.path, f"no {at.noun} {shown} to remove", _near(name, names))


def _placement(node: Node, at: _At, issues: list[Issue]) -> tuple[Node, _Place | None]:
    """The item without its `after:`/`before:`, and where it asks to go."""
    if not isinstance(node, MappingNode):
        return node, None
    asks = [(k, v) for k, v in node.value if k.value in PLACE_KEYS]
    if not asks:
        return node, None
    rest = [(k, v) for k, v in node.value if k.value not in PLACE_KEYS]
    bare = MappingNode(node.tag, rest, node.start_mark, node.end_mark, node.flow_style)
    key, value = asks[0]
    path = f"{at.path}.{key.value}"
    if len(asks) > 1 or not isinstance(value, ScalarNode):
        issues.append(_issue(value, path, "give one name in after: or before:, not both",
                             "after: NAME puts it right after NAME; before: NAME right before"))
        return bare, None
    return bare, _Place(str(key.value), str(value.value), value, path)


def _move(entries: list[Any], names: list[str], name: str, place: _Place, noun: str,
          issues: list[Issue]) -> None:
    if place.anchor not in names or place.anchor == name:
        issues.append(_issue(place.node, place.path,
                             f"no {noun} '{place.anchor}' to put '{name}' {place.where}",
                             _near(place.anchor, [n for n in names if n != name],
                                   f"name a {noun} the topology has by then")))
        return
    entry = entries.pop(names.index(name))
    names.remove(name)
    entries.insert(names.index(place.anchor) + (place.where == "after"), entry)


def _plain(node: Node, at: _At, issues: list[Issue]) -> Node:
    """A `!replace`d value as written, without the tag."""
    if isinstance(node, MappingNode):
        bare: Node = MappingNode("tag:yaml.org,2002:map", node.value, node.start_mark,
                                 node.end_mark, node.flow_style)
    elif isinstance(node, SequenceNode):
        bare = SequenceNode("tag:yaml.org,2002:seq", node.value, node.start_mark,
                            node.end_mark, node.flow_style)
    else:
        issues.append(_issue(node, at.path, "!replace is for a mapping or a list",
                             "a plain value always replaces the base's; drop !replace"))
        return ScalarNode("tag:yaml.org,2002:str", node.value, node.start_mark, node.end_mark)
    _check_plain(bare, at, issues)
    return bare


def _check_plain(node: Node, at: _At, issues: list[Issue]) -> None:
    """A value taken as written must hold no composition tag (nothing to act on there)."""
    if node.tag in (REMOVE, REPLACE):
        issues.append(_issue(node, at.path, f"{node.tag} has nothing to act on here",
                             "!remove and !replace act on a key of a mapping, or on a named "
                             "item (link, endpoint, route, service), that a base defines"))
    elif _local(node.tag):
        issues.append(_issue(node, at.path, f"unknown tag '{node.tag}'",
                             "the tags of composition are !remove and !replace"))
    if isinstance(node, MappingNode):
        for key, value in node.value:
            _check_plain(value, at.key(str(key.value)), issues)
    elif isinstance(node, SequenceNode):
        for j, item in enumerate(node.value):
            _check_plain(item, at.item(j), issues)


def _local(tag: str) -> bool:
    return tag.startswith("!")


def _near(name: str, names: list[str],
          otherwise: str = "the files this one extends have none of that name") -> str:
    close = difflib.get_close_matches(name, names, n=1)
    return f"did you mean '{close[0]}'?" if close else otherwise


def _issue(node: Node, path: str, message: str, hint: str) -> Issue:
    mark = node.start_mark
    return Issue(mark.name, path or "(root)", message, hint, mark.line + 1)
