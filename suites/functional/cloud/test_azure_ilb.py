"""The Azure ILB as next hop: HA ports, probes from the AzureLoadBalancer stand-in, failover.

Asserted on the far side: the web server's log of the public source of each
flow tells which connector carried it (cc1 has 203.0.113.31, cc2 .32). The
probes come from 198.51.100.16, the stand-in for 168.63.129.16, outside the
VNet as the real one is: only the NSG's AzureLoadBalancer rule and the
connectors' own probe-source list let them in.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import allure
import pytest

from lab.api import LabHandle
from lab.events import Mark
from suites.fixtures.bring_up_ahead import lab_recipe, shipped_by_param
from suites.fixtures.connector_view import counted, nft_counter
from suites.fixtures.lab import (
    backend_ready,
    made,
    on_each_backend,
    wait_targets_healthy,
)
from suites.fixtures.teardown_behind import remover

# Tier: from the fixture's backend parameter (netns and docker).
pytestmark = pytest.mark.usefixtures("lab_capable")

WEB = "198.18.10.10"
ECHO = "echo.web.example"  # rule 4 (echo-direct): UDP 7 to this name goes Direct
MGMT = {"cc1": "10.10.2.21", "cc2": "10.10.2.22"}
PUBLIC = {"203.0.113.31": "cc1", "203.0.113.32": "cc2"}
PROBE_SOURCE = "198.51.100.16"
PROBE_CUT = ("add table ip cut; add chain ip cut cutin { type filter hook input priority -10 ; };"
             f" add rule ip cut cutin ip saddr {PROBE_SOURCE} tcp dport 50000 drop")


@pytest.fixture(scope="module", params=on_each_backend(["azure-no-natgw"]))
@lab_recipe(shipped_by_param)
def azure(request: pytest.FixtureRequest) -> Iterator[LabHandle]:
    topology, backend = request.param
    backend_ready(request, backend)
    remove = remover(request)  # a docker lab: behind the next one's bring-up
    handle = made(request, shipped_by_param(request.param), "ilb")
    try:
        wait_targets_healthy(handle, "ilb")
        yield handle
    finally:
        remove(handle)


def _carriers(lab: LabHandle, tag: str, flows: int = 12) -> set[str]:
    """Which connectors carried `flows` new flows (each curl is a new source port)."""
    mark = lab.mark()
    for n in range(flows):
        lab.exec("workload1", "curl", "-s", "-m", "3", f"http://{WEB}/{tag}-{n}")
    seen = [e for e in lab.events("web", "http.request", after=mark)
            if e["path"].startswith(f"/{tag}-")]
    assert len(seen) == flows, f"{flows - len(seen)} flows never reached the web server"
    return {PUBLIC[e["src"]] for e in seen}


@allure.feature("load balancer")
def test_flows_spread_over_both_connectors(azure: LabHandle) -> None:
    assert _carriers(azure, "spread") == {"cc1", "cc2"}


@allure.feature("load balancer")
def test_health_probe_answers_the_probe_source_and_no_one_else(azure: LabHandle) -> None:
    """The stand-in gets 200. The internet gets nothing (the NSG drops it); a VNet host,
    which the NSG's "all from VirtualNetwork" admits, gets nothing either: the connector
    refuses it itself (H2), and its counter shows the probe did arrive."""
    def probe(node: str, url: str, *extra: str) -> str:
        return azure.exec(node, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m",
                          "2", *extra, url, check=False).stdout

    assert probe("ilb", "http://10.10.3.31:50000/?cchealth", "--interface", PROBE_SOURCE) == "200"
    assert probe("attacker", "http://203.0.113.31:50000/?cchealth") == "000"  # no answer
    before = _probe_refused(azure)
    assert probe("bastion", "http://10.10.3.31:50000/?cchealth") == "000"
    assert _probe_refused(azure) > before


def _probe_refused(lab: LabHandle) -> int:
    return nft_counter(lab, "cc1", "probe_refused")


@allure.feature("load balancer")
def test_unhealthy_connector_gets_no_new_flows_and_comes_back(azure: LabHandle) -> None:
    # Only events after the cut count: a backend probed before it was up may
    # already have an `unhealthy` in the history.
    cut = azure.mark()
    azure.exec("cc1", "nft", PROBE_CUT)
    try:
        _wait_new_event(azure, "ilb.target_unhealthy", cut, "10.10.3.31")
        assert _carriers(azure, "failover") == {"cc2"}
        restored = azure.mark()
    finally:
        azure.exec("cc1", "nft", "delete table ip cut", check=False)
    _wait_new_event(azure, "ilb.target_healthy", restored, "10.10.3.31")
    assert _carriers(azure, "back") == {"cc1", "cc2"}


def _wait_new_event(lab: LabHandle, kind: str, after: Mark, target: str) -> None:
    """Until an event of `kind` for `target` is written after the mark."""
    lab.wait_event("ilb", kind, lambda e: e.get("target") == target, after=after, timeout=15)


@allure.feature("forwarding")
@allure.story("F9: a flow the kernel sent to user space while its name set was behind")
def test_a_direct_flow_the_kernel_sent_up_while_behind_is_carried(azure: LabHandle) -> None:
    """Both connectors' cores know echo.web.example (one answered, the other learned it
    through the cluster) but their kernels' name sets are emptied, as they are for a
    moment after a peer's answer: each new flow to web:7 reaches user space, which says
    DIRECT (rule 4). Every flow must still reach web from a connector's public address,
    carried once each, and never lost (docs/decisions.md)."""
    assert azure.exec("workload1", "dig", "+short", "+time=2", "+tries=1", "@10.10.3.31",
                      ECHO).stdout.split() == [WEB]
    for cc in MGMT:
        _wait_in_name_set(azure, cc)
        azure.exec(cc, "nft", "flush set ip cclab_connector r4_names")
    before = sum(counted(azure, MGMT[cc], "routed_kernel_behind_carried") for cc in MGMT)
    mark = azure.mark()
    tags = {f"behind-{port}-{time.monotonic_ns()}": port for port in range(40810, 40818)}
    _send_echoes(azure, tags)
    seen = {e["payload"]: e["src"] for e in azure.events("web", "udp.echo", after=mark)
            if e["payload"] in tags}
    assert set(seen) == set(tags), f"lost: {sorted(set(tags) - set(seen))}"
    assert set(seen.values()) <= set(PUBLIC), f"not Direct from a connector: {seen}"
    after = sum(counted(azure, MGMT[cc], "routed_kernel_behind_carried") for cc in MGMT)
    assert after - before == len(tags), "each flow's first packet is carried from user space"


def _wait_in_name_set(lab: LabHandle, cc: str) -> None:
    """Until `cc`'s kernel set for rule 4 holds web (the peer follows the log in 0.1 s)."""
    deadline = time.monotonic() + 10
    while WEB not in lab.exec(cc, "nft", "list set ip cclab_connector r4_names").stdout:
        assert time.monotonic() < deadline, f"{cc} never put {WEB} in its rule-4 set"
        time.sleep(0.1)


def _send_echoes(lab: LabHandle, tags: dict[str, int]) -> None:
    """One datagram per tag from its own source port (a new flow each), answer awaited."""
    lab.exec("workload1", lab.python, "-c",
             "import socket\n"
             f"for tag, port in {tags!r}.items():\n"
             "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
             "    s.bind(('0.0.0.0', port)); s.settimeout(2)\n"
             f"    s.sendto(tag.encode(), ('{WEB}', 7))\n"
             "    try: s.recv(100)\n"
             "    except OSError: pass\n"
             "    s.close()\n", check=False)
