"""Topology validation: each kind of mistake is found, named by path, with a hint."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

import pytest

from lab.errors import TopologyError
from lab.schema import parse_topology

pytestmark = pytest.mark.unit

GOOD = """
name: t
dns: [10.0.2.53]
links:
  - name: a
    subnet: 10.0.1.0/24
    endpoints:
      - {node: h, ifname: eth0, address: 10.0.1.10}
      - {node: r, ifname: eth-a, address: 10.0.1.1/24}
  - name: b
    subnet: 10.0.2.0/24
    endpoints:
      - {node: r, ifname: eth-b, address: 10.0.2.1, public: 203.0.113.9}
      - {node: d, ifname: eth0, address: 10.0.2.53}
nodes:
  h:
    routes: [{to: default, via: 10.0.1.1}]
  r:
    role: router
    routes: [{to: default, via: 10.0.2.53, from: 10.0.1.0/24}]
    sysctls: {net.ipv4.conf.all.rp_filter: 0}
  d:
    role: server
    services: [{kind: web, port: 8080}]
"""


def parse(text: str):
    return parse_topology(text, source=Path("t.yaml"))


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(TopologyError) as caught:
        parse(text)
    return [(i.path, i.message) for i in caught.value.issues]


def test_good_topology_builds_typed_model() -> None:
    topo = parse(GOOD)
    r = topo.node("r")
    assert [i.name for i in r.interfaces] == ["eth-a", "eth-b"]
    assert r.interface("eth-b").address == IPv4Interface("10.0.2.1/24")
    assert r.interface("eth-b").public == IPv4Address("203.0.113.9")
    assert r.routes[0].source == IPv4Network("10.0.1.0/24")
    assert r.sysctls == (("net.ipv4.conf.all.rp_filter", "0"),)
    assert topo.node("d").services[0].option("port") == "8080"
    assert topo.owner_of(IPv4Address("10.0.2.53"))[0].name == "d"


CASES = {
    "unknown-node": (GOOD.replace("{node: h,", "{node: hh,"),
                     "links[0].endpoints[0].node", "unknown node 'hh'"),
    "overlap": (GOOD.replace("subnet: 10.0.2.0/24", "subnet: 10.0.0.0/16")
                .replace("10.0.2.", "10.0.3."),
                "links[1].subnet", "overlaps"),
    "ifname-16": (GOOD.replace("ifname: eth-b", "ifname: eth-b-0123456789"),
                  "links[1].endpoints[0].ifname", "the kernel allows 15"),
    "dup-address": (GOOD.replace("address: 10.0.1.10", "address: 10.0.1.1"),
                    "links[0].endpoints[1].address", "duplicate address 10.0.1.1"),
    "via-nobody": (GOOD.replace("via: 10.0.1.1}", "via: 10.0.1.99}"),
                   "nodes.h.routes[0].via", "no node owns 10.0.1.99"),
    "via-off-link": (GOOD.replace("via: 10.0.1.1}", "via: 10.0.2.53}"),
                     "nodes.h.routes[0].via", "not on any link of 'h'"),
    "outside-subnet": (GOOD.replace("address: 10.0.1.10", "address: 10.0.9.10"),
                       "links[0].endpoints[0].address", "is not in subnet"),
    "network-address": (GOOD.replace("address: 10.0.1.10", "address: 10.0.1.0"),
                        "links[0].endpoints[0].address", "network or broadcast"),
    "prefix-mismatch": (GOOD.replace("10.0.1.1/24", "10.0.1.1/16"),
                        "links[0].endpoints[1].address", "is not in subnet"),
    "unknown-service": (GOOD.replace("kind: web", "kind: gopher"),
                        "nodes.d.services[0].kind", "unknown service kind"),
    "dns-not-lab": (GOOD.replace("dns: [10.0.2.53]", "dns: [9.9.9.9]"),
                    "dns[0]", "not a lab address"),
    "bad-role": (GOOD.replace("role: router", "role: switch"), "nodes.r.role", "input should"),
    "unknown-key": (GOOD.replace("    sysctls:", "    sysctl:"), "nodes.r.sysctl", "extra"),
    "bad-ip": (GOOD.replace("10.0.1.10", "10.0.1.310"),
               "links[0].endpoints[0].address", "not a valid ipv4"),
    "dup-ifname": (GOOD.replace("ifname: eth-b", "ifname: eth-a"),
                   "links[1].endpoints[0].ifname", "two interfaces named 'eth-a'"),
    "bad-node-name": (GOOD.replace("  d:\n", "  D_1:\n").replace("node: d,", "node: D_1,"),
                      "nodes.D_1", "invalid node name"),
}


@pytest.mark.parametrize(("text", "path", "fragment"), CASES.values(), ids=CASES.keys())
def test_mistake_is_reported_at_its_path(text: str, path: str, fragment: str) -> None:
    found = problems(text)
    assert any(p == path and fragment in m for p, m in found), found


def test_every_problem_is_reported_at_once() -> None:
    text = (GOOD.replace("via: 10.0.1.1}", "via: 10.0.1.99}")
            .replace("ifname: eth-b", "ifname: eth-b-0123456789")
            .replace("kind: web", "kind: gopher"))
    paths = {p for p, _ in problems(text)}
    assert {"nodes.h.routes[0].via", "links[1].endpoints[0].ifname",
            "nodes.d.services[0].kind"} <= paths


def test_issues_carry_file_line_and_hint() -> None:
    with pytest.raises(TopologyError) as caught:
        parse(GOOD.replace("via: 10.0.1.1}", "via: 10.0.1.99}"))
    issue = caught.value.issues[0]
    assert issue.file == "t.yaml"
    route_line = text_lines_index(GOOD.replace("via: 10.0.1.1}", "via: 10.0.1.99}"), "10.0.1.99")
    assert issue.line == route_line
    assert issue.hint


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "name: [\n"], ids=["empty", "list", "broken"])
def test_not_a_topology_is_one_clear_problem(text: str) -> None:
    assert len(problems(text)) == 1


def text_lines_index(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


SITES = GOOD.replace("nodes:\n", """  - name: site-a
    subnet: 192.0.2.0/24
    isolated: true
    endpoints: [{node: h, ifname: eth-sa, address: 192.0.2.10}]
  - name: site-b
    subnet: 192.0.2.0/24
    isolated: true
    endpoints: [{node: d, ifname: eth-sb, address: 192.0.2.10}]
