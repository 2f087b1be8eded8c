"""The load users' DNS client names each outcome the way the connector means it."""

from __future__ import annotations

import socket
import threading
from ipaddress import IPv4Address, IPv4Network

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from lab.traffic.locust.dns_client import DnsOutcome, DnsProbe, classify

pytestmark = pytest.mark.unit

POOL = IPv4Network("10.254.0.0/19")


def _response(*addresses: str, rcode: int = dns.rcode.NOERROR) -> dns.message.Message:
    query = dns.message.make_query("x.example.", "A")
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    if addresses:
        response.answer.append(dns.rrset.from_text("x.example.", 60, "IN", "A", *addresses))
    # Through the wire format, as the client sees it.
    return dns.message.from_wire(response.to_wire())


def test_pool_addresses_are_synthetic_and_others_an_answer() -> None:
    assert classify(_response("10.254.0.7"), POOL) == "synthetic"
    assert classify(_response("198.18.10.10"), POOL) == "answer"
    assert classify(_response("10.254.0.7", "198.18.10.10"), POOL) == "answer"


def test_errors_and_silence() -> None:
    assert classify(_response(rcode=dns.rcode.REFUSED), POOL) == "refused"
    assert classify(_response(rcode=dns.rcode.SERVFAIL), POOL) == "refused"
    assert classify(_response(rcode=dns.rcode.NXDOMAIN), POOL) == "nxdomain"
    assert classify(None, POOL) == "dropped"


def test_a_truncated_answer_is_not_an_answer() -> None:
    """An RRL slip (TC=1, no records) gives the client nothing to use."""
    response = _response()
    response.flags |= dns.flags.TC
    assert classify(dns.message.from_wire(response.to_wire()), POOL) == "truncated"
    assert classify(_response("198.18.10.10"), POOL) == "answer"


class _SlippingServer:
    """On 127.0.0.1: every UDP query gets TC=1 and no records (an RRL slip); over TCP,
    when `tcp` is on, the answer 198.18.10.10."""

    def __init__(self, *, tcp: bool) -> None:
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM) if tcp else None
        if self.tcp is not None:
            self.tcp.bind(("127.0.0.1", self.port))
            self.tcp.listen(1)
        self.asked_over_tcp = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        wire, peer = self.udp.recvfrom(512)
        slip = dns.message.make_response(dns.message.from_wire(wire))
        slip.flags |= dns.flags.TC
        self.udp.sendto(slip.to_wire(), peer)
        if self.tcp is None:
            return
        conn, _ = self.tcp.accept()
        with conn:
            size = int.from_bytes(conn.recv(2), "big")
            self.asked_over_tcp += 1  # counted before answering: the client returns at once
            answer = dns.message.make_response(dns.message.from_wire(conn.recv(size)))
            answer.answer.append(dns.rrset.from_text(answer.question[0].name, 60, "IN", "A",
                                                     "198.18.10.10"))
            out = answer.to_wire()
            conn.sendall(len(out).to_bytes(2, "big") + out)

    def close(self) -> None:
        self.udp.close()
        if self.tcp is not None:
            self.tcp.close()


def ask_slipping(*, tcp: bool) -> tuple[DnsOutcome, int]:
    """The probe's outcome against a slipping server, and how often it was asked over TCP."""
    server = _SlippingServer(tcp=tcp)
    try:
        outcome = DnsProbe("127.0.0.1", POOL, timeout=1, port=server.port).ask("x.example")
    finally:
        server.close()
    return outcome, server.asked_over_tcp


def test_a_slipped_answer_is_asked_again_over_tcp_as_a_stub_resolver_does() -> None:
    outcome, asked_over_tcp = ask_slipping(tcp=True)
    assert (outcome.kind, outcome.tcp, asked_over_tcp) == ("answer", True, 1)
    assert outcome.addresses == (IPv4Address("198.18.10.10"),)


def test_a_slip_with_no_tcp_service_stays_truncated() -> None:
    outcome, _ = ask_slipping(tcp=False)
    assert (outcome.kind, outcome.tcp) == ("truncated", False)
