"""The docker backend: sealed like the netns lab, and open to throw-away testcontainers.

The lab here is the checked-in docker-compose.lab.yml, started by docker
compose and adopted, as the README tells users (the `minimal_lab` fixture).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import allure
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.sendrecv import AsyncSniffer
from scapy.utils import rdpcap
from testcontainers.core.container import DockerContainer

from lab.api import LabHandle
from lab.compose import LABEL_INSTANCE, bridge_name, network_name
from lab.images.build import LAB_IMAGE
from suites.fixtures.allure_hooks import attach_pcap
from suites.fixtures.each_node import answered_pings
from suites.fixtures.spoof import mac_of, send_from
from suites.functional.lab.sealing import routes_leaving_the_lab

pytestmark = [pytest.mark.docker,
              pytest.mark.parametrize("minimal_lab", ["docker"], indirect=True)]

SERVICE_ADDRESS = "10.10.3.31"


def _inspect(kind: str, names: list[str]) -> list[dict]:
    out = subprocess.run(["docker", kind, "inspect", *names] if kind == "network"
                         else ["docker", "inspect", *names],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def _lab_containers(lab: LabHandle) -> list[dict]:
    ids = subprocess.run(["docker", "ps", "-q", "--filter",
                          f"label={LABEL_INSTANCE}={lab.instance}"],
                         capture_output=True, text=True, check=True).stdout.split()
    return _inspect("container", ids)


def test_every_lab_network_is_internal(minimal_lab: LabHandle) -> None:
    names = [network_name(minimal_lab.instance, n.name) for n in minimal_lab.topology.networks]
    for net in _inspect("network", names):
        assert net["Internal"] is True, net["Name"]


def test_no_container_publishes_a_port_or_runs_privileged(minimal_lab: LabHandle) -> None:
    containers = _lab_containers(minimal_lab)
    assert len(containers) == len(minimal_lab.topology.nodes)
    for c in containers:
        host = c["HostConfig"]
        assert not host.get("PortBindings"), c["Name"]
        assert host["Privileged"] is False, c["Name"]
        # cc1 loads a tc program (runtime.routed_fast_path): bpf() needs SYS_ADMIN here
        loads_bpf = c["Config"]["Hostname"] == "cc1"
        assert host["CapAdd"] == (["NET_ADMIN", "SYS_ADMIN"] if loads_bpf else ["NET_ADMIN"]), \
            c["Name"]
        assert host["NetworkMode"] not in ("host", "bridge", "default"), c["Name"]


def test_every_route_stays_on_lab_addresses(minimal_lab: LabHandle) -> None:
    assert routes_leaving_the_lab(minimal_lab) == []


def _host_addresses() -> list[str]:
    links = json.loads(subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True,
                                      text=True, check=True).stdout)
    return [a["local"] for link in links for a in link.get("addr_info", [])
            if not IPv4Address(a["local"]).is_loopback]


def test_no_node_reaches_the_host_not_even_its_bridge_addresses(minimal_lab: LabHandle) -> None:
    """Docker gives the host an address on every lab network; the host answers none of them."""
    targets = _host_addresses()
    bridge_side = [t for t in targets
                   if any(IPv4Address(t) in n.subnet for n in minimal_lab.topology.networks)]
    assert len(bridge_side) == len(minimal_lab.topology.networks)
    answered = answered_pings(minimal_lab, {node.name: targets  # every node at once
                                            for node in minimal_lab.topology.nodes})
    for node, reached in answered.items():
        with allure.step(f"{node} -> every host address"):
            assert reached == [], f"{node}: {reached}"


def _mac(device: str) -> str:
    out = subprocess.run(["ip", "-j", "link", "show", "dev", device], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)[0]["address"]


SEAL_PORT = 40999  # what the probes below are told apart by
SEAL_PROBES = 5


def test_the_host_routes_no_lab_packet_from_one_lab_network_to_another(
        minimal_lab: LabHandle, tmp_path: Path) -> None:
    """Docker turns the host's IP forwarding on and gives it an address on every lab
    network: a node that sends a packet to the host's MAC would have it routed, onto
    another lab network or off the lab, unless the host's rules drop it (whether the
    engine keeps its own rules or runs without them, as scripts/start-docker-engine
    starts it). workload1 sends UDP for cc1's management address to its bridge's host
    side: the host's bridge sees every probe arrive, cc1's management link none. (A
    packet for outside the lab would go by the same rule; the lab sends none there.)"""
    lab = minimal_lab
    bridge = bridge_name(lab.instance, "workloads")
    target = str(lab.address("cc1", "eth-mgmt"))
    probe = (Ether(src=mac_of(lab, "workload1", "eth0"), dst=_mac(bridge))
             / IP(src=str(lab.address("workload1")), dst=target)
             / UDP(sport=SEAL_PORT, dport=SEAL_PORT) / b"seal")
    ours = f"udp and dst port {SEAL_PORT}"
    pcap = tmp_path / "cc1-eth-mgmt.pcap"
    listening = threading.Event()
    at_host = AsyncSniffer(iface=bridge, filter=ours, store=True,
                           started_callback=listening.set)
    at_host.start()
    # the sniffer's socket is open before the first probe (a fixed half second was not,
    # under CI's load, once the probes no longer waited for a scapy start in the node)
    assert listening.wait(10), "the host's sniffer never started"
    try:
        with lab.capture("cc1", "eth-mgmt", pcap):
            send_from(lab, "workload1", probe, count=SEAL_PROBES, interval=0.05, iface="eth0")
            time.sleep(1.0)  # a routed probe would be on cc1's link long before this
    finally:
        arrived = at_host.stop()
    attach_pcap(pcap, "cc1 eth-mgmt")
    assert len([p for p in arrived if IP in p and p[IP].dst == target]) == SEAL_PROBES, \
        "the probes never reached the host's side of the workloads bridge"
    leaked = [p for p in rdpcap(str(pcap)) if UDP in p and p[UDP].dport == SEAL_PORT]
    assert leaked == [], f"the host routed {len(leaked)} lab packet(s) onto the mgmt link"


@pytest.fixture
def attacker(minimal_lab: LabHandle) -> Iterator[DockerContainer]:
    """A throw-away node on the lab's internet link, started by testcontainers."""
    container = (DockerContainer(LAB_IMAGE)
                 .with_kwargs(entrypoint=["sleep", "120"], cap_add=["NET_ADMIN"],
                              network=network_name(minimal_lab.instance, "internet"),
                              labels={LABEL_INSTANCE: minimal_lab.instance}))
    container.start()
    try:
        code, out = container.exec(["ip", "route", "replace", "default", "via", "198.18.0.1"])
        assert code == 0, out
        yield container
    finally:
        container.stop()


