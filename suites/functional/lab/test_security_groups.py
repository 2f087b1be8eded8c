"""Security groups enforced in the fabric: stateful, per port, default deny."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from lab.api import LabHandle, bring_up, up
from suites.fixtures.bring_up_ahead import Recipe, lab_recipe
from suites.fixtures.lab import BACKEND_PARAMS, backend_ready, made, unique_instance
from suites.fixtures.teardown_behind import remover

# Tier: from the backend parameter (netns and docker).

TOPOLOGY = Path(__file__).parent / "data" / "sg.yaml"




def _sg_recipe(backend: str) -> Recipe:
    """How the module's lab is made (on docker, ahead of it: bring_up_ahead.py)."""
    return Recipe("sg", lambda instance, _tmp: bring_up(
        TOPOLOGY, instance=instance, backend=backend), backend)


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
@lab_recipe(_sg_recipe)
def sg_lab(request: pytest.FixtureRequest, lab_capable: None) -> Iterator[LabHandle]:
    backend_ready(request, request.param)
    remove = remover(request)  # a docker lab: behind the next one's bring-up
    handle = made(request, _sg_recipe(request.param), "sg")
    try:
        yield handle
    finally:
        remove(handle)


def _http(lab: LabHandle, node: str) -> int:
    return lab.exec(node, "curl", "-s", "-o", "/dev/null", "-m", "2", "http://10.20.0.80/",
                    check=False).returncode


def test_inbound_rule_admits_the_listed_source(sg_lab: LabHandle) -> None:
    mark = sg_lab.mark()
    assert _http(sg_lab, "allowed") == 0
    seen = sg_lab.wait_event("srv", "http.request", after=mark)
    assert seen["src"] == "10.20.0.11"


def test_inbound_from_an_unlisted_source_is_dropped(sg_lab: LabHandle) -> None:
    mark = sg_lab.mark()
    assert _http(sg_lab, "other") == 28  # curl: timed out, no RST: dropped, not refused
    assert all(e["src"] != "10.20.0.12" for e in sg_lab.events("srv", "http.request",
                                                                after=mark))


def test_replies_to_an_admitted_flow_pass_although_outbound_allows_only_dns(
        sg_lab: LabHandle) -> None:
    ping = sg_lab.exec("other", "ping", "-c", "1", "-W", "1", "10.20.0.80", check=False)
    assert ping.returncode == 0, "ICMP from the subnet is allowed, and its reply is stateful"


def test_outbound_not_allowed_is_dropped(sg_lab: LabHandle) -> None:
    ping = sg_lab.exec("srv", "ping", "-c", "1", "-W", "1", "10.20.0.11", check=False)
    assert ping.returncode != 0


def test_drops_are_counted_per_port(sg_lab: LabHandle) -> None:
    # Its own drop first (it relied on an earlier test's, which a run that splits or
    # reorders the module's tests may not have made): an unlisted source's HTTP.
    assert _http(sg_lab, "other") == 28
    # The fabric is not a node (a switch namespace, or the docker host): ask the backend.
    listing = sg_lab.backend.fabric_ruleset()
    assert 'comment "srv/eth0 in: no rule allows"' in listing
    dropped = [line for line in listing.splitlines() if "no rule allows" in line]
    assert any("packets 0 " not in line for line in dropped), dropped


@pytest.mark.parametrize("sg_lab", [BACKEND_PARAMS[1]], indirect=True)  # docker
def test_a_second_lab_beside_it_judges_only_its_own_frames(sg_lab: LabHandle,
                                                            tmp_path: Path) -> None:
    """Docker labs share the host's netfilter, and every lab numbers its guarded ports
    from 1: a lab beside this one, whose srv admits no HTTP, must not judge this lab's
    frames by its rules (it did, before its table left other labs' bridges alone), nor
    take its flows for this lab's (one conntrack table: each lab's zones are its own)."""
    closed = yaml.safe_load(TOPOLOGY.read_text())
    closed["name"] = "sg-closed"
    inbound = closed["security_groups"]["sg-srv"]["inbound"]
    closed["security_groups"]["sg-srv"]["inbound"] = [r for r in inbound if r.get("ports") != 80]
    path = tmp_path / "sg-closed.yaml"
    path.write_text(yaml.safe_dump(closed))
    with up(path, instance=unique_instance("sg-closed"), backend="docker") as beside:
        assert _http(beside, "allowed") == 28, "the closed lab's own rules do not hold"
        mark = sg_lab.mark()
        assert _http(sg_lab, "allowed") == 0, "the lab beside dropped this lab's HTTP"
        assert sg_lab.wait_event("srv", "http.request", after=mark)["src"] == "10.20.0.11"
        _same_flow_in_both_is_judged_by_each(sg_lab, beside)


# A connection this lab's `allowed` keeps open to srv:80, and the same 5-tuple tried in the
# closed lab beside: the closed lab's first SYN, which its rules drop, must not be taken
# for the open one's (one conntrack entry, "established", accepted before any rule).
HOLD = ("import socket, sys, time\n"
        "s = socket.create_connection(('10.20.0.80', 80), timeout=3,"
        " source_address=('10.20.0.11', 40404))\n"
        "print('connected', flush=True)\ntime.sleep(6)\n")


def _same_flow_in_both_is_judged_by_each(lab: LabHandle, beside: LabHandle) -> None:
    """Each lab's bridges keep their flows in conntrack zones no other lab holds."""
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(lab.exec, "allowed", "python3", "-c", HOLD, check=False, timeout=20)
        time.sleep(1.5)
        assert not held.done() or "connected" in held.result().stdout, held.result()
        before = _drops(beside)
        mark = beside.mark()
        tried = beside.exec("allowed", "curl", "-s", "-o", "/dev/null", "-m", "2",
                            "--local-port", "40404", "http://10.20.0.80/", check=False)
        assert "connected" in held.result().stdout, "this lab's flow was not open meanwhile"
    assert beside.events("srv", "http.request", after=mark) == [], \
        "the closed lab's srv got a request its rules drop"
    assert tried.returncode == 28, f"curl in the closed lab: exit {tried.returncode}, not 28"
    assert _drops(beside) > before, \
        "the closed lab's rules never saw the SYN (taken for the other lab's flow?)"


def _drops(lab: LabHandle) -> int:
    """Packets the lab's `srv/eth0 in: no rule allows` counter dropped."""
    line = next(x for x in lab.backend.fabric_ruleset().splitlines()
                if 'srv/eth0 in: no rule allows' in x)
    return int(line.split("packets ", 1)[1].split()[0])
