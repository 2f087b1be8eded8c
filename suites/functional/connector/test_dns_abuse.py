"""The DNS listener under abuse in the minimal lab (spec §10: A1, A3).

A1: UDP queries with a spoofed public source reach the connector's service
interface and get nothing back: no response leaves for the spoofed victim.
A3: ANY over UDP gets the RFC 8482 minimal answer, not the name's records.
"""

from __future__ import annotations

from pathlib import Path

import allure
import pytest
from scapy.layers.inet import IP, UDP
from scapy.utils import rdpcap

from lab.api import LabHandle
from suites.fixtures.allure_hooks import attach_pcap

# Tier: from the minimal_lab fixture (netns and docker).

VICTIM = "203.0.113.9"
SPOOF = ("from scapy.all import IP, UDP, DNS, DNSQR, send; "
         "send(IP(src='{src}', dst='10.10.3.31')/UDP(sport=33333, dport=53)/"
         "DNS(rd=1, qd=DNSQR(qname='{name}', qtype=255)), count=20, verbose=False)")


@allure.feature("abuse")
@pytest.mark.parametrize("name", ["app-a.corp.example", "www.web.example"],
                         ids=["A1-zpa-name", "A1-internet-name"])
def test_A1_spoofed_public_source_gets_no_response(  # noqa: N802
        minimal_lab: LabHandle, tmp_path: Path, name: str) -> None:
    pcap = tmp_path / "cc1-eth-svc.pcap"
    before = len(minimal_lab.events("cc1", "dns.query"))
    with minimal_lab.capture("cc1", "eth-svc", pcap):
        minimal_lab.exec("workload1", minimal_lab.python, "-c", SPOOF.format(src=VICTIM, name=name))
    attach_pcap(pcap, "cc1 eth-svc")
    packets = [p for p in rdpcap(str(pcap)) if IP in p and UDP in p]
    arrived = [p for p in packets if p[IP].src == VICTIM and p[UDP].dport == 53]
    answered = [p for p in packets if p[IP].dst == VICTIM]
    assert len(arrived) == 20, "the spoofed queries never reached the connector"
    assert answered == []
    assert len(minimal_lab.events("cc1", "dns.query")) == before, "policy saw a spoofed query"


@allure.feature("abuse")
def test_A3_any_over_udp_gets_a_minimal_answer(minimal_lab: LabHandle) -> None:  # noqa: N802
    # dig sends ANY over TCP unless told not to; A3 is about UDP.
    result = minimal_lab.exec("workload1", "dig", "+notcp", "+time=2", "+tries=1", "+noall",
                              "+answer", "@198.18.53.53", "www.web.example", "ANY")
    records = [line.split() for line in result.stdout.splitlines() if line.strip()]
    assert [(r[3], r[4]) for r in records] == [("HINFO", '"RFC8482"')]
