"""DNS messages on the wire (dnspython): parse a query, build each answer the policy needs.

Synthetic answers: one A record, the configured TTL, NOERROR, RA mirrors RD,
never the real address, no CNAME chain (spec §6.6). NODATA: NOERROR, no answer,
an SOA in the authority section whose minimum is the negative-caching TTL.
UDP answers larger than the client's EDNS payload (capped at 1232, §9.4) are
sent truncated (TC=1) so the client retries over TCP.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from connector.core.model import DnsQuestion, Transport
from connector.core.rrl import ResponseKind

UDP_PAYLOAD_CAP = 1232
PLAIN_UDP_PAYLOAD = 512
SOA_MNAME = "ns.cclab-connector.invalid."


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    message: dns.message.Message
    question: DnsQuestion
    udp_payload: int


def parse_query(wire: bytes, src: IPv4Address, dst: IPv4Address,
                transport: Transport) -> ParsedQuery | None:
    """None for anything that is not a one-question query (dropped, counted by the caller)."""
    try:
        message = dns.message.from_wire(wire)
    except (dns.exception.DNSException, ValueError):
        return None
    if message.flags & dns.flags.QR or len(message.question) != 1:
        return None
    q = message.question[0]
    payload = message.payload if message.edns >= 0 else PLAIN_UDP_PAYLOAD
    return ParsedQuery(message, DnsQuestion(q.name.to_text(), dns.rdatatype.to_text(q.rdtype),
                                            src, dst, transport),
                       min(max(payload, PLAIN_UDP_PAYLOAD), UDP_PAYLOAD_CAP))


def synthetic_answer(query: ParsedQuery, addr: IPv4Address, ttl: int) -> dns.message.Message:
    response = _response(query)
    name = query.message.question[0].name
    response.answer.append(dns.rrset.from_text(name, ttl, "IN", "A", str(addr)))
    return response


def nodata_answer(query: ParsedQuery, ttl: int) -> dns.message.Message:
    response = _response(query)
    name = query.message.question[0].name
    zone = name.parent() if len(name) > 2 else name
    soa = f"{SOA_MNAME} hostmaster.{zone.to_text()} 1 3600 600 86400 {ttl}"
    response.authority.append(dns.rrset.from_text(zone, ttl, "IN", "SOA", soa))
    return response


def error_answer(query: ParsedQuery, rcode: dns.rcode.Rcode) -> dns.message.Message:
    response = _response(query)
    response.set_rcode(rcode)
    return response


def a_records(wire: bytes) -> list[tuple[str, IPv4Address, int]]:
    """(owner name, address, ttl) of every A record in a response (for learned names)."""
    try:
        message = dns.message.from_wire(wire)
    except (dns.exception.DNSException, ValueError):
        return []
    found = []
    for rrset in message.answer:
        if rrset.rdtype == dns.rdatatype.A:
            found += [(rrset.name.to_text(), IPv4Address(r.address), rrset.ttl) for r in rrset]
    return found


def to_wire(response: dns.message.Message, transport: Transport, payload: int) -> bytes:
    """Wire form; over UDP, truncated with TC=1 when larger than `payload`."""
    return to_wire_bytes(response.to_wire(), transport, payload)


def minimal_any_answer(query: ParsedQuery, ttl: int) -> dns.message.Message:
    """RFC 8482: one synthesised HINFO "RFC8482" instead of every record of the name."""
    response = _response(query)
    name = query.message.question[0].name
    response.answer.append(dns.rrset.from_text(name, ttl, "IN", "HINFO", '"RFC8482" ""'))
    return response


def response_kind(wire: bytes) -> ResponseKind:
    """How RRL accounts a response: NXDOMAIN, another error, or an answer."""
    rcode = wire[3] & 0x0F if len(wire) >= 4 else dns.rcode.SERVFAIL
    if rcode == dns.rcode.NXDOMAIN:
        return ResponseKind.NXDOMAIN
    return ResponseKind.ANSWER if rcode == dns.rcode.NOERROR else ResponseKind.ERROR


def truncated(wire: bytes) -> bytes:
    """The same response with no records and TC=1 (an RRL slip)."""
    return _trim(wire)


def to_wire_bytes(wire: bytes, transport: Transport, payload: int) -> bytes:
    if transport is not Transport.UDP or len(wire) <= payload:
        return wire
    return _trim(wire)


def _trim(wire: bytes) -> bytes:
    try:
        trimmed = dns.message.from_wire(wire)
    except (dns.exception.DNSException, ValueError):
        return wire[:12]
    trimmed.answer.clear()
    trimmed.authority.clear()
    trimmed.additional.clear()
    trimmed.flags |= dns.flags.TC
    return trimmed.to_wire()


def _response(query: ParsedQuery) -> dns.message.Message:
    response = dns.message.make_response(query.message)
    response.flags &= ~dns.flags.AA
    if query.message.flags & dns.flags.RD:
        response.flags |= dns.flags.RA
    return response


REFUSED = dns.rcode.REFUSED
SERVFAIL = dns.rcode.SERVFAIL
