"""A docker node agent's wiring, carried out by iproute2 in a real namespace and read back.

The agent runs in a container docker has already attached; here a namespace stands in
for it, with a veth pair holding the addresses docker would have given. What each step
should leave behind is read back with `ip -j`, independently of how it was made.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from ipaddress import IPv4Interface, IPv4Network, IPv6Network, ip_address, ip_interface

import pytest

from lab.errors import BackendError
from lab.node_agent.iproute import Ip
from lab.node_agent.wiring import Wiring
from lab.steps import AddAddress, AddRoute, AddRule, CreateVeth, LinkUp, Step

pytestmark = [pytest.mark.netns, pytest.mark.usefixtures("lab_capable")]

NODE = "web"
FIRST, SECOND = IPv4Interface("10.77.0.1/24"), IPv4Interface("10.78.0.1/24")


@pytest.fixture
def namespace() -> Iterator[str]:
    """A namespace as docker leaves a container: `d0` holds FIRST, `d1` holds SECOND."""
    ns = f"cctw{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for command in (["link", "add", "d0", "type", "veth", "peer", "name", "d1"],
                        ["addr", "add", str(FIRST), "dev", "d0"],
                        ["addr", "add", str(SECOND), "dev", "d1"]):
            subprocess.run(["ip", "-n", ns, *command], check=True)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def _read(ns: str, *args: str) -> list[dict]:
    done = subprocess.run(["ip", "-n", ns, "-j", *args], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout or "[]")


def _wire(ns: str, attached: dict[str, IPv4Interface], steps: list[Step]) -> None:
    wiring = Wiring(NODE, attached, ip=Ip(NODE, netns=ns))
    for step in steps:
        wiring.apply(step)
    wiring.finish()


def _names_by_address(ns: str) -> dict[str, str]:
    return {a["local"]: link["ifname"] for link in _read(ns, "addr", "show")
            for a in link.get("addr_info", [])}


def test_the_plan_is_carried_out_and_reads_back_as_planned(namespace: str) -> None:
    # the plan wants the names swapped: d1 is taken when d0's holder is renamed to it
    attached = {"d1": FIRST, "d0": SECOND}
    steps: list[Step] = [
        CreateVeth(NODE, "d1", "peer", "p1", "br"), CreateVeth(NODE, "d0", "peer", "p0", "br"),
        AddAddress(NODE, "d1", FIRST),  # docker attached it already: must not be added again
        AddAddress(NODE, "d1", ip_interface("fd00:77::1/64")),
        LinkUp(NODE, "d0"), LinkUp(NODE, "d1"),
        AddRoute(NODE, IPv4Network("0.0.0.0/0"), ip_address("10.77.0.2"), table=7),
        AddRoute(NODE, IPv4Network("10.90.0.0/16"), ip_address("10.78.0.2")),
        AddRoute(NODE, IPv6Network("::/0"), ip_address("fd00:77::2"), table=7),
        AddRule(NODE, priority=50, table=7, suppress_prefixlength=0),
        AddRule(NODE, priority=51, table=7, family=6),
        AddRule(NODE, priority=52, table=7, source=IPv4Network("10.77.0.0/24")),
    ]
    _wire(namespace, attached, steps)

    names = _names_by_address(namespace)
    assert (names["10.77.0.1"], names["10.78.0.1"], names["fd00:77::1"]) == ("d1", "d0", "d1")
    v6 = [a for link in _read(namespace, "-6", "addr", "show", "dev", "d1")
          for a in link["addr_info"] if a["local"] == "fd00:77::1"]
    assert v6[0].get("nodad") is True, v6
    up = {link["ifname"]: "UP" in link["flags"] for link in _read(namespace, "link", "show")}
    assert up["d0"], up
    assert up["d1"], up
    assert [(r["dst"], r["gateway"]) for r in _read(namespace, "route", "show", "table", "7")
            ] == [("default", "10.77.0.2")]
    assert [(r["dst"], r["gateway"]) for r in _read(namespace, "-6", "route", "show",
                                                     "table", "7")] == [("default", "fd00:77::2")]
    main = {r["dst"]: r.get("gateway") for r in _read(namespace, "route", "show")}
    assert main["10.90.0.0/16"] == "10.78.0.2", main
    rules4 = {r["priority"]: r for r in _read(namespace, "rule", "show")}
    rules6 = {r["priority"]: r for r in _read(namespace, "-6", "rule", "show")}
    assert (rules4[50]["table"], rules4[50]["suppress_prefixlen"]) == ("7", 0)
    assert (rules4[52]["src"], rules4[52]["srclen"]) == ("10.77.0.0", 24)
    assert 51 in rules6, rules6
    assert 51 not in rules4, rules4
    assert 50 not in rules6


def test_a_step_the_kernel_refuses_is_named_in_the_error(namespace: str) -> None:
    bad = AddRoute(NODE, IPv4Network("10.88.0.0/16"), ip_address("10.99.0.1"))
    steps: list[Step] = [LinkUp(NODE, "d0"), LinkUp(NODE, "d1"), bad,
                         AddRule(NODE, priority=60, table=9)]
    with pytest.raises(BackendError) as failure:
        _wire(namespace, {}, steps)
    assert bad.describe() in str(failure.value)
    assert failure.value.node == NODE
    assert 60 not in {r["priority"] for r in _read(namespace, "rule", "show")}


def test_an_address_no_interface_holds_is_a_clear_error(namespace: str) -> None:
    with pytest.raises(BackendError, match="no interface holds 10.79.0.1/24"):
        _wire(namespace, {"eth-x": IPv4Interface("10.79.0.1/24")},
              [CreateVeth(NODE, "eth-x", "peer", "p", "br")])


# A lab `cclab up` starts on docker: the host makes the node's interfaces after the
# container has started (lab.backends.docker_wiring), and the agent waits for them.
WAITER = ("import sys; from lab.node_agent.wiring import wait_for_link; "
          "wait_for_link(sys.argv[1], 'web', wait_s=float(sys.argv[2]))")


def _waiter(ns: str, ifname: str, wait_s: float) -> subprocess.Popen[str]:
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", WAITER, ifname,
                             str(wait_s)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})


def test_the_agent_waits_for_an_interface_the_host_makes_later(namespace: str) -> None:
    waiter = _waiter(namespace, "eth-late", 30)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            waiter.wait(timeout=1.0)  # no such interface yet: still waiting
        subprocess.run(["ip", "link", "add", "ccwhost", "type", "veth", "peer", "name",
                        "eth-late", "netns", namespace], check=True)
        assert waiter.wait(timeout=10) == 0, waiter.communicate()[1]
    finally:
        waiter.kill()
        subprocess.run(["ip", "link", "del", "ccwhost"], check=False, capture_output=True)


def test_an_interface_the_host_never_makes_is_named_when_the_wait_ends(namespace: str) -> None:
    waiter = _waiter(namespace, "eth-never", 0.5)
    _, err = waiter.communicate(timeout=30)
    assert waiter.returncode != 0
    assert "interface eth-never did not appear within 0.5 s" in err, err
