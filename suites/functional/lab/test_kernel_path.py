"""The routed (next-hop) path of the connector, judged on real packets in the minimal lab.

The kernel carries Direct alone and hands every other new flow to user space
(connector/io/nft_render.py). These tests show the forwarding semantics of
that path by behaviour, so a renderer bug fails here even if its golden file
were updated with it (spec §5.2, checks F1, F2; §5.4 F4; F7; §2.5; D4):
- the expected outcome of each port comes from the rules as the spec reads
  them (connectors/minimal-cc1.yaml), never from the connector's output;
- a delivered flow is judged at the web server (its own log of the source);
- a dropped flow is judged where a leak would be seen (the web server, which
  listens on every port tried, or the fabric's way out for pool addresses),
  after showing that the flow did reach the connector (its session log line,
  written after a mark, or a capture at its ingress), and the drop counted.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import allure
import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import rdpcap

from lab.api import LabHandle
from lab.events import Mark
from suites.fixtures.allure_hooks import attach_pcap
from suites.fixtures.connector_view import counted, nft_counter
from suites.fixtures.kernel_stats import udp_counters
from suites.fixtures.spoof import mac_of, send_from
from suites.fixtures.windows import path_window

# Tier: from the minimal_lab fixture (netns and docker).
WEB, SERVICE, MGMT = "198.18.10.10", "10.10.3.31", "10.10.2.21"
WORKLOAD, OTHER_SOURCE = "10.10.1.11", "10.10.1.61"  # the second: added to workload1 here


def _get(lab: LabHandle, port: int, path: str, source: str | None = None,
         wait: int = 3) -> bool:
    argv = ["curl", "-s", "-o", "/dev/null", "-m", str(wait)]
    argv += ["--interface", source] if source else []
    return lab.exec("workload1", *argv, f"http://{WEB}:{port}{path}", check=False).ok


def _web_saw(lab: LabHandle, path: str, mark: Mark) -> list[dict[str, object]]:
    return [e for e in lab.events("web", "http.request", after=mark) if e["path"] == path]


def _delivered(lab: LabHandle, port: int, source: str | None = None) -> dict[str, object]:
    """A GET that must arrive: the web server's own record of it."""
    path = f"/p{port}-{uuid.uuid4().hex[:6]}"
    mark = lab.mark()
    assert _get(lab, port, path, source), f"GET on {port} failed"
    return lab.wait_event("web", "http.request", lambda e: e["path"] == path, after=mark)


def _dropped(lab: LabHandle, port: int, source: str | None = None) -> dict[str, object]:
    """A GET that must not arrive: the connector logged the flow (so it reached it), and
    the web server, which listens on the port, never saw it. The session log line."""
    path = f"/p{port}-{uuid.uuid4().hex[:6]}"
    mark = lab.mark()
    assert not _get(lab, port, path, source, wait=1), f"GET on {port} was answered"
    logged = lab.wait_event("cc1", "flow.new", lambda e: e["dport"] == port
                            and e["src"] == (source or WORKLOAD), after=mark)
    path_window("anything the connector forwarded reaching the web server").wait()
    assert _web_saw(lab, path, mark) == [], f"port {port}: the web server got the request"
    return logged


@pytest.fixture
def second_source(minimal_lab: LabHandle) -> Iterator[str]:
    """workload1 with a second address in its subnet, removed afterwards."""
    minimal_lab.exec("workload1", "ip", "addr", "add", f"{OTHER_SOURCE}/24", "dev", "eth0")
    try:
        yield OTHER_SOURCE
    finally:
        minimal_lab.exec("workload1", "ip", "addr", "del", f"{OTHER_SOURCE}/24", "dev", "eth0",
                         check=False)


