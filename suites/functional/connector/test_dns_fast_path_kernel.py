"""The routed program's DNS answers, on a real veth, tc program, map and ring buffer.

Two scratch namespaces: `ccdw*` the client, `ccdc*` the connector (the program on
`dca`'s ingress with only its DNS part switched on, and a UDP socket on port 53 of
its address, standing for the listener: what the program leaves to the kernel
arrives there). The client asks through a socket (its checksum left to the device)
or sends a frame it built whole (checksum computed), and reads the answer through
a socket and a capture of its interface. The connector's veth computes checksums
itself (`tx off`), so an answer to a query whose checksum the client's socket left to
the device (CHECKSUM_PARTIAL) leaves complete, from what the program left in its
checksum field; the client's checks each it receives (`rx off`). Expected answers:
dnspython's reading of the answer against the question and the entry, and the bytes
user space makes for the same query (connector/io/dns_plain.py), which the kernel's
must equal.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address

import dns.flags
import dns.message
import dns.rdatatype
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from connector.io import dns_plain
from connector.io.dns_fast_path import DnsAnswers, DnsKey
from connector.io.routed_fast_path import DNS, RoutedFastPath
from suites.fixtures.in_netns import InNetns, bound_udp, read_until_quiet, scratch_namespaces

pytestmark = [pytest.mark.netns, pytest.mark.usefixtures("lab_capable")]

CLIENT, CONNECTOR, OTHER = "10.79.0.2", "10.79.0.1", "10.79.0.3"
SPORT, TTL, TICKET = 4242, 60, 31
ADDR = IPv4Address("100.64.7.9")
NAME = "app1.corp.example."


def question(name: str = NAME) -> bytes:
    """The question section as a client writes it: the name's labels, type A, class IN."""
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split("."))
    return labels + b"\x00" + struct.pack("!HH", 1, 1)


def query(ident: int, name: str = NAME, flags: int = 0x0100, extra: bytes = b"",
          arcount: int = 0) -> bytes:
    return struct.pack("!HHHHHH", ident, flags, 1, 0, 0, arcount) + question(name) + extra


KEY = DnsKey(IPv4Address(CLIENT), IPv4Address(CONNECTOR), question())


@dataclass
class Rig:
    connector: InNetns
    client: InNetns
    answers: DnsAnswers
    asker: socket.socket  # the client's, on SPORT
    capture: socket.socket  # the client's interface, every frame in
    listener: socket.socket  # the connector's, on port 53: what the kernel's way brought
    client_mac: str
    connector_mac: str

    def install(self, key: DnsKey = KEY, for_s: float = 30.0) -> None:
        until = time.monotonic_ns() + int(for_s * 1e9)
        assert self.connector(self.answers.install, key, ADDR, TTL, until, TICKET)

    def ask(self, wire: bytes, to: str = CONNECTOR) -> None:
        self.client(self.asker.sendto, wire, (to, 53))

    def send_frame(self, wire: bytes) -> None:
        """The query in a frame the client built whole: its UDP checksum computed."""
        frame = bytes(Ether(src=self.client_mac, dst=self.connector_mac)
                      / IP(src=CLIENT, dst=CONNECTOR, ttl=64) / UDP(sport=SPORT, dport=53)
                      / wire)

        def send() -> None:
            with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as raw:
                raw.bind(("dwa", 0))
                raw.send(frame)
        self.client(send)

    def answered(self) -> list[bytes]:
        return [data for data, _ in self.client(read_until_quiet, self.asker)]

    def captured_answers(self) -> list[Ether]:
        frames = [Ether(data) for data, _ in self.client(read_until_quiet, self.capture, 0.3)]
        return [f for f in frames if UDP in f and f[UDP].sport == 53]

    def reached_listener(self) -> list[bytes]:
        return [data for data, _ in self.connector(read_until_quiet, self.listener, 0.3)]


