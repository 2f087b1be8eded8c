"""What destroy() does about a network docker will not remove: force-disconnect the
endpoints of containers that no longer exist, never one of a container that is still
there; restart the engine only when it is the lab's and runs nothing."""

from __future__ import annotations

from typing import Any

import pytest

from lab.backends.docker import stale_endpoints
from lab.backends.docker_engine import may_restart

pytestmark = pytest.mark.unit

GONE = "a" * 64
LIVE = "b" * 64


def network(name: str, containers: dict[str, str]) -> dict[str, Any]:
    """The part of `docker network inspect` the decision reads: endpoints by container id."""
    return {"Name": name, "Containers": {
        cid: {"Name": ep, "EndpointID": f"ep{i}", "IPv4Address": f"198.18.0.{i + 2}/16"}
        for i, (cid, ep) in enumerate(containers.items())}}


def test_the_endpoint_of_a_removed_container_is_disconnected() -> None:
    nets = [network("cclab-lab-internet", {GONE: "cclab-lab-inet"})]
    assert stale_endpoints(nets, live={LIVE}) == [("cclab-lab-internet", "cclab-lab-inet")]


def test_a_container_that_still_exists_keeps_its_endpoint() -> None:
    nets = [network("cclab-lab-lan", {LIVE: "cclab-lab-blocker", GONE: "cclab-lab-ws"})]
    assert stale_endpoints(nets, live={LIVE}) == [("cclab-lab-lan", "cclab-lab-ws")]


def test_a_network_without_endpoints_has_none_to_disconnect() -> None:
    # docker prints "Containers": {} for an empty bridge, and omits it for some drivers
    assert stale_endpoints([network("a", {}), {"Name": "b"}], live=set()) == []


def test_the_engine_is_restarted_only_when_it_is_the_labs_and_runs_nothing() -> None:
    assert may_restart(1234, [])
    assert not may_restart(1234, ["c0ffee"])  # someone's container would stop
    assert not may_restart(None, [])  # an engine the lab did not start