@allure.feature("forwarding")
@allure.story("F1: first match in ascending order, whatever the file's order")
def test_the_lower_order_rule_wins_though_written_after(minimal_lab: LabHandle) -> None:
    """Rule 10 (Drop 8081) is written after rule 11 (Direct 8081, 8082)."""
    before = counted(minimal_lab, MGMT, "dropped_policy_drop")
    logged = _dropped(minimal_lab, 8081)
    assert (logged["method"], logged["rule"], logged["dropped"]) == (
        "DROP", "drop-8081", "policy_drop")
    assert counted(minimal_lab, MGMT, "dropped_policy_drop") > before  # each packet
    direct_11 = nft_counter(minimal_lab, "cc1", "rule_11")
    seen = _delivered(minimal_lab, 8082)
    assert seen["src"] == SERVICE
    assert nft_counter(minimal_lab, "cc1", "rule_11") > direct_11, "8082 matched rule 11"


@allure.feature("forwarding")
@allure.story("F1: a disabled rule is skipped, the next match decides")
def test_a_disabled_rule_is_skipped(minimal_lab: LabHandle) -> None:
    before_40 = nft_counter(minimal_lab, "cc1", "rule_40")
    seen = _delivered(minimal_lab, 8083)
    assert seen["src"] == SERVICE
    assert nft_counter(minimal_lab, "cc1", "rule_40") > before_40, "8083 matched rule 40"


@allure.feature("forwarding")
@allure.story("F2: OR within a criterion")
@pytest.mark.parametrize("port", [8085, 8086])
def test_either_service_of_a_rule_matches(minimal_lab: LabHandle, port: int) -> None:
    logged = _dropped(minimal_lab, port)
    assert (logged["rule"], logged["dropped"]) == ("drop-8085-or-8086", "policy_drop")


@allure.feature("forwarding")
@allure.story("F2: AND across criteria")
def test_every_criterion_of_a_rule_must_hold(minimal_lab: LabHandle,
                                             second_source: str) -> None:
    """Rule 13 drops 8084 from 10.10.1.11 only: the same port from another workload
    address falls through to rule 40 (Direct), in the kernel. Were the kernel's rule
    13 to drop its source criterion, user space would still send that flow Direct
    (it decides again what the kernel sends up, and re-injects it: "the kernel was
    behind"), so the delivery alone cannot tell; rule 40's counter can."""
    logged = _dropped(minimal_lab, 8084)
    assert logged["rule"] == "drop-8084-from-one"
    before_40 = nft_counter(minimal_lab, "cc1", "rule_40")
    seen = _delivered(minimal_lab, 8084, source=second_source)
    assert seen["src"] == SERVICE
    assert nft_counter(minimal_lab, "cc1", "rule_40") > before_40, "8084 matched rule 40"


@allure.feature("forwarding")
@allure.story("F4: ZIA unreachable: fail-open goes Direct, fail-close drops (routed)")
def test_fail_open_goes_direct_and_fail_close_drops(minimal_lab: LabHandle) -> None:
    """No ZIA edge exists in this lab, so neither gateway ever has a tunnel: `open`
    (fail-open) sends its flows Direct with SNAT; the default one (fail-close) drops."""
    switched = minimal_lab.wait_event("cc1", "zia.fail_open", lambda e: e["gateway"] == "open",
                                      after=Mark.BEGINNING)
    assert switched["direct"] is True
    opened = nft_counter(minimal_lab, "cc1", "fail_open_direct")
    seen = _delivered(minimal_lab, 8087)
    assert seen["src"] == SERVICE
    assert nft_counter(minimal_lab, "cc1", "fail_open_direct") > opened
    before = counted(minimal_lab, MGMT, "dropped_zia_fail_close")
    logged = _dropped(minimal_lab, 8088)
    assert (logged["rule"], logged["gateway"], logged["dropped"]) == (
        "zia-closed-8088", "default", "zia_fail_close")
    assert counted(minimal_lab, MGMT, "dropped_zia_fail_close") > before  # each packet


