"""Azure's public-LB inbound DNAT mode (spec §4.2), on the wire.

`azure-plb-inbound`: internet clients reach workload2's web server (10.10.1.12)
on the public LB frontend 198.18.81.80. The public LB (`plb`) forwards each TCP
flow unchanged (floating IP, no SNAT) to a connector, which DNATs it to the
workload and SNATs it to the ILB frontend (10.10.4.10); the workload's replies go
to the ILB, which hands them, unchanged, to the same connector, which sends them
to the client from the frontend (through the public LB). Each flow is named by
its client port (`curl --local-port`): the port picks the connector (the lab's
two load balancers agree on it, docs/decisions.md), and every event and packet a
check reads belongs to that flow, written after a mark or captured meanwhile.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import allure
import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import rdpcap

from lab.api import LabHandle
from lab.events import Mark
from suites.fixtures.allure_hooks import attach_pcap
from suites.fixtures.bring_up_ahead import lab_recipe, shipped_by_param
from suites.fixtures.connector_view import nft_counter
from suites.fixtures.lab import (
    backend_ready,
    lent_or_own,
    made,
    on_each_backend,
    wait_targets_healthy,
)
from suites.fixtures.spoof import mac_of, send_from
from suites.fixtures.windows import path_window

pytestmark = pytest.mark.usefixtures("lab_capable")

FRONTEND, WORKLOAD, ILB_FRONTEND, CLIENT = "198.18.81.80", "10.10.1.12", "10.10.4.10", \
    "198.18.99.99"
BUCKETS = 64  # the client port's bucket picks the connector: even cc1, odd cc2
PORTS = itertools.count(42000, BUCKETS)  # bucket 16: cc1; + 1, bucket 17: cc2


@pytest.fixture(scope="module", params=on_each_backend(["azure-plb-inbound"]))
@lab_recipe(shipped_by_param)
def plb(request: pytest.FixtureRequest) -> Iterator[LabHandle]:
    """The lab once the ILB holds both connectors healthy (it hands returns to healthy
    ones)."""
    topology, backend = request.param
    backend_ready(request, backend)
    with lent_or_own(request, topology,
                     lambda: made(request, shipped_by_param(request.param), "azplb"),
                     ready=lambda lab: wait_targets_healthy(lab, "ilb", timeout=30)
                     ) as handle:
        yield handle


def _port_for(connector: str) -> int:
    return next(PORTS) + (0 if connector == "cc1" else 1)


def _get(lab: LabHandle, port: int, sport: int, path: str) -> tuple[str, str]:
    """GET the frontend from the internet client with a known source port: (status, body)."""
    done = lab.exec("attacker", "curl", "-s", "-w", "\n%{http_code}", "-m", "3",
                    "--local-port", str(sport), f"http://{FRONTEND}:{port}{path}", check=False)
    body, _, status = done.stdout.rpartition("\n")
    return status, body


def _asked(lab: LabHandle, path: str, mark: Mark) -> list[dict[str, Any]]:
    return [e for e in lab.events("workload2", "http.request", after=mark) if e["path"] == path]


def _kept_out_probe(lab: LabHandle, pcap_dir: Path, connector: str, port: int, sport: int,
                    path: str) -> tuple[str, Path]:
    """GET the frontend on `port` while capturing the connector's service interface, and
    give the window in which a forwarded SYN would reach the workload: (status, pcap)."""
    at_cc = pcap_dir / f"{connector}-eth-svc.pcap"
    with lab.capture(connector, "eth-svc", at_cc):
        status, _ = _get(lab, port, sport, path)
        path_window("a forwarded SYN reaching the workload").wait()
    attach_pcap(at_cc, f"{connector} eth-svc")
    return status, at_cc


def _logged_drop(lab: LabHandle, connector: str, sport: int, mark: Mark) -> tuple[str, str]:
    """The session log's record of the flow from `sport`, written after `mark`."""
    event = lab.wait_event(connector, "flow.new", lambda e: e["sport"] == sport, after=mark)
    return event["rule"], event["dropped"]


def _of_flow(pcap: Path, sport: int) -> list[Any]:
    return [p for p in rdpcap(str(pcap)) if TCP in p and sport in (p[TCP].sport, p[TCP].dport)]


@allure.feature("azure public LB inbound")
@allure.story("spec 4.2: DNAT to the workload, SNAT to the ILB frontend, returns through the ILB")
@pytest.mark.parametrize(("connector", "port", "to_port"), [
    pytest.param("cc1", 80, 80, id="cc1-80"),
    pytest.param("cc2", 80, 80, id="cc2-80"),
    pytest.param("cc1", 443, 8443, id="cc1-443-to-8443"),
])
def test_an_internet_client_reaches_the_workload_through_a_connector(
        plb: LabHandle, pcap_dir: Path, connector: str, port: int, to_port: int) -> None:
    sport, path = _port_for(connector), f"/in-{connector}-{port}"
    before = nft_counter(plb, connector, "inbound_dnat")
    mark = plb.mark()
    at_client, at_cc, at_ilb = (pcap_dir / f"{n}.pcap" for n in ("client", "cc", "ilb"))
    with plb.capture("attacker", "eth0", at_client), plb.capture(connector, "eth-svc", at_cc), \
            plb.capture("ilb", "eth-lb", at_ilb):
        status, body = _get(plb, port, sport, path)
        path_window("the last packets of the flow").wait()
    for pcap, name in ((at_client, "attacker eth0"), (at_cc, f"{connector} eth-svc"),
                       (at_ilb, "ilb eth-lb")):
        attach_pcap(pcap, name)
    assert status == "200"
    assert '"seen_source": "10.10.4.10"' in body  # the workload saw the ILB frontend
    (asked,) = _asked(plb, path, mark)
    assert (asked["src"], asked["dst"], asked["dport"]) == (ILB_FRONTEND, WORKLOAD, to_port)
    # Floating IP and no SNAT at the public LB: the connector got the client's packet
    # with the frontend as destination; it counted the flow DNATed.
    arrived = [p for p in _of_flow(at_cc, sport) if p[IP].dst == FRONTEND]
    assert arrived
    assert {p[IP].src for p in arrived} == {CLIENT}
    assert nft_counter(plb, connector, "inbound_dnat") == before + 1
    # The return crossed the ILB: the workload's replies, to the SNAT address.
    returns = [p for p in _of_flow(at_ilb, sport)
               if (p[IP].src, p[IP].dst, p[TCP].sport) == (WORKLOAD, ILB_FRONTEND, to_port)]
    assert returns, "no reply of the workload crossed the ILB"
    # ...and the client got its answers from the frontend, on the port it asked.
    replies = [p for p in _of_flow(at_client, sport) if p[IP].dst == CLIENT]
    assert replies
    assert {(p[IP].src, p[TCP].sport) for p in replies} == {(FRONTEND, port)}