@allure.feature("abuse")
def test_an_internet_client_gets_no_dns_answer_from_the_connector(
        minimal_lab: LabHandle, attacker: DockerContainer, tmp_path: Path) -> None:
    code, page = attacker.exec(["curl", "-s", "-m", "3", "http://198.18.10.10/control"])
    for _ in range(2):  # the engine can lose a quick exec's output (moby/moby#27289): again
        if code != 0 or page:
            break
        code, page = attacker.exec(["curl", "-s", "-m", "3", "http://198.18.10.10/control"])
    assert code == 0, "the attacker is not wired into the lab"
    assert b"seen_source" in page
    pcap = tmp_path / "cc1-eth-svc.pcap"
    with minimal_lab.capture("cc1", "eth-svc", pcap):
        code, out = attacker.exec(["dig", "+time=1", "+tries=2", f"@{SERVICE_ADDRESS}",
                                   "www.web.example"])
    attach_pcap(pcap, "cc1 eth-svc")
    assert code != 0, out
    assert b"timed out" in out
    packets = [p for p in rdpcap(str(pcap)) if IP in p and UDP in p]
    queries = [p for p in packets if p[IP].dst == SERVICE_ADDRESS and p[UDP].dport == 53]
    answers = [p for p in packets if p[IP].src == SERVICE_ADDRESS and p[UDP].sport == 53]
    assert len(queries) == 2, "the queries never reached the connector"
    assert answers == []
