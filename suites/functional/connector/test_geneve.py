"""GENEVE conformance (spec §10, G1-G5), its sender check (S8b), and the paths through
the GWLB lab.

GENEVE is sent by hand from the GWLB's node (lab.traffic.geneve_probe) and
judged by what came back to that socket and by captures on the wire; drops are
judged by the connector's own counters read over its management interface, its
session log, and by the far side's logs and captures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import allure
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.utils import rdpcap

from lab.api import LabHandle
from lab.events import Mark
from suites.fixtures.allure_hooks import attach_pcap
from suites.fixtures.kernel_stats import udp_counters
from suites.fixtures.windows import dns_answer_window, path_window
from suites.functional.connector.gwlb_helpers import geneve_probe, metrics

# Tier: from the gwlb_lab fixture (netns and docker).
CC1 = "10.10.3.31"
INNER_SPORT = 40200  # lab/traffic/geneve_probe.py's inner UDP source port


@allure.feature("geneve")
def test_G1_G2_valid_packet_is_answered_with_the_identical_header(  # noqa: N802
        gwlb_lab: LabHandle, pcap_dir: Path) -> None:
    pcap = pcap_dir / "gwlb-eth-svc.pcap"
    with gwlb_lab.capture("gwlb", "eth-svc", pcap):
        report = geneve_probe(gwlb_lab, CC1)
    attach_pcap(pcap, "GWLB service interface")
    reply = report.get("reply")
    assert reply is not None, "no GENEVE reply to a valid packet"
    assert reply["same_header"], f"header changed: {report['sent_header']} -> {reply['header']}"
    assert reply["inner_src"] == "198.18.53.53", "the DNS answer comes from the queried address"
    # On the wire: outer addresses swapped, outer ports as the GWLB sent them (6081 and
    # the probe's own source port, reversed).
    packets = [p for p in rdpcap(str(pcap)) if UDP in p]
    sent = [p for p in packets if p[UDP].sport == report["source_port"] and p[IP].dst == CC1]
    back = [p for p in packets if p[IP].src == CC1 and p[UDP].sport == 6081]
    assert len(sent) == 1, [p.summary() for p in packets]
    assert len(back) == 1, [p.summary() for p in packets]
    assert (back[0][IP].src, back[0][IP].dst) == (sent[0][IP].dst, sent[0][IP].src)
    assert (back[0][UDP].sport, back[0][UDP].dport) == (sent[0][UDP].dport, sent[0][UDP].sport)


@pytest.mark.parametrize(("case", "counter"), [
    ("missing_cookie", "geneve_rx_malformed_missing_option"),
    ("version1", "geneve_rx_malformed_version"),
    ("optlen_overrun", "geneve_rx_malformed_opt_len"),
    ("unknown_critical", "geneve_rx_malformed_critical_option")])
@allure.feature("geneve")
def test_G1_malformed_header_is_dropped_and_counted(  # noqa: N802
        gwlb_lab: LabHandle, case: str, counter: str) -> None:
    before = metrics(gwlb_lab, "cc1").get(f"{counter}_total", 0)
    report = geneve_probe(gwlb_lab, CC1, "--case", case, "--wait", "1")
    assert "reply" not in report, f"{case}: the connector answered a malformed packet"
    assert metrics(gwlb_lab, "cc1").get(f"{counter}_total", 0) == before + 1


@allure.feature("geneve")
def test_G3_ipv6_inner_payload_is_accepted_not_malformed(  # noqa: N802
        gwlb_lab: LabHandle, pcap_dir: Path) -> None:
    """An IPv6 inner packet in an IPv4 outer header is parsed, not rejected as malformed.
    The chosen behaviour (docs/decisions.md, "IPv6 inside GENEVE"): this connector has no
    IPv6 path, so the flow is dropped, counted and written to the session log, and
    nothing leaves for it (no reply to the GWLB, nothing out of the service interface)."""
    before = metrics(gwlb_lab, "cc1")
    mark = gwlb_lab.mark()
    pcap = pcap_dir / "cc1-eth-svc.pcap"
    with gwlb_lab.capture("cc1", "eth-svc", pcap):
        report = geneve_probe(gwlb_lab, CC1, "--inner", "dns6", "--wait", "1")
        logged = gwlb_lab.wait_event("cc1", "flow.new", lambda e: e["src"] == "2001:db8:1::11",
                                     after=mark)
        dns_answer_window("anything the connector might send for the IPv6 query").wait()
    attach_pcap(pcap, "cc1 eth-svc")
    after = metrics(gwlb_lab, "cc1")
    assert after.get("geneve_rx_ipv6_total", 0) == before.get("geneve_rx_ipv6_total", 0) + 1
    assert after.get("geneve_rx_malformed_total", 0) == before.get("geneve_rx_malformed_total", 0)
    assert after.get("dropped_ipv6_no_path_total", 0) == \
        before.get("dropped_ipv6_no_path_total", 0) + 1
    assert (logged["method"], logged["dropped"], logged["dport"]) == ("DROP", "ipv6_no_path", 53)
    assert "reply" not in report
    captured = rdpcap(str(pcap))
    packets = [p for p in captured if IP in p]
    arrived = [p for p in packets if UDP in p and p[UDP].dport == 6081 and p[IP].dst == CC1]
    assert len(arrived) == 1, "the probe never reached cc1"
    # What the query could have caused: a GENEVE reply, a DNS query of its own, or the
    # IPv6 packet itself sent on (the probes' and tunnels' own traffic is not its doing).
    caused = [p for p in packets if p[IP].src == CC1 and UDP in p
              and (p[UDP].sport == 6081 or p[UDP].dport == 53)]
    caused += [p for p in captured if IPv6 in p and p[IPv6].src == "2001:db8:1::11"]
    assert caused == [], [p.summary() for p in caused]


@allure.feature("geneve")
def test_G4_an_8500_byte_inner_packet_is_accepted(gwlb_lab: LabHandle) -> None:  # noqa: N802
    # A ZPA name: the connector answers it itself, so the reply proves it read the query.
    report = geneve_probe(gwlb_lab, CC1, "--size", "8500", "--qname", "app-a.corp.example")
    assert report["inner_size"] == 8500
    assert report.get("reply", {}).get("same_header"), "no reply to an 8500-byte inner query"


@allure.feature("geneve")
def test_G5_a_flow_not_seen_from_the_gwlb_is_never_sent_into_it(  # noqa: N802
        gwlb_lab: LabHandle, pcap_dir: Path) -> None:
    before = metrics(gwlb_lab, "cc1").get("dropped_not_from_load_balancer_total", 0)
    pcap = pcap_dir / "gwlb-eth-svc.pcap"
    with gwlb_lab.capture("gwlb", "eth-svc", pcap):
        # Marked like a GENEVE flow's reply, so the kernel routes it to the data plane,
        # which has never seen this flow from the GWLB.
        gwlb_lab.exec("cc1", "ping", "-c", "3", "-i", "0.2", "-W", "1", "-m", "256",
                      "10.10.1.99", check=False)
    attach_pcap(pcap, "GWLB service interface")
    after = metrics(gwlb_lab, "cc1").get("dropped_not_from_load_balancer_total", 0)
    assert after >= before + 3
    into_gwlb = [p for p in rdpcap(str(pcap))
                 if UDP in p and p[IP].src == CC1 and p[UDP].sport == 6081]
    assert into_gwlb == []


@allure.feature("forwarding")
def test_direct_through_the_gwlb_leaves_from_a_connector_service_address(
        gwlb_lab: LabHandle) -> None:
    mark = gwlb_lab.mark()
    out = gwlb_lab.exec("workload1", "curl", "-s", "-m", "5",
                        "http://198.18.10.10/direct").stdout
    assert '"seen_source"' in out
    seen = gwlb_lab.wait_event("web", "http.request", lambda e: e.get("path") == "/direct",
                               after=mark, timeout=5)["src"]
    assert seen in ("10.10.3.31", "10.10.3.32"), f"web saw {seen}, not a service address"


@allure.feature("forwarding")
def test_default_zia_rule_goes_through_the_tunnel_to_the_primary_edge(
        gwlb_lab: LabHandle) -> None:
    mark = gwlb_lab.mark()
    out = gwlb_lab.exec("workload1", "curl", "-s", "-m", "5", "http://198.18.10.20/zia").stdout
    assert "198.19.1.1" in out, f"web2 should see the ZIA edge's address: {out}"
    event = gwlb_lab.wait_event("zia1", "zia.transaction",
                                lambda e: e.get("dst") == "198.18.10.20", after=mark, timeout=5)
    assert event["src"] == "10.10.1.11", "the edge must see the workload's own address"
    assert event["tunnel_src"] in ("10.10.3.31", "10.10.3.32")


@allure.feature("dns")
def test_zia_dns_control_resolves_through_the_edge_and_blocks_there(gwlb_lab: LabHandle) -> None:
    mark = gwlb_lab.mark()
    answer = gwlb_lab.exec("workload1", "dig", "+short", "+time=3", "+tries=1",
                           "@198.18.53.53", "www.web2.example").stdout.split()
    assert answer == ["198.18.10.20"]
    seen = gwlb_lab.wait_event("dns", "dns.query", lambda e: e.get("qname") ==
                               "www.web2.example.", after=mark, timeout=5)
    assert seen["src"] in ("198.19.1.1", "198.19.1.2"), "the query must leave from a ZIA edge"
    mark = gwlb_lab.mark()
    blocked = gwlb_lab.exec("workload1", "dig", "+time=3", "+tries=1", "@198.18.53.53",
                            "ads.zia-blocked.example", check=False).stdout
    assert "timed out" in blocked
    event = gwlb_lab.wait_event("zia1", "zia.dns_blocked", after=mark, timeout=5)
    assert event["qname"] == "ads.zia-blocked.example"
    reached = [e for e in gwlb_lab.events("dns", "dns.query", after=mark)
               if e["qname"] == "ads.zia-blocked.example."]
    assert reached == [], "a name blocked at the edge reached the resolver"


@allure.feature("attacks")
@allure.story("S8b: GENEVE from a sender that is not the load balancer is dropped")
def test_geneve_from_another_sender_is_dropped_and_counted(gwlb_lab: LabHandle,
                                                           pcap_dir: Path) -> None:
    """The same valid probe the GWLB gets answered (test_G1_G2), sent from the VPC
    router instead: it reaches cc1 (capture), is counted, and its inner DNS query never
    reaches the listener (no dns.query decision) nor gets an answer."""
    before = metrics(gwlb_lab, "cc1").get("geneve_rx_not_load_balancer_total", 0)
    mark = gwlb_lab.mark()
    pcap = pcap_dir / "cc1-eth-svc.pcap"
    with gwlb_lab.capture("cc1", "eth-svc", pcap):
        report = geneve_probe(gwlb_lab, CC1, "--qname", "s8b.partner.example", "--wait", "1",
                              node="fabric", source="10.10.3.1")
        dns_answer_window("an answer to the injected query").wait()
    attach_pcap(pcap, "cc1 eth-svc")
    arrived = [p for p in rdpcap(str(pcap)) if UDP in p and p[IP].src == "10.10.3.1"
               and p[UDP].dport == 6081]
    assert len(arrived) == 1, "the injected GENEVE never reached cc1"
    assert "reply" not in report
    assert metrics(gwlb_lab, "cc1").get("geneve_rx_not_load_balancer_total", 0) == before + 1
    assert [e for e in gwlb_lab.events("cc1", "dns.query", after=mark)
            if e["qname"] == "s8b.partner.example"] == []


@allure.feature("attacks")
@allure.story("Spec 2.5: a public inner source over GENEVE is dropped and counted")
def test_public_inner_source_is_dropped_and_logged(gwlb_lab: LabHandle) -> None:
    """A SYN from 198.51.100.7 to web2, carried by the GWLB: without the connector's
    check the default ZIA rule would carry it to the edge, which logs every transaction."""
    before = metrics(gwlb_lab, "cc1").get("dropped_public_source_total", 0)
    mark = gwlb_lab.mark()
    geneve_probe(gwlb_lab, CC1, "--inner", "tcp", "--inner-src", "198.51.100.7",
                 "--inner-dst", "198.18.10.20", "--wait", "0.5")
    logged = gwlb_lab.wait_event("cc1", "flow.new", lambda e: e["src"] == "198.51.100.7",
                                 after=mark)
    path_window("a carried SYN reaching the ZIA edge").wait()
    assert (logged["rule"], logged["dropped"]) == ("Public Source Drop", "public_source")
    assert metrics(gwlb_lab, "cc1").get("dropped_public_source_total", 0) == before + 1
    carried = [e for node in ("zia1", "zia2")
               for e in gwlb_lab.events(node, "zia.transaction", after=mark)
               if e.get("src") == "198.51.100.7"]
    assert carried == []


@allure.feature("dns")
def test_dns_through_the_gwlb_is_answered_by_the_connector(gwlb_lab: LabHandle) -> None:
    zpa = gwlb_lab.exec("workload1", "dig", "+short", "+time=2", "+tries=1",
                        "@198.51.100.53", "app-a.corp.example").stdout.split()
    assert len(zpa) == 1, f"one synthetic address expected: {zpa}"
    assert zpa[0].startswith("10.254."), f"not from the pool: {zpa}"
    blocked = gwlb_lab.exec("workload1", "dig", "+time=1", "+tries=1", "@198.18.53.53",
                            "x.blocked.example", check=False).stdout
    assert "timed out" in blocked


@allure.feature("zpa")
@allure.story("D4 / gap 7: over GENEVE, a live synthetic address with no broker never leaves")
def test_a_live_synthetic_address_is_dropped_without_a_broker(gwlb_lab: LabHandle,
                                                              pcap_dir: Path) -> None:
    """This lab's connectors answer ZPA names but have no broker: a flow to the answer is
    decided ZPA and must be dropped and logged, never written to the kernel (where the
    Direct path would SNAT it out). The fabric's way out is where it would be seen."""
    answer = gwlb_lab.exec("workload1", "dig", "+short", "+time=2", "+tries=1",
                           "@198.51.100.53", "app-a.corp.example").stdout.split()
    assert len(answer) == 1, answer
    assert answer[0].startswith("10.254."), answer
    mark = gwlb_lab.mark()
    out = pcap_dir / "fabric-eth-edge.pcap"
    with gwlb_lab.capture("fabric", "eth-edge", out):
        reached = gwlb_lab.exec("workload1", "curl", "-s", "-m", "2", f"http://{answer[0]}/",
                                check=False).ok
        logged = _logged_on_either(gwlb_lab, answer[0], mark)
        path_window("a forwarded packet leaving the VPC").wait()
    attach_pcap(out, "fabric eth-edge")
    assert not reached
    assert (logged["method"], logged["dropped"]) == ("ECZPA", "zpa_no_broker")
    leaked = [p for p in rdpcap(str(out)) if IP in p and p[IP].dst.startswith("10.254.")]
    assert leaked == [], f"{len(leaked)} packets for the synthetic address left the VPC"