@allure.feature("forwarding")
@allure.story("F1: a connection is decided once, on its first packet")
def test_an_unanswered_direct_flow_is_decided_once(minimal_lab: LabHandle,
                                                   pcap_dir: Path) -> None:
    """A UDP flow nobody answers stays `new` in conntrack for its whole life (port 9 on
    web is closed), yet it is one connection: rule 40 (Direct) decides it on its first
    packet, and the rest leave on that decision, SNATed to the service address, counted
    neither as rule 40's again nor as a fail-open gateway's Direct (`fail_open_direct`,
    which only a fail-open gateway's flows may grow: test_fail_open_goes_direct...).
    cc1 has the routed fast path on (runtime.routed_fast_path): its tc program carries
    the 19 later datagrams, which must arrive as the kernel's rules would send them (the
    same source, TTL and valid checksums, which web's kernel checks before it answers
    port unreachable)."""
    fast = minimal_lab.wait_event("cc1", "dataplane.routed_fast_path", after=Mark.BEGINNING)
    assert fast["state"] == "on", fast
    sport, sent = 40000 + uuid.uuid4().int % 20000, 20  # a new flow on a rerun too
    rule_40 = nft_counter(minimal_lab, "cc1", "rule_40")
    fail_open = nft_counter(minimal_lab, "cc1", "fail_open_direct")
    carried = counted(minimal_lab, MGMT, "routed_fast_path_packets")
    udp = udp_counters(minimal_lab, "web")
    at_web = pcap_dir / "web-eth0.pcap"
    with minimal_lab.capture("web", "eth0", at_web) as capture:
        send_from(minimal_lab, "workload1", IP(src=WORKLOAD, dst=WEB)
                  / UDP(sport=sport, dport=9) / Raw(b"decided-once"), count=sent, interval=0.01)
        path_window("the last datagram reaching the web server").wait()
    attach_pcap(at_web, "web eth0")
    assert capture.dropped == 0, "the capture lost packets: it cannot count them"
    arrived = [p for p in rdpcap(str(at_web)) if UDP in p and p[UDP].dport == 9
               and p[UDP].sport == sport and p[IP].dst == WEB]
    assert len(arrived) == sent, f"{len(arrived)} of {sent} reached the web server"
    assert {(p[IP].src, p[IP].ttl, bytes(p[UDP].payload)) for p in arrived} == {
        (SERVICE, arrived[0][IP].ttl, b"decided-once")}
    after = udp_counters(minimal_lab, "web")
    assert (after["NoPorts"] - udp["NoPorts"], after["InCsumErrors"] - udp["InCsumErrors"]) == (
        sent, 0)
    assert nft_counter(minimal_lab, "cc1", "rule_40") == rule_40 + 1
    assert nft_counter(minimal_lab, "cc1", "fail_open_direct") == fail_open
    assert counted(minimal_lab, MGMT, "routed_fast_path_packets") == carried + sent - 1


NOBODY = "198.18.10.99"  # on the internet link, held by no node: nothing ever answers


@allure.feature("forwarding")
@allure.story("F1: a connection is decided once, on its first packet")
def test_an_unanswered_direct_tcp_connection_is_decided_once(minimal_lab: LabHandle,
                                                             pcap_dir: Path) -> None:
    """The same for TCP, which the routed fast path never carries (the rules' own path):
    five SYNs of one connection to an address nobody holds stay `new` in conntrack;
    each is forwarded from the service address, rule 40 counts the connection once."""
    sport, sent = 40000 + uuid.uuid4().int % 20000, 5
    rule_40 = nft_counter(minimal_lab, "cc1", "rule_40")
    fail_open = nft_counter(minimal_lab, "cc1", "fail_open_direct")
    at_cc1 = pcap_dir / "cc1-eth-svc.pcap"
    with minimal_lab.capture("cc1", "eth-svc", at_cc1) as capture:
        send_from(minimal_lab, "workload1", IP(src=WORKLOAD, dst=NOBODY)
                  / TCP(sport=sport, dport=8083, flags="S", seq=1000), count=sent,
                  interval=0.05)
        path_window("the last SYN leaving cc1").wait()
    attach_pcap(at_cc1, "cc1 eth-svc")
    assert capture.dropped == 0, "the capture lost packets: it cannot count them"
    syns = [p for p in rdpcap(str(at_cc1)) if TCP in p and p[IP].dst == NOBODY
            and p[TCP].dport == 8083]
    assert len([p for p in syns if p[IP].src == WORKLOAD and p[TCP].sport == sport]) == sent
    assert len([p for p in syns if p[IP].src == SERVICE]) == sent, "forwarded, SNATed"
    assert nft_counter(minimal_lab, "cc1", "rule_40") == rule_40 + 1
    assert nft_counter(minimal_lab, "cc1", "fail_open_direct") == fail_open


