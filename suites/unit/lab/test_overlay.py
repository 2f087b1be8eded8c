"""The merge rules of `extends:`: what an overlay adds, merges, replaces, removes and places."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from lab.errors import Issue
from lab.overlay import overlay

pytestmark = pytest.mark.unit

BASE = """
dns: [10.0.2.53]
security_groups:
  sg-a:
    inbound: [{proto: tcp, ports: 22, from: [10.0.0.0/8]}]
    outbound: [{proto: all, to: [0.0.0.0/0]}]
links:
  - name: a
    subnet: 10.0.1.0/24
    endpoints:
      - {node: h, ifname: eth0, address: 10.0.1.10}
      - {node: r, ifname: eth-a, address: 10.0.1.1}
  - name: b
    subnet: 10.0.2.0/24
    endpoints:
      - {node: r, ifname: eth-b, address: 10.0.2.1}
nodes:
  h:
    routes: [{to: default, via: 10.0.1.1}]
  r:
    role: router
    routes:
      - {to: default, via: 10.0.2.53}
      - {to: default, via: 10.0.2.53, from: 10.0.1.0/24}
    services: [{kind: web, port: 80}]
"""


def node(text: str, name: str) -> yaml.Node:
    loader = yaml.SafeLoader(text)
    loader.name = name
    try:
        found: yaml.Node = loader.get_single_node()
        return found
    finally:
        loader.dispose()


def lay(*texts: str) -> tuple[Any, list[Issue]]:
    """The data of `texts` laid one over the other, and the problems."""
    issues: list[Issue] = []
    root = None
    for n, text in enumerate(texts):
        root = overlay(root, node(text, f"f{n}.yaml"), issues)
    assert root is not None
    if issues:
        return None, issues
    return yaml.constructor.SafeConstructor().construct_document(root), issues


def merged(*texts: str) -> Any:
    data, issues = lay(*texts)
    assert issues == []
    return data


def problems(*texts: str) -> list[tuple[str, int | None, str, str]]:
    _, issues = lay(*texts)
    return [(i.file, i.line, i.path, i.message) for i in issues]


def test_a_document_over_nothing_is_itself() -> None:
    assert merged(BASE) == yaml.safe_load(BASE)


def test_mappings_merge_key_by_key_and_new_keys_come_last() -> None:
    data = merged(BASE, "nodes: {r: {sysctls: {a: 1}}, n: {role: server}}")
    assert data["nodes"]["r"]["role"] == "router"
    assert data["nodes"]["r"]["sysctls"] == {"a": 1}
    assert list(data["nodes"]) == ["h", "r", "n"]


def test_scalars_and_plain_lists_are_replaced() -> None:
    data = merged(BASE, "dns: [10.0.1.10]\nsecurity_groups: {sg-a: {inbound: []}}")
    assert data["dns"] == ["10.0.1.10"]
    assert data["security_groups"]["sg-a"] == {"inbound": [],
                                               "outbound": [{"proto": "all",
                                                             "to": ["0.0.0.0/0"]}]}


def test_links_merge_by_name_and_endpoints_by_node_and_ifname() -> None:
    data = merged(BASE, """
links:
  - name: b
    endpoints:
      - {node: r, ifname: eth-b, public: 203.0.113.1}
      - {node: d, ifname: eth0, address: 10.0.2.53}
  - name: c
    subnet: 10.0.3.0/24
    endpoints: []
""")
    assert [link["name"] for link in data["links"]] == ["a", "b", "c"]
    assert data["links"][1]["subnet"] == "10.0.2.0/24"
    assert data["links"][1]["endpoints"] == [
        {"node": "r", "ifname": "eth-b", "address": "10.0.2.1", "public": "203.0.113.1"},
        {"node": "d", "ifname": "eth0", "address": "10.0.2.53"}]


def test_routes_merge_by_destination_and_source() -> None:
    data = merged(BASE, """
nodes:
  r:
    routes:
      - {to: default, via: 10.0.1.10, from: 10.0.1.0/24}
      - {to: 10.9.0.0/16, via: 10.0.1.10}
""")
    assert data["nodes"]["r"]["routes"] == [
        {"to": "default", "via": "10.0.2.53"},
        {"to": "default", "via": "10.0.1.10", "from": "10.0.1.0/24"},
        {"to": "10.9.0.0/16", "via": "10.0.1.10"}]


def test_services_merge_by_kind() -> None:
    data = merged(BASE, "nodes: {r: {services: [{kind: web, port: 8080}, {kind: ntp}]}}")
    assert data["nodes"]["r"]["services"] == [{"kind": "web", "port": 8080}, {"kind": "ntp"}]


def test_remove_takes_a_key_or_a_named_item_away() -> None:
    data = merged(BASE, """