nodes:
""", 1)


def test_isolated_links_may_share_a_subnet_and_addresses() -> None:
    topo = parse(SITES)
    sites = [n for n in topo.networks if n.isolated]
    assert [(n.name, str(n.subnet)) for n in sites] == [("site-a", "192.0.2.0/24"),
                                                       ("site-b", "192.0.2.0/24")]


def test_an_isolated_link_still_may_not_overlap_a_routed_one() -> None:
    text = SITES.replace("  - name: site-b\n    subnet: 192.0.2.0/24\n    isolated: true\n",
                         "  - name: site-b\n    subnet: 10.0.1.0/24\n    isolated: true\n")
    text = text.replace("{node: d, ifname: eth-sb, address: 192.0.2.10}",
                        "{node: d, ifname: eth-sb, address: 10.0.1.200}")
    with pytest.raises(TopologyError) as caught:
        parse(text)
    overlap = [i for i in caught.value.issues if "overlaps" in i.message]
    assert overlap, caught.value.issues
    assert "isolated: true" in overlap[0].hint


def test_duplicate_address_inside_one_isolated_link_is_still_an_error() -> None:
    text = SITES.replace("endpoints: [{node: d, ifname: eth-sb, address: 192.0.2.10}]",
                         "endpoints: [{node: d, ifname: eth-sb, address: 192.0.2.10},\n"
                         "                {node: r, ifname: eth-sb, address: 192.0.2.10}]")
    assert any("duplicate address 192.0.2.10" in m for _, m in problems(text))
