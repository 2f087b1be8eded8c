"""The flood profiles: each a list of streams (template frame, field program, share).

Templates come from the packet factories (`lab/traffic/packets.py`) inside an
Ethernet header; field programs vary what a real flood varies. Addresses
default to the lab contract and are parameters, so one profile serves every
topology:

- `legit-mix`: workloads' DNS queries, web SYNs and UDP, ports and ids varying
- `spoofed-flood`: UDP from 4096 forged sources counting up from `forged`
- `dns-flood`: DNS queries for ever new names (qaaa.flood.web.example: three
  letters counting on their own, 26 x 25 x 23 names) to a resolver; over IPv6
  when the source and resolver are IPv6 addresses
- `dns-reflection`: ANY queries with the victim's address as source
- `syn-flood`: SYNs to the web server from 251 forged sources (from `forged`) and
  counting ports
- `ssh-attempts`: SYNs to port 22 of a target from counting ports
- `udp-stream`: 64 flows of 110-byte UDP packets to the web server's discard
  port (9), what the data-plane benchmark forwards
- `geneve-stream`: the same packets as a load balancer hands them to a
  connector (`tunnel`): GENEVE on UDP 6081 with AWS's three options
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from lab.traffic import packets
from lab.traffic.flood.fields import ETH_LEN, Field, FieldProgram

SRC_MAC, DST_MAC = "02:cc:1a:b0:00:01", "02:cc:1a:b0:00:02"
FLOOD_NAME = "qaaa.flood.web.example"


@dataclass(frozen=True, slots=True)
class Stream:
    template: bytes
    program: FieldProgram
    share: int = 1  # relative number of frames in the mix


@dataclass(frozen=True, slots=True)
class Targets:
    """The addresses a profile aims at (defaults: the lab contract)."""

    src: str = packets.WORKLOAD
    resolver: str = packets.SERVICE
    web: str = packets.WEB
    victim: str = packets.VICTIM
    ssh: str = packets.SERVICE
    tunnel: str = packets.SERVICE  # the connector's GENEVE endpoint (geneve-stream)
    forged: str = "198.51.100.1"  # first forged source of the spoofing profiles (counting up)
    src_mac: str = SRC_MAC
    dst_mac: str = DST_MAC


def _frame(targets: Targets, packet: Packet) -> bytes:
    return bytes(Ether(src=targets.src_mac, dst=targets.dst_mac) / packet)


def _offsets(frame_packet: Packet) -> dict[str, int]:
    """Where each field the programs vary starts in the frame's bytes."""
    whole = bytes(frame_packet)
    network = frame_packet[IPv6] if IPv6 in frame_packet else frame_packet[IP]
    places = {"ip": len(whole) - len(bytes(network))}
    for layer, name in ((UDP, "l4"), (TCP, "l4"), (DNS, "dns")):
        if layer in frame_packet:
            places.setdefault(name, len(whole) - len(bytes(frame_packet[layer])))
    return places


def _stream(targets: Targets, packet: Packet, fields: Callable[[dict[str, int], bytes],
            list[Field]], share: int = 1) -> Stream:
    framed = Ether(src=targets.src_mac, dst=targets.dst_mac) / packet
    raw = bytes(framed)
    return Stream(raw, FieldProgram(tuple(fields(_offsets(framed), raw))), share)


def _sport(at: dict[str, int], count: int = 4096) -> Field:
    return Field("sport", at["l4"], 2, 20000, count)


def _src(at: dict[str, int], first: str, count: int = 4096) -> Field:
    value = int.from_bytes(bytes(int(p) for p in first.split(".")), "big")
    return Field("src", at["ip"] + 12, 4, value, count)


def _dns_id(at: dict[str, int]) -> Field:
    return Field("dns.id", at["dns"], 2, 1, 4096, step=7)


def _qname_letters(raw: bytes) -> list[Field]:
    """Three letters of the first label, each cycling through its own run of a-z."""
    at = raw.index(b"qaaa") + 1
    return [Field(f"qname{i}", at + i, 1, ord("a"), count) for i, count in
            enumerate((26, 25, 23))]


def legit_mix(t: Targets) -> list[Stream]:
    return [
        _stream(t, packets.dns_query("www.web.example", src=t.src, dst=t.resolver),
                lambda at, _: [_sport(at), _dns_id(at)], share=2),
        _stream(t, packets.tcp(src=t.src, dst=t.web), lambda at, _: [_sport(at)]),
        _stream(t, packets.udp(src=t.src, dst=t.web, dport=443, payload=b"q" * 64),
                lambda at, _: [_sport(at)]),
    ]


def spoofed_flood(t: Targets) -> list[Stream]:
    return [_stream(t, packets.udp(src=t.forged, dst=t.web, dport=9, payload=b"x" * 18),
                    lambda at, _: [_src(at, t.forged), _sport(at, 97)])]


def dns_flood(t: Targets) -> list[Stream]:
    return [_stream(t, packets.dns_query(FLOOD_NAME, src=t.src, dst=t.resolver),
                    lambda at, raw: [_sport(at), _dns_id(at), *_qname_letters(raw)])]


def dns_reflection(t: Targets) -> list[Stream]:
    query = (IP(src=t.victim, dst=t.resolver) / UDP(sport=4444, dport=53)
             / DNS(rd=1, qd=DNSQR(qname="www.web.example", qtype=255)))  # ANY
    return [_stream(t, query, lambda at, _: [_dns_id(at)])]


def syn_flood(t: Targets) -> list[Stream]:
    return [_stream(t, packets.tcp(src=t.forged, dst=t.web),
                    lambda at, _: [_src(at, t.forged, 251), _sport(at, 4093)])]


def ssh_attempts(t: Targets) -> list[Stream]:
    return [_stream(t, packets.tcp(src=t.src, dst=t.ssh, dport=22),
                    lambda at, _: [_sport(at)])]


STREAM_FLOWS = 64
STREAM_PAYLOAD = b"s" * 82  # 110-byte IP packets


def _stream_packet(t: Targets) -> Packet:
    """The benchmark's packet. No UDP checksum (0, allowed over IPv4), so the inner
    packet of `geneve-stream` stays valid while its source port counts."""
    return IP(src=t.src, dst=t.web) / UDP(sport=20000, dport=9, chksum=0) / STREAM_PAYLOAD


def udp_stream(t: Targets) -> list[Stream]:
    return [_stream(t, _stream_packet(t), lambda at, _: [_sport(at, STREAM_FLOWS)])]


def geneve_stream(t: Targets) -> list[Stream]:
    outer = packets.geneve(_stream_packet(t), src=t.src, dst=t.tunnel, sport=6081)
    inner_sport = len(bytes(outer)) - len(bytes(_stream_packet(t))) + 20
    return [_stream(t, outer, lambda at, _: [
        Field("inner.sport", ETH_LEN + inner_sport, 2, 20000, STREAM_FLOWS)])]


PROFILES: dict[str, Callable[[Targets], list[Stream]]] = {
    "legit-mix": legit_mix, "spoofed-flood": spoofed_flood, "dns-flood": dns_flood,
    "dns-reflection": dns_reflection, "syn-flood": syn_flood, "ssh-attempts": ssh_attempts,
    "udp-stream": udp_stream, "geneve-stream": geneve_stream,
}