def _logged_on_either(lab: LabHandle, dst: str, mark: Mark) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for node in ("cc1", "cc2"):
            found = [e for e in lab.events(node, "flow.new", after=mark) if e["dst"] == dst]
            if found:
                return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no connector logged the flow to {dst}")


def _forty_to_cc1(lab: LabHandle, pcap: Path, at: str, src: str, dst: str, dport: int
                  ) -> tuple[dict[str, float], dict[str, float]]:
    """40 datagrams of one UDP flow in GENEVE from the GWLB's address to cc1, captured on
    `at`'s eth0 into `pcap`; cc1's metrics before and after."""
    before = metrics(lab, "cc1")
    with lab.capture(at, "eth0", pcap) as capture:
        geneve_probe(lab, CC1, "--inner", "udp", "--inner-src", src, "--inner-dst", dst,
                     "--dport", str(dport), "--source-port", str(dport + 36000),
                     "--count", "40", "--after-first", "0.5", "--wait", "0.5")
    attach_pcap(pcap, f"{at}: the flow's packets")
    assert capture.dropped == 0, "the capture lost packets: it cannot count them"
    return before, metrics(lab, "cc1")


@allure.feature("geneve")
def test_a_direct_udp_flow_is_carried_by_the_kernel_after_its_first_packet(
        gwlb_lab: LabHandle, pcap_dir: Path) -> None:
    """cc1 has the GENEVE fast path on (gwlb-cc1.yaml): user space validates, decides and
    logs a flow's first packet, the kernel carries the rest (docs/decisions.md): past the
    TUN, by the program itself, once the rules decided the connection Direct on that first
    packet. The far side sees every packet, SNATed as Direct, with one TTL, and its kernel
    finds each whole (it checks a datagram to a closed port before it answers); the
    counters and the session log read as if user space had seen each, and say how many
    it did not."""
    udp = udp_counters(gwlb_lab, "web")
    mark = gwlb_lab.mark()
    pcap = pcap_dir / "web-udp-5001.pcap"
    before, after = _forty_to_cc1(gwlb_lab, pcap, "web", "10.10.1.78", "198.18.10.10", 5001)
    arrived = [p for p in rdpcap(str(pcap)) if UDP in p and p[UDP].dport == 5001]
    assert len(arrived) == 40, "every packet of the flow reached web"
    assert {(p[IP].src, p[IP].ttl) for p in arrived} == {(CC1, arrived[0][IP].ttl)}, \
        "Direct: SNAT to the service address, the TTL lowered once like the first's"
    web = udp_counters(gwlb_lab, "web")
    assert (web["NoPorts"] - udp["NoPorts"], web["InCsumErrors"] - udp["InCsumErrors"]) == (
        40, 0), "web's kernel took all 40, none with a broken checksum"

    def grew(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)
    assert grew("geneve_rx_packets_total") == 40
    assert grew("geneve_rx_fast_path_total") == 39, "all but the first, by the kernel"
    assert grew("geneve_fast_path_direct_packets_total") == 39, "past the TUN, by the program"
    logged = [e for e in gwlb_lab.events("cc1", "flow.new", after=mark)
              if e.get("src") == "10.10.1.78" and e.get("dport") == 5001]
    assert [(e["method"], e["rule"]) for e in logged] == [("DIRECT", "udp-direct")]


