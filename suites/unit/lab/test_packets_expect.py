"""Packet factories and the "this and no other packet" matcher, on built packets."""

from __future__ import annotations

import pytest
from scapy.layers.dns import DNS
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from lab.traffic.expect import Expectation, only
from lab.traffic.packets import VICTIM, WORKLOAD, dns_query, geneve, spoofed, tcp

pytestmark = pytest.mark.unit


def _wire(packet):  # as a capture returns it: built, sent, dissected
    return Ether(bytes(Ether() / packet))


def test_factories_default_to_the_lab_contract() -> None:
    query = _wire(dns_query())
    assert (query[IP].src, query[IP].dst, query[UDP].dport) == (WORKLOAD, "10.10.3.31", 53)
    assert query[DNS].qd[0].qname == b"www.web.example."


def test_spoofed_copy_gets_fresh_checksums() -> None:
    original = dns_query()
    forged = _wire(spoofed(original, VICTIM))
    assert forged[IP].src == VICTIM
    assert original[IP].src == WORKLOAD  # the original is untouched
    rebuilt = IP(bytes(forged[IP]))
    del rebuilt.chksum
    del rebuilt[UDP].chksum
    assert IP(bytes(rebuilt)).chksum == forged[IP].chksum
    assert IP(bytes(rebuilt))[UDP].chksum == forged[UDP].chksum


def test_geneve_carries_the_inner_packet_after_the_aws_options() -> None:
    outer = _wire(geneve(tcp()))
    payload = bytes(outer[UDP].payload)
    words = payload[0] & 0x3F
    assert outer[UDP].dport == 6081
    assert IP(payload[8 + words * 4:])[TCP].dport == 80


def test_match_ignores_ttl_and_checksums_but_not_addresses() -> None:
    expect = Expectation(IP(src=WORKLOAD, dst="198.18.10.10") / TCP(dport=80, flags="S"))
    routed = _wire(tcp())
    routed[IP].ttl = 61
    assert expect.matches(routed)
    assert not expect.matches(_wire(tcp(dport=443)))
    assert not expect.matches(_wire(spoofed(tcp(), VICTIM)))


def test_only_this_and_no_other_packet_within_the_window() -> None:
    expect = Expectation(IP(dst="198.18.10.10") / TCP(dport=80))
    wanted, stray, late = _wire(tcp()), _wire(dns_query()), _wire(tcp())
    wanted.time, stray.time, late.time = 10.0, 11.0, 99.0
    assert only(expect, [wanted, late], window=(0, 20)).only_this
    verdict = only(expect, [wanted, stray], window=(0, 20))
    assert not verdict.only_this
    assert len(verdict.others) == 1
    assert "1 matching, 1 others" in verdict.describe()
    assert not only(expect, [], window=(0, 20)).only_this
    either = [expect, Expectation(IP() / UDP(dport=53))]
    assert only(either, [wanted, stray]).only_this
