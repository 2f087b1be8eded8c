"""The Azure Gateway Load Balancer over VXLAN (spec §4.2, checks V1 and V2), on the wire.

`azure-gwlb-no-natgw`: internet clients reach an app published on a public LB
frontend (198.18.80.80) whose every packet, both ways, first goes to a connector
over VXLAN (`plb`, the fake public LB chained to the fake GWLB). What each
side saw is read where it happens: the GWLB's log of every datagram a connector
sent back (which tunnel, which VNI, which inner packet), the app's log of who
asked, the connector's session log and counters.

Each flow is named by its client port (`curl --local-port`), so every event the
checks read belongs to the flow under test, written after a mark.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import allure
import pytest
from scapy.layers.inet import IP, TCP

from lab.api import LabHandle
from lab.events import Mark
from lab.wire.vxlan import wrap
from suites.fixtures.bring_up_ahead import lab_recipe, shipped_by_param
from suites.fixtures.connector_view import counted
from suites.fixtures.lab import backend_ready, made, on_each_backend
from suites.fixtures.teardown_behind import remover
from suites.fixtures.windows import path_window

pytestmark = pytest.mark.usefixtures("lab_capable")

FRONTEND, APP, CLIENT = "198.18.80.80", "10.10.6.10", "198.18.99.99"
CONNECTORS = {"10.10.3.31": ("cc1", "10.10.2.21"), "10.10.3.32": ("cc2", "10.10.2.22")}
INTERNAL, EXTERNAL = (10800, 800), (10801, 801)  # the vendor's defaults (spec §4.2)
PORTS = itertools.count(41000)


@pytest.fixture(scope="module", params=on_each_backend(["azure-gwlb-no-natgw"]))
@lab_recipe(shipped_by_param)
def gwlb(request: pytest.FixtureRequest) -> Iterator[LabHandle]:
    topology, backend = request.param
    backend_ready(request, backend)
    remove = remover(request)  # a docker lab: behind the next one's bring-up
    handle = made(request, shipped_by_param(request.param), "azgw")
    try:
        for target in CONNECTORS:  # probed from the AzureLoadBalancer stand-in
            handle.wait_event("plb", "azgw.target_healthy", lambda e, t=target: e["target"] == t,
                              after=Mark.BEGINNING, timeout=30)
        yield handle
    finally:
        remove(handle)


def _get(lab: LabHandle, port: int, sport: int, path: str) -> str:
    """GET from the internet client with a known source port: the HTTP status."""
    return lab.exec("attacker", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                    "-m", "3", "--local-port", str(sport), f"http://{FRONTEND}:{port}{path}",
                    check=False).stdout


def _of_flow(events: list[dict[str, Any]], sport: int) -> list[dict[str, Any]]:
    return [e for e in events if sport in (e.get("sport"), e.get("dport"))]


@allure.feature("azure gwlb")
@allure.story("V1: a packet received on one tunnel interface leaves on the other")
def test_V1_a_published_flow_is_bridged_both_ways_by_one_connector(  # noqa: N802
        gwlb: LabHandle) -> None:
    mark, sport = gwlb.mark(), next(PORTS)
    assert _get(gwlb, 80, sport, "/v1") == "200"
    asked = [e for e in gwlb.events("pubapp", "http.request", after=mark) if e["path"] == "/v1"]
    assert [e["src"] for e in asked] == [CLIENT]  # the client's own address reached the app
    (flow,) = _of_flow(gwlb.events("plb", "azgw.flow", after=mark), sport)
    target = flow["target"]
    back = _of_flow(gwlb.events("plb", "azgw.bridged", after=mark), sport)
    assert {e["target"] for e in back} == {target}, "sticky: one connector, both ways"
    inbound = [e for e in back if e["dst"] == FRONTEND]
    outbound = [e for e in back if e["src"] == FRONTEND]
    # Sent on external (10801/801), came back on internal (10800/800); the replies the
    # other way round: the pair is a bridge, VNI semantics per interface.
    assert inbound
    assert {(e["port"], e["vni"]) for e in inbound} == {INTERNAL}
    assert outbound
    assert {(e["port"], e["vni"]) for e in outbound} == {EXTERNAL}
    name, _ = CONNECTORS[target]
    logged = _of_flow(gwlb.events(name, "flow.new", after=mark), sport)
    assert [(e["rule"], e["method"], e["dropped"]) for e in logged] == [
        ("published-app", "DIRECT", None)]


@allure.feature("azure gwlb")
@allure.story("the forwarding policy applies to bridged flows: Drop, and what cannot be bridged")
@pytest.mark.parametrize(("port", "reason"), [
    pytest.param(8081, "policy_drop", id="drop-rule-8081"),
    pytest.param(8080, "vxlan_not_bridgeable", id="default-zia-8080"),
])
def test_a_flow_the_policy_does_not_send_direct_never_reaches_the_app(
        gwlb: LabHandle, port: int, reason: str) -> None:
    """The app answers on 8080 and 8081 (a leak would be seen in its log). The GWLB
    did hand the flow to a connector (ingress), the connector logged it dropped and
    counted it, nothing came back over VXLAN, and the app never heard of it."""
    mark, sport = gwlb.mark(), next(PORTS)
    before = {ip: counted(gwlb, mgmt, f"dropped_{reason}") for ip, (_, mgmt) in CONNECTORS.items()}
    assert _get(gwlb, port, sport, f"/p{port}") == "000"
    path_window("a bridged packet on its way to the app").wait()
    flows = _of_flow(gwlb.events("plb", "azgw.flow", after=mark), sport)
    assert len(flows) == 1, "the GWLB must have sent the flow to a connector"
    target = flows[0]["target"]
    name, mgmt = CONNECTORS[target]
    logged = _of_flow(gwlb.events(name, "flow.new", after=mark), sport)
    assert [e["dropped"] for e in logged] == [reason]
    assert counted(gwlb, mgmt, f"dropped_{reason}") > before[target]
    assert _of_flow(gwlb.events("plb", "azgw.bridged", after=mark), sport) == []
    assert [e for e in gwlb.events("pubapp", "http.request", after=mark)
            if e["path"] == f"/p{port}"] == []


@allure.feature("azure gwlb")
@allure.story("V2: VXLAN is accepted only from the configured load-balancer source")
def test_V2_vxlan_from_a_vnet_host_is_counted_and_never_bridged(  # noqa: N802
        gwlb: LabHandle) -> None:
    """The bastion is in the VNet, which the NSG admits, so its VXLAN does reach the
    connector: well-formed, on the external tunnel, a SYN for the published app that
    the policy would send Direct. The connector counts it as not from the load
    balancer, and the app never sees the SYN."""
    sport = next(PORTS)
    syn = _syn(CLIENT, FRONTEND, sport, 80)
    before = counted(gwlb, "10.10.2.21", "vxlan_rx_not_load_balancer")
    rx_before = counted(gwlb, "10.10.2.21", "vxlan_rx_external")
    mark = gwlb.mark()
    datagram = wrap(EXTERNAL[1], syn).hex()
    gwlb.exec("bastion", "python3", "-c",
              "import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); "
              f"s.sendto(bytes.fromhex(sys.argv[1]),('10.10.3.31',{EXTERNAL[0]}))", datagram)
    path_window("a bridged SYN on its way to the app").wait()
    assert counted(gwlb, "10.10.2.21", "vxlan_rx_not_load_balancer") == before + 1
    assert counted(gwlb, "10.10.2.21", "vxlan_rx_external") == rx_before
    assert _of_flow(gwlb.events("cc1", "flow.new", after=mark), sport) == []
    assert _of_flow(gwlb.events("plb", "azgw.bridged", after=mark), sport) == []


def _syn(src: str, dst: str, sport: int, dport: int) -> bytes:
    return bytes(IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags="S"))