@allure.feature("forwarding")
@allure.story("F7: a dropped flow has a session-log record")
def test_each_dropped_flow_is_in_the_session_log_once(minimal_lab: LabHandle) -> None:
    """Three GETs to a dropped port (curl retries its SYN): one record per flow."""
    mark = minimal_lab.mark()
    for n in range(3):
        _get(minimal_lab, 8081, f"/log-{n}", wait=1)
    path_window("the session log lines of the last flow").wait()
    records = [e for e in minimal_lab.events("cc1", "flow.new", after=mark) if e["dport"] == 8081]
    assert len(records) == 3, records
    assert len({e["sport"] for e in records}) == 3
    assert {(e["method"], e["rule"], e["src"], e["dst"]) for e in records} == {
        ("DROP", "drop-8081", WORKLOAD, WEB)}


def _inject_from_fabric(lab: LabHandle, src: str, dst: str, dport: int, sport: int) -> None:
    """A SYN with any source, put on the service link by the VPC router towards cc1 (what
    a load balancer or a route would deliver)."""
    frame = (Ether(src=mac_of(lab, "fabric", "eth-svc"), dst=mac_of(lab, "cc1", "eth-svc"))
             / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags="S"))
    send_from(lab, "fabric", frame, count=3, iface="eth-svc")


@allure.feature("attacks")
@allure.story("Spec 2.5: a public source on the service interface is dropped and counted")
def test_public_source_on_the_service_interface_is_dropped(minimal_lab: LabHandle,
                                                           pcap_dir: Path) -> None:
    """Rule 11 (Direct 8082) names no source, so without the connector's own check the
    SYN would leave SNATed and the web server would see it."""
    public, sport = "198.51.100.7", 47001
    before = counted(minimal_lab, MGMT, "dropped_public_source")
    mark = minimal_lab.mark()
    at_cc1, at_web = pcap_dir / "cc1-eth-svc.pcap", pcap_dir / "web-eth0.pcap"
    with minimal_lab.capture("cc1", "eth-svc", at_cc1), minimal_lab.capture("web", "eth0", at_web):
        _inject_from_fabric(minimal_lab, public, WEB, 8082, sport)
        logged = minimal_lab.wait_event("cc1", "flow.new", lambda e: e["sport"] == sport,
                                        after=mark)
        path_window("a forwarded SYN reaching the web server").wait()
    attach_pcap(at_cc1, "cc1 eth-svc")
    attach_pcap(at_web, "web eth0")
    arrived = [p for p in rdpcap(str(at_cc1)) if TCP in p and p[IP].src == public]
    assert len(arrived) >= 1, "the spoofed SYN never reached cc1"
    assert (logged["rule"], logged["dropped"]) == ("Public Source Drop", "public_source")
    leaked = [p for p in rdpcap(str(at_web)) if TCP in p and p[TCP].sport == sport]
    assert leaked == [], f"{len(leaked)} forwarded to the web server"
    assert counted(minimal_lab, MGMT, "dropped_public_source") >= before + 1