def _mac(ns: str, dev: str) -> str:
    out = subprocess.run(["ip", "netns", "exec", ns, "cat", f"/sys/class/net/{dev}/address"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _capture(dev: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    sock.bind((dev, 0))
    return sock


@pytest.fixture
def rig() -> Iterator[Rig]:
    tag = os.getpid()
    w, c = f"ccdw{tag}", f"ccdc{tag}"
    with scratch_namespaces({"client": w, "connector": c}) as (pools, stack):
        for command in (f"ip -n {c} link add dca type veth peer name dwa netns {w}",
                        f"ip -n {w} addr add {CLIENT}/24 dev dwa",
                        f"ip -n {c} addr add {CONNECTOR}/24 dev dca",
                        f"ip -n {c} addr add {OTHER}/24 dev dca",
                        f"ip -n {w} link set dwa up", f"ip -n {c} link set dca up",
                        f"ip netns exec {c} ethtool -K dca tx off",
                        f"ip netns exec {w} ethtool -K dwa rx off",
                        f"ip netns exec {c} sysctl -qw net.ipv4.ip_forward=1"):
            subprocess.run(command.split(), check=True)
        path = pools["connector"](lambda: RoutedFastPath("dca", switches=DNS))
        stack.callback(pools["connector"], path.close)
        answers = pools["connector"](DnsAnswers, path.program)
        stack.callback(pools["connector"], answers.close)
        made = [pools["client"](bound_udp, CLIENT, SPORT), pools["client"](_capture, "dwa"),
                pools["connector"](bound_udp, "0.0.0.0", 53)]
        for sock in made:
            stack.callback(sock.close)
        # neighbours known both ways before the first answer is routed
        subprocess.run(["ip", "netns", "exec", w, "ping", "-c1", "-W2", CONNECTOR],
                       check=True, capture_output=True)
        yield Rig(pools["connector"], pools["client"], answers, *made,
                  _mac(w, "dwa"), _mac(c, "dca"))


def test_a_question_with_an_entry_is_answered_by_the_kernel_as_user_space_answers_it(
        rig: Rig) -> None:
    rig.ask(query(0x1111))  # no entry yet: the kernel's way, to the listener's socket
    assert rig.reached_listener() == [query(0x1111)]
    assert rig.answered() == []
    rig.install()
    rig.ask(query(0x2222))
    got = rig.answered()
    assert len(got) == 1, got
    answer = dns.message.from_wire(got[0])
    assert answer.id == 0x2222
    assert answer.flags == dns.flags.QR | dns.flags.RD | dns.flags.RA
    assert [q.to_text() for q in answer.question] == [f"{NAME} IN A"]
    assert [(r.name.to_text(), r.ttl, r.rdtype, [a.address for a in r])
            for r in answer.answer] == [(NAME, TTL, dns.rdatatype.A, [str(ADDR)])]
    assert not answer.authority
    assert not answer.additional
    plain = dns_plain.parse_plain(query(0x2222))
    assert plain is not None
    assert got[0] == dns_plain.synthetic_a(plain, ADDR, TTL)  # user space's very bytes
    assert rig.reached_listener() == []  # answered before the socket
    assert _checksums_right(rig.captured_answers())
    assert rig.connector(rig.answers.answers, KEY) == 1
    assert rig.connector(rig.answers.drain) == {TICKET: 1}
    assert rig.connector(rig.answers.drain) == {}  # drained once


def _checksums_right(frames: list[Ether]) -> bool:
    """One frame whose IPv4 and UDP checksums are the ones scapy computes afresh."""
    assert len(frames) == 1, frames
    ip = frames[0][IP].copy()
    sent = (ip.chksum, ip[UDP].chksum)
    del ip.chksum, ip[UDP].chksum
    rebuilt = IP(bytes(ip))
    return sent[1] != 0 and sent == (rebuilt.chksum, rebuilt[UDP].chksum)


# The A record lands at an even or an odd offset from the UDP header with the question.
@pytest.mark.parametrize("name", ["app12.corp.example.", "app1.corp.example."])
@pytest.mark.parametrize("sent_by", ["socket", "whole_frame"])
def test_the_answer_has_right_checksums_whoever_computed_the_querys(
        rig: Rig, name: str, sent_by: str) -> None:
    key = DnsKey(IPv4Address(CLIENT), IPv4Address(CONNECTOR), question(name))
    rig.install(key)
    wire = query(0x3333, name=name, flags=0)  # RD clear: no RA in the answer
    if sent_by == "socket":
        rig.ask(wire)  # its checksum left to the device (CHECKSUM_PARTIAL)
    else:
        rig.send_frame(wire)
    frames = rig.captured_answers()
    assert _checksums_right(frames)
    frame = frames[0]
    assert (frame[IP].src, frame[IP].dst, frame[UDP].dport) == (CONNECTOR, CLIENT, SPORT)
    assert (frame[Ether].dst, frame[Ether].src) == (rig.client_mac, rig.connector_mac)
    assert rig.answered() == [bytes(frame[UDP].payload)]  # the client's kernel took it
    assert dns.message.from_wire(bytes(frame[UDP].payload)).flags == dns.flags.QR


@pytest.mark.parametrize("case", ["edns", "truncated", "another_address", "another_name",
                                  "expired", "response"])
def test_what_the_entry_does_not_match_goes_the_kernels_way(rig: Rig, case: str) -> None:
    rig.install(for_s=0.0 if case == "expired" else 30.0)
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    wire, to = {
        "edns": (query(0x5555, extra=opt, arcount=1), CONNECTOR),
        "truncated": (query(0x5555, flags=0x0300), CONNECTOR),
        "another_address": (query(0x5555), OTHER),
        "another_name": (query(0x5555, name="app2.corp.example."), CONNECTOR),
        "expired": (query(0x5555), CONNECTOR),
        "response": (query(0x5555, flags=0x8100), CONNECTOR),
    }[case]
    rig.ask(wire, to)
    assert rig.reached_listener() == [wire]  # it arrived, and the kernel left it
    assert rig.answered() == []
    assert rig.connector(rig.answers.answers, KEY) == 0
    assert rig.connector(rig.answers.drain) == {}


def test_a_removed_entry_answers_no_more(rig: Rig) -> None:
    rig.install()
    rig.ask(query(0x6666))
    assert len(rig.answered()) == 1
    rig.connector(rig.answers.remove, KEY)
    rig.ask(query(0x7777))
    assert rig.reached_listener() == [query(0x7777)]
    assert rig.answered() == []