@allure.feature("geneve")
def test_a_zia_udp_flow_is_framed_into_the_tunnel_by_the_kernel_after_its_first_packet(
        gwlb_lab: LabHandle, pcap_dir: Path) -> None:
    """cc1's fast path also carries a flow user space sent into a UDP ZIA tunnel: its
    later packets are decapsulated and framed to the edge by the program, never meeting
    user space. The edge's tunnel port sees 40 frames from cc1's service address, each
    headed as the lab's tunnel writes them ("ZT", version 1, DATA); the edge carries all
    40 to web2, whose kernel finds each whole; the counters read as if user space had
    framed each, and say how many it did not."""
    udp = udp_counters(gwlb_lab, "web2")
    mark = gwlb_lab.mark()
    pcap = pcap_dir / "zia1-tunnel.pcap"
    before, after = _forty_to_cc1(gwlb_lab, pcap, "zia1", "10.10.1.79", "198.18.10.20", 5002)
    frames = [bytes(p[UDP].payload) for p in rdpcap(str(pcap))
              if UDP in p and p[UDP].dport == 6789 and p[IP].src == CC1
              and bytes(p[UDP].payload)[3:4] == b"\x01"]  # DATA: not the keepalives
    assert len(frames) == 40, "every packet of the flow reached the edge, framed"
    assert {f[:4] for f in frames} == {b"ZT\x01\x01"}
    inner = [IP(f[12:]) for f in frames]
    assert {(p.src, p.dst, p[UDP].sport, p[UDP].dport) for p in inner} == {
        ("10.10.1.79", "198.18.10.20", INNER_SPORT, 5002)}, "the workload's packets, unchanged"
    web2 = udp_counters(gwlb_lab, "web2")
    assert (web2["NoPorts"] - udp["NoPorts"], web2["InCsumErrors"] - udp["InCsumErrors"]) == (
        40, 0), "web2's kernel took all 40, none with a broken checksum"

    def grew(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)
    assert grew("geneve_rx_packets_total") == 40
    assert grew("zia_tx_packets_total") == 40
    assert grew("zia_tx_fast_path_total") == 39, "all but the first, framed by the kernel"
    logged = [e for e in gwlb_lab.events("cc1", "flow.new", after=mark)
              if e.get("src") == "10.10.1.79" and e.get("dport") == 5002]
    assert [(e["method"], e["gateway"]) for e in logged] == [("ZIA", "default")]


@allure.feature("geneve")
def test_an_http_exchange_through_the_fast_path_completes(gwlb_lab: LabHandle) -> None:
    """A TCP flow through cc1: its handshake in user space, then its request and ACKs
    by the kernel (SYN, FIN and RST stay in user space); the exchange still completes."""
    before = metrics(gwlb_lab, "cc1")
    for attempt in range(16):  # the GWLB spreads flows by 5-tuple: until one lands on cc1
        out = json.loads(gwlb_lab.exec("workload1", "curl", "-s", "-m", "5",
                                       f"http://198.18.10.10/fast-{attempt}").stdout)
        if out["seen_source"] == CC1:
            break
    else:
        pytest.fail("16 flows, none through cc1")
    grew = metrics(gwlb_lab, "cc1").get("geneve_rx_fast_path_total", 0.0) - before.get(
        "geneve_rx_fast_path_total", 0.0)
    assert grew >= 1, "the request, at least, was carried by the kernel"
