"""Packet factories with full defaults: one call gives a sensible lab packet.

Every argument defaults to the lab contract (a workload talking to the web
server, a DNS query to the connector's service address), so a test names only
what matters to it: `tcp(dport=22, dst=ATTACKER_TARGET)`, `spoofed(dns_query(),
VICTIM)`. IP and transport checksums and lengths are left for scapy to fill
when the packet is built, so a changed field never leaves a stale checksum.
"""

from __future__ import annotations

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet, Raw

from lab.wire.geneve import GENEVE_PORT, geneve_header

WORKLOAD = "10.10.1.11"
SERVICE = "10.10.3.31"
GWLB = "10.10.4.10"
WEB = "198.18.10.10"
DNS_SERVER = "198.18.53.53"
VICTIM = "198.18.66.66"
ATTACKER = "198.18.99.99"


def udp(src: str = WORKLOAD, dst: str = WEB, sport: int = 40000, dport: int = 53,
        payload: bytes = b"") -> Packet:
    return IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / Raw(payload)


def tcp(src: str = WORKLOAD, dst: str = WEB, sport: int = 40000, dport: int = 80,
        flags: str = "S", seq: int = 1000) -> Packet:
    return IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags, seq=seq)


def icmp_echo(src: str = WORKLOAD, dst: str = WEB, ident: int = 1, seq: int = 1) -> Packet:
    return IP(src=src, dst=dst) / ICMP(type=8, id=ident, seq=seq)


def dns_query(qname: str = "www.web.example", qtype: str = "A", src: str = WORKLOAD,
              dst: str = SERVICE, sport: int = 40000, qid: int = 0x1234) -> Packet:
    """Over IPv6 when the addresses are IPv6 ones."""
    network = IPv6(src=src, dst=dst) if ":" in dst else IP(src=src, dst=dst)
    return (network / UDP(sport=sport, dport=53)
            / DNS(id=qid, rd=1, qd=DNSQR(qname=qname, qtype=qtype)))


def geneve(inner: Packet, src: str = GWLB, dst: str = SERVICE, cookie: int = 0x0C00C1E5,
           sport: int = 40000) -> Packet:
    """`inner` as the GWLB sends it: AWS's three options of class 0x0108 (spec §4.1)."""
    header = geneve_header(4, cookie)
    return (IP(src=src, dst=dst) / UDP(sport=sport, dport=GENEVE_PORT)
            / Raw(header + bytes(inner)))


def spoofed(packet: Packet, src: str) -> Packet:
    """A copy with another source address; checksums are recomputed when it is built."""
    copy = packet.copy()
    copy[IP].src = src
    for layer in (IP, TCP, UDP, ICMP):
        if layer in copy:
            del copy[layer].chksum
    if UDP in copy:
        del copy[UDP].len
    del copy[IP].len
    return copy
