"""The fake ZIA public service edge: ends connectors' tunnels and goes to the internet.

Speaks the lab's ZIA tunnel (UDP port 6789: "ZT", version 1, type, tunnel id,
sequence, payload; keepalives answered with the same sequence). Each DATA packet
is one workload IP packet: DNS queries for a blocked name are dropped here (ZIA
DNS control) and logged; everything else enters this node's kernel, leaves for
the internet masqueraded to this node's own address, and its replies go back
down the tunnel they belong to. Events: `zia.tunnel_up` (first keepalive of a
tunnel), `zia.transaction` (first packet of each flow), `zia.dns_blocked`,
`zia.malformed`.
"""

from __future__ import annotations

import fnmatch
import select
import socket
import struct
import threading
from ipaddress import IPv4Address

import dns.message

from lab.events import EventWriter
from lab.nodes.base import node_arguments, serve_until_signalled
from lab.nodes.kernel_path import KernelPath

PORT = 6789
_HEAD = struct.Struct("!2sBBII")
DATA, KEEPALIVE, KEEPALIVE_ACK = 1, 2, 3
FlowId = tuple[int, bytes, int, bytes, int]


def flow_id(packet: bytes) -> FlowId | None:
    """(proto, a, a-port, b, b-port) sorted so both directions agree; IPv4 only."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    ihl = (packet[0] & 0xF) * 4
    proto = packet[9]
    ports = (struct.unpack_from("!HH", packet, ihl) if proto in (6, 17)
             and len(packet) >= ihl + 4 else (0, 0))
    a, b = (packet[12:16], ports[0]), (packet[16:20], ports[1])
    lo, hi = sorted((a, b))
    return proto, lo[0], lo[1], hi[0], hi[1]


def blocked_query(packet: bytes, patterns: list[str]) -> str | None:
    """The query name when `packet` is a UDP DNS query for a blocked name."""
    if not patterns or len(packet) < 28 or packet[9] != 17:
        return None
    ihl = (packet[0] & 0xF) * 4
    if struct.unpack_from("!H", packet, ihl + 2)[0] != 53:
        return None
    try:
        qname = dns.message.from_wire(packet[ihl + 8:]).question[0].name.to_text(True)
    except Exception:  # not DNS: not ours to judge
        return None
    return qname if any(fnmatch.fnmatch(qname.lower(), p) for p in patterns) else None


class ZiaGateway:
    def __init__(self, listen: IPv4Address, blocklist: list[str], events: EventWriter) -> None:
        self.events = events
        self.blocklist = blocklist
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((str(listen), PORT))
        self.kernel = KernelPath("ziatun0", 0x7A, 122, masquerade=True)
        self.flows: dict[FlowId, tuple[tuple[str, int], int]] = {}
        self.tunnels: set[tuple[str, int, int]] = set()
        self.running = True

    def serve(self) -> None:
        while self.running:
            ready, _, _ = select.select([self.sock.fileno(), self.kernel.fd], [], [], 0.5)
            if self.sock.fileno() in ready:
                data, peer = self.sock.recvfrom(65535)
                self.from_tunnel(data, peer)
            if self.kernel.fd in ready:
                self.to_tunnel(self.kernel.read())

    def from_tunnel(self, data: bytes, peer: tuple[str, int]) -> None:
        if len(data) < _HEAD.size or data[:3] != b"ZT\x01":
            self.events.emit("zia.malformed", src=peer[0], size=len(data))
            return
        _, _, kind, tunnel, seq = _HEAD.unpack_from(data)
        if kind == KEEPALIVE:
            if (peer[0], peer[1], tunnel) not in self.tunnels:
                self.tunnels.add((peer[0], peer[1], tunnel))
                self.events.emit("zia.tunnel_up", src=peer[0], tunnel=tunnel)
            self.sock.sendto(_HEAD.pack(b"ZT", 1, KEEPALIVE_ACK, tunnel, seq), peer)
        elif kind == DATA:
            self.carry(data[_HEAD.size:], peer, tunnel)

    def carry(self, packet: bytes, peer: tuple[str, int], tunnel: int) -> None:
        fid = flow_id(packet)
        if fid is None:
            return
        name = blocked_query(packet, self.blocklist)
        if name is not None:
            self.events.emit("zia.dns_blocked", tunnel_src=peer[0], qname=name,
                             src=str(IPv4Address(packet[12:16])))
            return
        if fid not in self.flows:
            ihl = (packet[0] & 0xF) * 4
            dport = (struct.unpack_from("!H", packet, ihl + 2)[0]
                     if packet[9] in (6, 17) else 0)
            self.events.emit("zia.transaction", tunnel_src=peer[0], proto=packet[9],
                             src=str(IPv4Address(packet[12:16])),
                             dst=str(IPv4Address(packet[16:20])), dport=dport)
        self.flows[fid] = (peer, tunnel)
        self.kernel.write(packet)

    def to_tunnel(self, packet: bytes) -> None:
        fid = flow_id(packet)
        found = self.flows.get(fid) if fid else None
        if found is None:
            return  # a reply to nothing we carried
        peer, tunnel = found
        self.sock.sendto(_HEAD.pack(b"ZT", 1, DATA, tunnel, 0) + packet, peer)

    def stop(self) -> None:
        self.running = False


def main() -> None:
    parser = node_arguments("cclab fake ZIA gateway (tunnel end, DNS control, egress NAT)")
    parser.add_argument("--listen", required=True, type=IPv4Address)
    parser.add_argument("--block", default="", help="comma-separated name patterns")
    args = parser.parse_args()
    events = EventWriter(args.events, args.node)
    gateway = ZiaGateway(args.listen, [p.strip().lower() for p in args.block.split(",")
                                       if p.strip()], events)
    thread = threading.Thread(target=gateway.serve, daemon=True)
    thread.start()

    def stop() -> None:
        gateway.stop()
        thread.join(2)
        gateway.kernel.close()

    serve_until_signalled(events, "zia-gateway", stop)


if __name__ == "__main__":
    main()