@allure.feature("azure public LB inbound")
@allure.story("public traffic to the frontend on a port with no mapping is dropped and counted")
def test_a_frontend_port_with_no_mapping_gets_no_answer(plb: LabHandle, pcap_dir: Path) -> None:
    """8443 is a rule of the public LB (it forwards it) and mapped nowhere on the
    connectors; the workload serves 8443, and the frontend's 443 reaches it there."""
    sport, path = _port_for("cc1"), "/unmapped"
    before = nft_counter(plb, "cc1", "inbound_unmapped")
    mark = plb.mark()
    status, at_cc = _kept_out_probe(plb, pcap_dir, "cc1", 8443, sport, path)
    arrived = [p for p in _of_flow(at_cc, sport) if p[IP].dst == FRONTEND]
    assert arrived, "positive control: the public LB must have handed cc1 the SYN"
    assert status == "000"
    assert _logged_drop(plb, "cc1", sport, mark) == ("Public Source Drop", "public_source")
    assert [p for p in _of_flow(at_cc, sport) if p[IP].dst != FRONTEND] == [], "forwarded"
    assert nft_counter(plb, "cc1", "inbound_unmapped") >= before + 1
    assert _asked(plb, path, mark) == []


@allure.feature("azure public LB inbound")
@allure.story("the forwarding rules decide a mapped flow: a Drop rule drops it")
def test_a_drop_rule_keeps_a_mapped_port_out(plb: LabHandle, pcap_dir: Path) -> None:
    """8081 on the frontend is mapped to the workload, which answers there; rule 6
    (Drop, the frontend, 8081) drops it before any DNAT."""
    sport, path = _port_for("cc2"), "/drop-8081"
    before = nft_counter(plb, "cc2", "inbound_policy_drop")
    dnat_before = nft_counter(plb, "cc2", "inbound_dnat")
    mark = plb.mark()
    status, at_cc = _kept_out_probe(plb, pcap_dir, "cc2", 8081, sport, path)
    assert [p for p in _of_flow(at_cc, sport) if p[IP].dst == FRONTEND], "positive control"
    assert status == "000"
    # the session log has the flow (F7): user space, which the kernel hands it to, knows
    # no mapping, so its reason is the Public Source Drop (docs/decisions.md)
    assert _logged_drop(plb, "cc2", sport, mark) == ("Public Source Drop", "public_source")
    assert nft_counter(plb, "cc2", "inbound_policy_drop") >= before + 1
    assert nft_counter(plb, "cc2", "inbound_dnat") == dnat_before
    assert _asked(plb, path, mark) == []


@allure.feature("azure public LB inbound")
@allure.story("spec 2.5: any other public-source flow is still dropped")
@pytest.mark.parametrize(("source", "reaches"), [
    pytest.param("10.10.2.5", True, id="control-vnet-source"),
    pytest.param(CLIENT, False, id="public-source"),
])
def test_a_public_source_flow_not_to_the_frontend_never_reaches_the_workload(
        plb: LabHandle, pcap_dir: Path, source: str, reaches: bool) -> None:
    """A SYN straight to the workload's port 80 (which answers), put on the service link
    by the VNet router towards cc1. From a VNet address (the control) it reaches cc1;
    from the client's address the NSG, which admits the internet only to the frontend,
    stops it before the connector, whose own Public Source Drop is the second layer
    (its place in the ruleset: the golden `azure-plb-cc1.nft`; at work:
    test_kernel_path.py::test_public_source_*). Either way the workload never sees it."""
    sport = _port_for("cc1")
    frame = (Ether(src=mac_of(plb, "fabric", "eth-svc"), dst=mac_of(plb, "cc1", "eth-svc"))
             / IP(src=source, dst=WORKLOAD) / TCP(sport=sport, dport=80, flags="S"))
    at_cc, at_wl = pcap_dir / "cc1-eth-svc.pcap", pcap_dir / "workload2-eth0.pcap"
    with plb.capture("cc1", "eth-svc", at_cc), plb.capture("workload2", "eth0", at_wl):
        send_from(plb, "fabric", frame, count=3, iface="eth-svc")
        path_window("a forwarded SYN reaching the workload").wait()
    attach_pcap(at_cc, "cc1 eth-svc")
    attach_pcap(at_wl, "workload2 eth0")
    arrived = [p for p in _of_flow(at_cc, sport) if p[IP].src == source]
    assert bool(arrived) is reaches
    if not reaches:
        assert _of_flow(at_wl, sport) == [], "forwarded to the workload"
