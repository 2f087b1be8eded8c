"""A DNS client for load users that says what happened to each query, in the connector's terms.

A query ends in one of: `answer` (addresses from the real upstream), `synthetic`
(addresses from the connector's synthetic pool: a ZPA name), `refused`
(REFUSED or SERVFAIL, as an ACL or a fail-close policy answers), `nxdomain`,
`dropped` (no response within the timeout: a block or the DNS listener's
protection), `truncated` (TC=1: an RRL slip or an answer too big for UDP, no
records to use) or `malformed`. `classify` is pure; `DnsProbe.ask` does the I/O
and, as a stub resolver does, asks again over TCP when the UDP answer is
truncated (spec §9.4: RRL slips TC=1 so that a real client retries over TCP,
which is never rate-limited); the outcome is then the TCP answer's, marked `tcp`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

OUTCOMES = ("answer", "synthetic", "refused", "nxdomain", "dropped", "truncated",
            "malformed")


@dataclass(frozen=True, slots=True)
class DnsOutcome:
    kind: str
    seconds: float
    size: int = 0
    addresses: tuple[IPv4Address, ...] = ()
    tcp: bool = False  # the UDP answer was truncated and this one came over TCP


def classify(response: dns.message.Message | None, pool: IPv4Network) -> str:
    if response is None:
        return "dropped"
    if response.flags & dns.flags.TC:
        return "truncated"
    rcode = response.rcode()
    if rcode in (dns.rcode.REFUSED, dns.rcode.SERVFAIL):
        return "refused"
    if rcode == dns.rcode.NXDOMAIN:
        return "nxdomain"
    addresses = _addresses(response)
    if addresses and all(a in pool for a in addresses):
        return "synthetic"
    return "answer"


def _addresses(response: dns.message.Message) -> list[IPv4Address]:
    return [IPv4Address(item.address) for rrset in response.answer
            if rrset.rdtype == dns.rdatatype.A for item in rrset]


class DnsProbe:
    def __init__(self, server: str, pool: IPv4Network, timeout: float = 1.0,
                 port: int = 53) -> None:
        self.server, self.pool, self.timeout, self.port = server, pool, timeout, port

    def ask(self, name: str, timeout: float | None = None) -> DnsOutcome:
        query = dns.message.make_query(name, "A")
        wait = timeout or self.timeout
        started = time.perf_counter()
        try:
            response = dns.query.udp(query, self.server, timeout=wait, port=self.port)
        except dns.exception.Timeout:
            return DnsOutcome("dropped", time.perf_counter() - started)
        except _BAD_ANSWER:
            return DnsOutcome("malformed", time.perf_counter() - started)
        over_tcp = self._again_over_tcp(query, wait) if response.flags & dns.flags.TC else None
        if over_tcp is not None:
            response = over_tcp
        elapsed = time.perf_counter() - started
        return DnsOutcome(classify(response, self.pool), elapsed, len(response.to_wire()),
                          tuple(_addresses(response)), over_tcp is not None)

    def _again_over_tcp(self, query: dns.message.Message, wait: float
                        ) -> dns.message.Message | None:
        """The TCP answer to a query whose UDP answer was truncated; None if there is none
        (the outcome stays `truncated`)."""
        try:
            return dns.query.tcp(query, self.server, timeout=wait, port=self.port)
        except (dns.exception.Timeout, *_BAD_ANSWER):
            return None


_BAD_ANSWER = (OSError, dns.exception.FormError, dns.message.BadEDNS)
