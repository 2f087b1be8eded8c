"""The minimal lab's one Direct rule: workload traffic reaches the web server SNATed.

Asserted on what the far side received: the web server's own log of the peer
address, and the packets captured on its interface.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import allure
from scapy.layers.inet import IP, TCP
from scapy.utils import rdpcap

from lab.api import LabHandle
from lab.traffic.expect import Expectation, only
from suites.fixtures.allure_hooks import attach_json, attach_pcap

# Tier: from the minimal_lab fixture (netns and docker).

SERVICE_ADDRESS = "10.10.3.31"
WORKLOAD = "10.10.1.11"
WEB = "198.18.10.10"


@allure.feature("forwarding")
@allure.story("F6: Direct applies SNAT to the service address")
def test_direct_flow_reaches_web_with_service_source(minimal_lab: LabHandle,
                                                     pcap_dir: Path) -> None:
    path = f"/direct-{uuid.uuid4().hex[:8]}"
    pcap = pcap_dir / "web-eth0.pcap"
    mark = minimal_lab.mark()
    with allure.step("send: workload1 GETs the web server"), \
            minimal_lab.capture("web", "eth0", pcap):
        reply = minimal_lab.exec("workload1", "curl", "-s", "-m", "5", f"http://{WEB}{path}")
    attach_pcap(pcap, "web eth0")

    with allure.step("observe: the web server's log of the request"):
        event = minimal_lab.wait_event("web", "http.request", lambda e: e["path"] == path,
                                       after=mark)
        attach_json(event, "web http.request")
    with allure.step("verdict: the source seen is the connector's service address"):
        assert event["src"] == SERVICE_ADDRESS
        assert f'"seen_source": "{SERVICE_ADDRESS}"' in reply.stdout

    with allure.step("verdict: on the wire, only the service address talks to the web server"):
        packets = [p for p in rdpcap(str(pcap)) if IP in p]
        # Who talks to the web server: the host's own chatter on the link (an IGMP
        # report from 0.0.0.0 to 224.0.0.22 now and then) is not part of the claim.
        with_web = [p for p in packets if WEB in (p[IP].src, p[IP].dst)]
        conversation = [Expectation(IP(src=SERVICE_ADDRESS, dst=WEB) / TCP(dport=80)),
                        Expectation(IP(src=WEB, dst=SERVICE_ADDRESS) / TCP(sport=80))]
        verdict = only(conversation, with_web)
        assert verdict.only_this, verdict.describe()
        assert any(p[TCP].flags.S for p in verdict.matched if p[IP].dst == WEB), "no SYN"
        assert all(p[IP].src != WORKLOAD for p in packets)


def test_connector_process_announced_ready(minimal_lab: LabHandle) -> None:
    ready = minimal_lab.events("cc1", "service.ready")
    assert ready, "the connector never wrote service.ready"
