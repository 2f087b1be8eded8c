"""Every wire parser of the connector survives 100,000 random and mutated inputs (issue #4.6).

A parser may only return its value or its reject value; any exception is a
crash. The inputs are seeded (suites/unit/connector/fuzzing.py), so a failure
repeats. Config files have their own test below, with fewer inputs per run
because each is a whole YAML document (see docs/decisions.md).
"""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP, UDP

from connector.core.model import Transport
from connector.io import dns_plain, dns_wire, geneve, ip_packet, sntp, zia_frame
from connector.io.geneve import GwlbOptions
from connector.service.http_endpoints import request_path
from lab.nodes import ntp_server
from suites.unit.connector.fuzzing import crashes

pytestmark = pytest.mark.unit
COUNT = 100_000

IPV4_UDP = bytes(IP(src="10.10.1.11", dst="198.18.53.53") / UDP(sport=4000, dport=53)
                 / DNS(qd=DNSQR(qname="www.web.example")))
IPV4_TCP = bytes(IP(src="10.10.1.11", dst="198.18.10.10") / TCP(sport=4000, dport=80, flags="S"))
GENEVE = geneve.build_header(7, geneve.PROTO_IPV4, GwlbOptions(1, 2, 3)) + IPV4_UDP


NTP_REQUEST = sntp.request(1.8e9)


def _sntp(data: bytes) -> object:
    return sntp.read_reply(data, NTP_REQUEST, 1.8e9)


def _dns(data: bytes) -> object:
    return dns_wire.parse_query(data, IPv4Address("10.10.1.11"), IPv4Address("198.18.53.53"),
                                Transport.UDP)


@pytest.mark.parametrize(("parse", "seeds", "accepted"), [
    (geneve.parse, [GENEVE], (geneve.GenevePacket, geneve.GeneveReject)),
    (ip_packet.read_packet, [IPV4_UDP, IPV4_TCP], (ip_packet.PacketInfo, ip_packet.PacketReject)),
    (zia_frame.decode, [zia_frame.encode(zia_frame.Frame(zia_frame.FrameType.DATA, 9, 1,
                                                         IPV4_TCP))],
     (zia_frame.Frame, zia_frame.FrameReject)),
    (_dns, [IPV4_UDP[28:]], (dns_wire.ParsedQuery, type(None))),
    (dns_plain.parse_plain, [IPV4_UDP[28:]], (dns_plain.PlainQuery, type(None))),
    (_sntp, [ntp_server.reply(NTP_REQUEST, 1.8e9) or b""], (sntp.Sample, sntp.SntpReject)),
    (request_path, [b"GET /?cchealth HTTP/1.1\r\nHost: x\r\n\r\n"], (str, type(None))),
], ids=["geneve", "ip-packet", "zia-frame", "dns-query", "dns-plain-query",
        "sntp-reply", "http-request"])
def test_parser_survives_100k_random_and_mutated_inputs(parse, seeds, accepted) -> None:  # type: ignore[no-untyped-def]
    kinds, bad = crashes(parse, seeds, COUNT, accepted)
    assert bad == [], f"{len(bad)} crash(es), first inputs: {bad}"
    assert sum(kinds.values()) == COUNT
    assert len(kinds) == 2, f"the inputs never reached one of the outcomes: {kinds}"
