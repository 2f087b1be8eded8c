"""GENEVE conformance (spec §10, G1-G5) and the three paths through the GWLB lab.

GENEVE is sent by hand from the GWLB's node (lab.traffic.geneve_probe) and
judged by what came back to that socket; drops are judged by the connector's
own counters read over its management interface, and by the far side's logs.
"""

from __future__ import annotations

from pathlib import Path

import allure
import pytest
from scapy.layers.inet import IP, UDP
from scapy.utils import rdpcap

from lab.api import LabHandle
from suites.fixtures.allure_hooks import attach_pcap
from suites.functional.connector.gwlb_helpers import geneve_probe, metrics

# Tier: from the gwlb_lab fixture (netns and docker).
CC1 = "10.10.3.31"


@allure.feature("geneve")
def test_G1_G2_valid_packet_is_answered_with_the_identical_header(  # noqa: N802
        gwlb_lab: LabHandle) -> None:
    report = geneve_probe(gwlb_lab, CC1)
    reply = report.get("reply")
    assert reply is not None, "no GENEVE reply to a valid packet"
    assert reply["same_header"], f"header changed: {report['sent_header']} -> {reply['header']}"
    assert reply["from"] == [CC1, 6081], "outer source must be the target, port 6081"
    assert reply["to_port"] == report["source_port"], "outer ports must be kept"
    assert reply["inner_src"] == "198.18.53.53", "the DNS answer comes from the queried address"


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
def test_G3_ipv6_inner_payload_is_accepted_not_malformed(gwlb_lab: LabHandle) -> None:  # noqa: N802
    before = metrics(gwlb_lab, "cc1")
    geneve_probe(gwlb_lab, CC1, "--inner", "dns6", "--wait", "0.5")
    after = metrics(gwlb_lab, "cc1")
    assert after.get("geneve_rx_ipv6_total", 0) == before.get("geneve_rx_ipv6_total", 0) + 1
    assert after.get("geneve_rx_malformed_total", 0) == before.get("geneve_rx_malformed_total", 0)
    # The chosen IPv6 behaviour (docs/decisions.md): counted, then dropped as having no path.
    assert after.get("dropped_ipv6_no_path_total", 0) == \
        before.get("dropped_ipv6_no_path_total", 0) + 1


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
    out = gwlb_lab.exec("workload1", "curl", "-s", "-m", "5",
                        "http://198.18.10.10/direct").stdout
    assert '"seen_source"' in out
    seen = gwlb_lab.wait_event("web", "http.request",
                               lambda e: e.get("path") == "/direct", timeout=5)["src"]
    assert seen in ("10.10.3.31", "10.10.3.32"), f"web saw {seen}, not a service address"


@allure.feature("forwarding")
def test_default_zia_rule_goes_through_the_tunnel_to_the_primary_edge(
        gwlb_lab: LabHandle) -> None:
    out = gwlb_lab.exec("workload1", "curl", "-s", "-m", "5", "http://198.18.10.20/zia").stdout
    assert "198.19.1.1" in out, f"web2 should see the ZIA edge's address: {out}"
    event = gwlb_lab.wait_event("zia1", "zia.transaction",
                                lambda e: e.get("dst") == "198.18.10.20", timeout=5)
    assert event["src"] == "10.10.1.11", "the edge must see the workload's own address"
    assert event["tunnel_src"] in ("10.10.3.31", "10.10.3.32")


@allure.feature("dns")
def test_zia_dns_control_resolves_through_the_edge_and_blocks_there(gwlb_lab: LabHandle) -> None:
    answer = gwlb_lab.exec("workload1", "dig", "+short", "+time=3", "+tries=1",
                           "@198.18.53.53", "www.web2.example").stdout.split()
    assert answer == ["198.18.10.20"]
    seen = gwlb_lab.wait_event("dns", "dns.query",
                               lambda e: e.get("qname") == "www.web2.example.", timeout=5)
    assert seen["src"] in ("198.19.1.1", "198.19.1.2"), "the query must leave from a ZIA edge"
    blocked = gwlb_lab.exec("workload1", "dig", "+time=3", "+tries=1", "@198.18.53.53",
                            "ads.zia-blocked.example", check=False).stdout
    assert "timed out" in blocked
    event = gwlb_lab.wait_event("zia1", "zia.dns_blocked", timeout=5)
    assert event["qname"] == "ads.zia-blocked.example"
    reached = [e for e in gwlb_lab.events("dns", "dns.query")
               if e["qname"] == "ads.zia-blocked.example."]
    assert reached == [], "a name blocked at the edge reached the resolver"


@allure.feature("dns")
def test_dns_through_the_gwlb_is_answered_by_the_connector(gwlb_lab: LabHandle) -> None:
    zpa = gwlb_lab.exec("workload1", "dig", "+short", "+time=2", "+tries=1",
                        "@198.51.100.53", "app-a.corp.example").stdout.split()
    assert len(zpa) == 1, f"one synthetic address expected: {zpa}"
    assert zpa[0].startswith("10.254."), f"not from the pool: {zpa}"
    blocked = gwlb_lab.exec("workload1", "dig", "+time=1", "+tries=1", "@198.18.53.53",
                            "x.blocked.example", check=False).stdout
    assert "timed out" in blocked
