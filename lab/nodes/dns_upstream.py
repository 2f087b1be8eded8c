"""The internet's DNS server: answers A records from a fixed zone, never forwards.

Each query becomes a `dns.query` event with its source, name, type and rcode.
UDP and TCP on port 53. A zone entry `name=address` is an A record; `name=target.`
(a name ending in a dot) is a CNAME, answered with the chain and the target's A
record when the zone has it (as a recursive resolver's answer carries it).
"""

from __future__ import annotations

import socket
import socketserver
import struct
from ipaddress import IPv4Address

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from lab.events import EventWriter
from lab.nodes.base import node_arguments, serve_in_background, serve_until_signalled

TTL = 60


Record = IPv4Address | str  # an address (A), or a target name (CNAME)


def parse_zone(text: str) -> dict[str, Record]:
    """`a.example=198.18.10.10,b.example=c.example.` -> {name: address or target}."""
    zone: dict[str, Record] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        zone[name.lower().rstrip(".") + "."] = (value.lower() if value.endswith(".")
                                                else IPv4Address(value))
    return zone


def lookup(zone: dict[str, Record], name: str) -> Record | None:
    """The name's address; else the nearest wildcard above it (`*.load.web.example.`)."""
    if name in zone:
        return zone[name]
    labels = name.split(".")
    for i in range(1, len(labels) - 1):
        found = zone.get("*." + ".".join(labels[i:]))
        if found is not None:
            return found
    return None


def answer(wire: bytes, zone: dict[str, Record]) -> tuple[bytes, dict[str, object]]:
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    question = query.question[0]
    name = question.name.to_text().lower()
    found = lookup(zone, name)
    if found is None:
        response.set_rcode(dns.rcode.NXDOMAIN)
    elif question.rdtype == dns.rdatatype.A:
        owner = question.name.to_text()
        for _ in range(8):  # a CNAME chain, followed within the zone
            if isinstance(found, IPv4Address):
                response.answer.append(dns.rrset.from_text(owner, TTL, "IN", "A", str(found)))
                break
            response.answer.append(dns.rrset.from_text(owner, TTL, "IN", "CNAME", found))
            owner, found = found, lookup(zone, found)
            if found is None:
                break
    info: dict[str, object] = {"qname": name, "qtype": dns.rdatatype.to_text(question.rdtype),
            "rcode": dns.rcode.to_text(response.rcode())}
    return response.to_wire(), info


def servers(zone: dict[str, Record], events: EventWriter) -> list[socketserver.BaseServer]:
    class Udp(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, sock = self.request
            self._reply(data, lambda out: sock.sendto(out, self.client_address), "udp")

        def _reply(self, data: bytes, send: object, proto: str) -> None:
            try:
                out, info = answer(data, zone)
            except Exception as exc:  # malformed queries are logged, never fatal
                events.emit("dns.malformed", src=self.client_address[0], proto=proto,
                            error=type(exc).__name__)
                return
            events.emit("dns.query", src=self.client_address[0], proto=proto, **info)
            send(out)  # type: ignore[operator]

    class Tcp(Udp):
        def handle(self) -> None:
            conn: socket.socket = self.request
            head = conn.recv(2)
            if len(head) == 2:
                data = conn.recv(struct.unpack("!H", head)[0])
                self._reply(data, lambda out: conn.sendall(struct.pack("!H", len(out)) + out),
                            "tcp")

    socketserver.ThreadingUDPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    return [socketserver.ThreadingUDPServer(("0.0.0.0", 53), Udp),
            socketserver.ThreadingTCPServer(("0.0.0.0", 53), Tcp)]


def main() -> None:
    parser = node_arguments("cclab fake DNS upstream (authoritative, no forwarding)")
    parser.add_argument("--zone", default="", help="name=address,name=address")
    args = parser.parse_args()
    events = EventWriter(args.events, args.node)
    stop = serve_in_background(servers(parse_zone(args.zone), events))
    serve_until_signalled(events, "dns-upstream", stop)


if __name__ == "__main__":
    main()
