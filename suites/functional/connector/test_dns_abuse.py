"""The DNS listener under abuse in the minimal lab (spec §10: A1, A2, A3).

A1: UDP queries with a spoofed public source reach the connector's service
interface and get nothing back: no response leaves for the spoofed victim.
A2: a client in the ACL flooding one name is rate-limited: about one response
in two over the limit comes back truncated (slip 2) and its TCP retry is answered.
A3: ANY over UDP gets the RFC 8482 minimal answer, not the name's records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import allure
import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, UDP
from scapy.utils import rdpcap

from lab.api import LabHandle
from suites.fixtures.allure_hooks import attach_json, attach_pcap
from suites.fixtures.connector_view import counted
from suites.fixtures.spoof import send_from
from suites.fixtures.windows import dns_answer_window

# Tier: from the minimal_lab fixture (netns and docker).

VICTIM = "203.0.113.9"
SERVICE, MGMT = "10.10.3.31", "10.10.2.21"


@allure.feature("abuse")
@pytest.mark.parametrize("name", ["app-a.corp.example", "www.web.example"],
                         ids=["A1-zpa-name", "A1-internet-name"])
def test_A1_spoofed_public_source_gets_no_response(  # noqa: N802
        minimal_lab: LabHandle, tmp_path: Path, name: str) -> None:
    pcap = tmp_path / "cc1-eth-svc.pcap"
    dropped = counted(minimal_lab, MGMT, "dns_guard_drop_silent")
    mark = minimal_lab.mark()
    with minimal_lab.capture("cc1", "eth-svc", pcap):
        send_from(minimal_lab, "workload1", IP(src=VICTIM, dst=SERVICE) / UDP(sport=33333, dport=53)
                  / DNS(rd=1, qd=DNSQR(qname=name, qtype=255)), count=20)
        dns_answer_window("an answer to a spoofed query leaving cc1").wait()
    attach_pcap(pcap, "cc1 eth-svc")
    packets = [p for p in rdpcap(str(pcap)) if IP in p and UDP in p]
    arrived = [p for p in packets if p[IP].src == VICTIM and p[UDP].dport == 53]
    answered = [p for p in packets if p[IP].dst == VICTIM]
    assert len(arrived) == 20, "the spoofed queries never reached the connector"
    assert answered == []
    assert counted(minimal_lab, MGMT, "dns_guard_drop_silent") == dropped + 20
    assert minimal_lab.events("cc1", "dns.query", after=mark) == [], "policy saw a query"


@allure.feature("abuse")
def test_A3_any_over_udp_gets_a_minimal_answer(minimal_lab: LabHandle) -> None:  # noqa: N802
    # dig sends ANY over TCP unless told not to; A3 is about UDP.
    result = minimal_lab.exec("workload1", "dig", "+notcp", "+time=2", "+tries=1", "+noall",
                              "+answer", "@198.18.53.53", "www.web.example", "ANY")
    records = [line.split() for line in result.stdout.splitlines() if line.strip()]
    assert [(r[3], r[4]) for r in records] == [("HINFO", '"RFC8482"')]


FLOODER = "10.10.1.62"  # a second address of workload1: its rate limits stay its own


@pytest.fixture
def flooder(minimal_lab: LabHandle) -> Iterator[str]:
    minimal_lab.exec("workload1", "ip", "addr", "add", f"{FLOODER}/24", "dev", "eth0")
    try:
        yield FLOODER
    finally:
        minimal_lab.exec("workload1", "ip", "addr", "del", f"{FLOODER}/24", "dev", "eth0",
                         check=False)


@allure.feature("abuse")
@allure.story("A2: over the limit, one response in two is TC=1; the TCP retry is answered")
def test_A2_a_client_over_the_limit_gets_tc_and_its_tcp_retry_is_answered(  # noqa: N802
        minimal_lab: LabHandle, flooder: str) -> None:
    """100 queries for one name at once (the limit: 20 answers a second for a /24, one
    second of burst; slip 2, spec §9.4): the first ~20 are answered, and of the rest
    every second one comes back truncated and the others are dropped. The connector's
    own counters must agree with what the client received."""
    name = "rrl-burst.partner.example"  # a ZPA name: answered locally, at once
    slipped = counted(minimal_lab, MGMT, "dns_rrl_slipped")
    dropped = counted(minimal_lab, MGMT, "dns_rrl_dropped")
    out = minimal_lab.exec("workload1", minimal_lab.python, "-m", "lab.traffic.dns_burst",
                           "--server", SERVICE, "--name", name, "--source", flooder,
                           "--count", "100", "--wait", "2").stdout
    seen = json.loads(out)
    attach_json(seen, "what the client received")
    limited = seen["sent"] - seen["answered"]
    assert 20 <= seen["answered"] < 60, seen
    assert seen["truncated"] >= 1, seen
    assert abs(seen["truncated"] - limited / 2) <= 1, seen
    assert counted(minimal_lab, MGMT, "dns_rrl_slipped") - slipped == seen["truncated"]
    assert counted(minimal_lab, MGMT, "dns_rrl_dropped") - dropped == limited - seen["truncated"]
    retry = minimal_lab.exec("workload1", "dig", "+tcp", "+short", "+time=2", "+tries=1",
                             "-b", flooder, f"@{SERVICE}", name).stdout.split()
    assert len(retry) == 1, retry
    assert retry[0].startswith("10.254."), retry
