"""A DNS client for load users that says what happened to each query, in the connector's terms.

A query ends in one of: `answer` (addresses from the real upstream), `synthetic`
(addresses from the connector's synthetic pool: a ZPA name), `refused`
(REFUSED or SERVFAIL, as an ACL or a fail-close policy answers), `nxdomain`,
`dropped` (no response within the timeout: a block or the DNS listener's
protection) or `malformed`. `classify` is pure; `DnsProbe.ask` does the I/O.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

OUTCOMES = ("answer", "synthetic", "refused", "nxdomain", "dropped", "malformed")


@dataclass(frozen=True, slots=True)
class DnsOutcome:
    kind: str
    seconds: float
    size: int = 0
    addresses: tuple[IPv4Address, ...] = ()


def classify(response: dns.message.Message | None, pool: IPv4Network) -> str:
    if response is None:
        return "dropped"
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
    def __init__(self, server: str, pool: IPv4Network, timeout: float = 1.0) -> None:
        self.server, self.pool, self.timeout = server, pool, timeout

    def ask(self, name: str, timeout: float | None = None) -> DnsOutcome:
        query = dns.message.make_query(name, "A")
        started = time.perf_counter()
        try:
            response = dns.query.udp(query, self.server, timeout=timeout or self.timeout)
        except dns.exception.Timeout:
            return DnsOutcome("dropped", time.perf_counter() - started)
        except (OSError, dns.exception.FormError, dns.message.BadEDNS):
            return DnsOutcome("malformed", time.perf_counter() - started)
        elapsed = time.perf_counter() - started
        kind = classify(response, self.pool)
        return DnsOutcome(kind, elapsed, len(response.to_wire()),
                          tuple(_addresses(response)))
