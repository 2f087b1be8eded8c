"""The load users' DNS client names each outcome the way the connector means it."""

from __future__ import annotations

from ipaddress import IPv4Network

import dns.message
import dns.rcode
import dns.rrset
import pytest

from lab.traffic.locust.dns_client import classify

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
