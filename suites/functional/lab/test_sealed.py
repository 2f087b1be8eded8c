"""The lab is sealed: no link or route reaches the host's networks, and nothing gets out."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from ipaddress import IPv4Address

import allure
import pytest

from lab.api import LabHandle, bring_up
from suites.fixtures.each_node import answered_pings
from suites.fixtures.lab import unique_instance
from suites.functional.lab.sealing import routes_leaving_the_lab

# The host's own links and routes: read with no other test's lab coming and going.
pytestmark = [pytest.mark.netns, pytest.mark.host_wide, pytest.mark.quiet,
              pytest.mark.usefixtures("lab_capable")]


def _ip_json(*args: str, ns: str | None = None) -> list[dict]:
    prefix = ["ip", "netns", "exec", ns] if ns else []
    out = subprocess.run([*prefix, "ip", "-j", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout or "[]")


def _host_links() -> list[tuple[str, str]]:
    return sorted((link["ifname"], link.get("link_type", "")) for link in _ip_json("link"))


def _host_addresses() -> list[IPv4Address]:
    found = []
    for link in _ip_json("-4", "addr"):
        for info in link.get("addr_info", []):
            address = IPv4Address(info["local"])
            if not address.is_loopback:
                found.append(address)
    return found


@pytest.fixture(scope="module")
def sealed_lab() -> Iterator[tuple[LabHandle, list[tuple[str, str]], list[tuple[str, str]]]]:
    """A lab of its own, with the host's links seen just before and just after it came up."""
    before = _host_links()
    handle = bring_up("minimal", instance=unique_instance("seal"))
    after = _host_links()
    try:
        yield handle, before, after
    finally:
        handle.down()


def test_lab_adds_no_link_to_the_host(sealed_lab) -> None:
    """No link appears on the host while the lab comes up. Links that go meanwhile are
    not this lab's doing: the host veths of a docker lab torn down just before leave when
    the kernel gets round to destroying its containers' namespaces, seconds later
    (seen in CI: the compose lab's eight, gone between the two looks)."""
    lab, before, after = sealed_lab
    assert lab.topology.nodes  # the lab did come up: there was something to add
    added = sorted(set(after) - set(before))
    assert added == []


def test_every_veth_has_both_ends_inside_the_lab(sealed_lab) -> None:
    lab, _, _ = sealed_lab
    names = lab.backend.names  # type: ignore[attr-defined]
    spaces = [names.switch_ns] + [names.node_ns(n.name) for n in lab.topology.nodes]
    veths = sum(len(_ip_json("link", "show", "type", "veth", ns=ns)) for ns in spaces)
    endpoints = sum(len(n.interfaces) for n in lab.topology.nodes)
    assert veths == 2 * endpoints


def test_every_route_stays_on_lab_addresses(sealed_lab) -> None:
    lab, _, _ = sealed_lab
    assert routes_leaving_the_lab(lab) == []


def test_no_node_reaches_the_host(sealed_lab) -> None:
    lab, _, _ = sealed_lab
    targets = _host_addresses()
    if not targets:
        pytest.skip("the host has no non-loopback IPv4 address to aim at")
    answered = answered_pings(lab, {node.name: [str(t) for t in targets]  # all at once
                                    for node in lab.topology.nodes})
    for node, reached in answered.items():
        with allure.step(f"{node} -> host {', '.join(map(str, targets))}"):
            assert reached == [], f"{node} reached the host at {reached}"


def test_edge_guard_drops_what_is_not_lab_space(sealed_lab) -> None:
    """Defence in depth: even given a default route, inet forwards nothing out of the lab plan."""
    lab, _, _ = sealed_lab
    ruleset = lab.exec("inet", "nft", "list", "table", "inet", "lab_guard").stdout
    assert "ip daddr != @lab_space counter name \"outside_lab\" drop" in ruleset