security_groups: !remove
links:
  - !remove {name: a}
nodes:
  h: !remove
  r:
    role: !remove
    routes:
      - !remove {to: default, from: 10.0.1.0/24}
""")
    assert "security_groups" not in data
    assert [link["name"] for link in data["links"]] == ["b"]
    assert list(data["nodes"]) == ["r"]
    assert "role" not in data["nodes"]["r"]
    assert data["nodes"]["r"]["routes"] == [{"to": "default", "via": "10.0.2.53"}]


def test_replace_takes_a_mapping_or_list_as_written() -> None:
    data = merged(BASE, """
nodes:
  r: !replace {role: server}
links: !replace
  - {name: z, subnet: 10.0.9.0/24, endpoints: []}
""")
    assert data["nodes"]["r"] == {"role": "server"}
    assert [link["name"] for link in data["links"]] == ["z"]


def test_after_and_before_place_a_node_or_link_and_are_dropped() -> None:
    data = merged(BASE, """
links:
  - {name: c, before: a, subnet: 10.0.3.0/24, endpoints: []}
  - {name: a, after: b}
nodes:
  n: {after: h, role: server}
""")
    assert [link["name"] for link in data["links"]] == ["c", "b", "a"]
    assert "after" not in data["links"][2]
    assert "before" not in data["links"][0]
    assert list(data["nodes"]) == ["h", "n", "r"]
    assert data["nodes"]["n"] == {"role": "server"}


def test_each_overlay_goes_over_what_the_ones_before_built() -> None:
    data = merged(BASE, "nodes: {n: {role: server}}", "nodes: {n: {routes: []}, h: !remove }")
    assert data["nodes"]["n"] == {"role": "server", "routes": []}
    assert list(data["nodes"]) == ["r", "n"]


def test_the_base_is_left_as_it_was() -> None:
    base = node(BASE, "base.yaml")
    issues: list[Issue] = []
    overlay(base, node("nodes: {h: !remove , r: {role: host}}", "top.yaml"), issues)
    again = overlay(None, base, issues)
    assert issues == []
    assert yaml.constructor.SafeConstructor().construct_document(again) == yaml.safe_load(BASE)


def test_removing_what_is_not_there_names_the_overlay_line_and_a_near_name() -> None:
    top = """\
links:
  - !remove {name: bb}
nodes:
  rr: !remove
  r:
    routes:
      - !remove {to: default, from: 10.0.7.0/24}
"""
    assert problems(BASE, top) == [
        ("f1.yaml", 2, "links[0]", "no link 'bb' to remove"),
        ("f1.yaml", 4, "nodes.rr", "no node 'rr' to remove"),
        ("f1.yaml", 7, "nodes.r.routes[0]",
         "no route {to: default, from: 10.0.7.0/24} to remove"),
    ]
    _, issues = lay(BASE, top)
    assert issues[0].hint == "did you mean 'b'?"


@pytest.mark.parametrize(("top", "message"), [
    ("nodes: {h: !remove {role: host}}", "!remove takes no value"),
    ("links: [!remove {name: a, subnet: 10.0.1.0/24}]", "!remove of a link names it only"),
    ("dns: !replace 10.0.1.10", "!replace is for a mapping or a list"),
    ("nodes: {n: !replace {role: host}}", "no node here to replace"),
    ("dns: [!remove 10.0.2.53]", "!remove has nothing to act on here"),
    ("nodes: {h: !frobnicate {}}", "unknown tag '!frobnicate'"),
    ("nodes: {n: {after: x}}", "no node 'x' to put 'n' after"),
    ("nodes: {n: {after: h, before: r}}", "give one name in after: or before:, not both"),
], ids=["remove-with-value", "remove-item-with-fields", "replace-scalar", "replace-nothing",
        "remove-in-plain-list", "unknown-tag", "after-unknown", "after-and-before"])
def test_bad_composition_syntax_is_reported(top: str, message: str) -> None:
    found = problems(BASE, top)
    assert [m for *_, m in found] == [message]
    assert found[0][:2] == ("f1.yaml", 1)


def test_markers_in_a_document_over_nothing_are_reported() -> None:
    assert [m for *_, m in problems("nodes: {h: !remove }")] == ["no node 'h' to remove"]