@allure.feature("attacks")
@allure.story("Spec 2.5: a public source on the service interface is dropped and counted")
def test_each_datagram_from_a_public_source_is_dropped(minimal_lab: LabHandle,
                                                       pcap_dir: Path) -> None:
    """The same for a UDP flow of 20 datagrams to web:9 (rule 40 would take it Direct):
    the connection is user space's (spec 2.5), so each datagram is dropped there and
    counted, none forwarded, the routed fast path's included (it carries only what the
    kernel decided Direct and SNATed)."""
    public, sport, sent = "198.51.100.8", 40000 + uuid.uuid4().int % 20000, 20
    before = counted(minimal_lab, MGMT, "dropped_public_source")
    mark = minimal_lab.mark()
    at_cc1, at_web = pcap_dir / "cc1-eth-svc.pcap", pcap_dir / "web-eth0.pcap"
    cc1 = mac_of(minimal_lab, "cc1", "eth-svc")
    frame = (Ether(src=mac_of(minimal_lab, "fabric", "eth-svc"), dst=cc1)
             / IP(src=public, dst=WEB) / UDP(sport=sport, dport=9) / Raw(b"public"))
    with (minimal_lab.capture("cc1", "eth-svc", at_cc1) as capture,
          minimal_lab.capture("web", "eth0", at_web)):
        send_from(minimal_lab, "fabric", frame, count=sent, iface="eth-svc", interval=0.01)
        logged = minimal_lab.wait_event("cc1", "flow.new", lambda e: e["sport"] == sport,
                                        after=mark)
        path_window("a forwarded datagram reaching the web server").wait()
    attach_pcap(at_cc1, "cc1 eth-svc")
    attach_pcap(at_web, "web eth0")
    assert capture.dropped == 0, "the capture lost packets: it cannot count them"
    arrived = [p for p in rdpcap(str(at_cc1)) if UDP in p and p[IP].src == public
               and p[Ether].dst == cc1]  # not what cc1 would forward out of the same link
    assert len(arrived) == sent, f"{len(arrived)} of {sent} reached cc1"
    assert (logged["rule"], logged["dropped"]) == ("Public Source Drop", "public_source")
    leaked = [p for p in rdpcap(str(at_web)) if UDP in p and p[UDP].sport == sport]
    assert leaked == [], f"{len(leaked)} forwarded to the web server"
    assert counted(minimal_lab, MGMT, "dropped_public_source") == before + sent


POOL_PREFIX = "10.254."


@allure.feature("zpa")
@allure.story("D4: a synthetic address never leaves the connector without a broker")
@pytest.mark.parametrize("kind", ["stray", "live"])
def test_pool_addresses_are_dropped_without_a_broker(minimal_lab: LabHandle, pcap_dir: Path,
                                                     kind: str) -> None:
    """Stray (no mapping) is dropped by the predefined rule; live (a name this connector
    answered) has no broker to go to here. Either way nothing leaves for the internet:
    the fabric's way out (eth-edge) is where a forwarded packet would be seen."""
    if kind == "live":
        answer = minimal_lab.exec("workload1", "dig", "+short", "+time=2", "+tries=1",
                                  f"@{SERVICE}", "app-a.corp.example").stdout.split()
        assert len(answer) == 1, answer
        assert answer[0].startswith(POOL_PREFIX), answer
        target, reason = answer[0], "zpa_no_broker"
    else:
        target, reason = "10.254.31.250", "stray_pool"
    before = counted(minimal_lab, MGMT, f"dropped_{reason}")
    mark = minimal_lab.mark()
    out = pcap_dir / "fabric-eth-edge.pcap"
    with minimal_lab.capture("fabric", "eth-edge", out):
        reached = minimal_lab.exec("workload1", "curl", "-s", "-m", "2", f"http://{target}/",
                                   check=False).ok
        logged = minimal_lab.wait_event("cc1", "flow.new", lambda e: e["dst"] == target,
                                        after=mark)
        path_window("a forwarded packet crossing the fabric").wait()
    attach_pcap(out, "fabric eth-edge")
    assert not reached
    assert logged["dropped"] == reason
    leaked = [p for p in rdpcap(str(out)) if IP in p and p[IP].dst.startswith(POOL_PREFIX)]
    assert leaked == [], f"{len(leaked)} packets for pool addresses left the VPC"
    assert counted(minimal_lab, MGMT, f"dropped_{reason}") >= before + 1
