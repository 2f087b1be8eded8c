"""The fake ZIA public service edge: ends connectors' tunnels and goes to the internet.

Speaks the lab's ZIA tunnel (UDP port 6789: "ZT", version 1, type, tunnel id,
sequence, payload; keepalives answered with the same sequence), and the same
frames over TLS on port 443, each after a 2-byte length (the fallback and the
option of spec §5.4; its certificate is made at start and published in the
lab's trust folder). Each DATA packet
is one workload IP packet: DNS queries for a blocked name are dropped here (ZIA
DNS control) and logged; everything else enters this node's kernel, leaves for
the internet masqueraded to this node's own address, and its replies go back
down the tunnel they belong to. Events: `zia.tunnel_up` (first keepalive of a
tunnel, with its `transport`), `zia.transaction` (first packet of each flow,
with the `transport` it came by), `zia.dns_blocked`, `zia.malformed`.
"""

from __future__ import annotations

import contextlib
import fnmatch
import select
import socket
import ssl
import struct
import threading
from ipaddress import IPv4Address

import dns.message

from lab.events import EventWriter
from lab.nodes.base import Wakeup, node_arguments, serve_until_signalled
from lab.nodes.flow_key import FlowId, ipv4_flow_id
from lab.nodes.kernel_path import KernelPath
from lab.nodes.tls_files import make_server_certificate

PORT = 6789
TLS_PORT = 443
_HEAD = struct.Struct("!2sBBII")
_LENGTH = struct.Struct("!H")
DATA, KEEPALIVE, KEEPALIVE_ACK = 1, 2, 3


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


class UdpPeer:
    """A tunnel end reached by UDP datagrams."""

    transport = "udp"

    def __init__(self, sock: socket.socket, addr: tuple[str, int]) -> None:
        self.sock, self.addr, self.src = sock, addr, addr[0]
        self.key = ("udp", *addr)

    def send(self, frame: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendto(frame, self.addr)


class TlsPeer:
    """A tunnel end on a TLS connection: frames go out length-first, one writer at a time."""

    transport = "tls"

    def __init__(self, conn: ssl.SSLSocket, addr: tuple[str, int]) -> None:
        self.conn, self.src = conn, addr[0]
        self.key = ("tls", *addr)
        self.lock = threading.Lock()

    def send(self, frame: bytes) -> None:
        with self.lock, contextlib.suppress(OSError):
            self.conn.sendall(_LENGTH.pack(len(frame)) + frame)


Peer = UdpPeer | TlsPeer


class ZiaGateway:
    def __init__(self, listen: IPv4Address, blocklist: list[str], events: EventWriter) -> None:
        self.events = events
        self.blocklist = blocklist
        self.listen = listen
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((str(listen), PORT))
        self.kernel = KernelPath("ziatun0", 0x7A, 122, masquerade=True)
        self.flows: dict[FlowId, tuple[Peer, int]] = {}
        self.tunnels: set[tuple[object, int]] = set()
        self.stopping = Wakeup()

    @property
    def running(self) -> bool:
        return not self.stopping.is_set()

    def serve(self) -> None:
        while self.running:
            watched = [self.sock.fileno(), self.kernel.fd, self.stopping.fileno()]
            ready, _, _ = select.select(watched, [], [], 0.5)
            if self.sock.fileno() in ready:
                data, addr = self.sock.recvfrom(65535)
                self.from_tunnel(data, UdpPeer(self.sock, addr))
            if self.kernel.fd in ready:
                self.to_tunnel(self.kernel.read())

    def serve_tls(self, context: ssl.SSLContext) -> None:
        """Accept TLS tunnels on port 443; each connection is read by a thread of its own."""
        listener = socket.create_server((str(self.listen), TLS_PORT))
        listener.settimeout(0.5)
        while self.running:
            ready, _, _ = select.select([listener.fileno(), self.stopping.fileno()], [], [],
                                        0.5)
            if listener.fileno() not in ready:
                continue
            try:
                conn, addr = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._tls_session, args=(context, conn, addr),
                             daemon=True).start()
        listener.close()

    def _tls_session(self, context: ssl.SSLContext, conn: socket.socket,
                     addr: tuple[str, int]) -> None:
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                peer = TlsPeer(tls, addr)
                while self.running:
                    (size,) = _LENGTH.unpack(_read_exactly(tls, _LENGTH.size))
                    self.from_tunnel(_read_exactly(tls, size), peer)
        except (OSError, EOFError, struct.error):
            return

    def from_tunnel(self, data: bytes, peer: Peer) -> None:
        if len(data) < _HEAD.size or data[:3] != b"ZT\x01":
            self.events.emit("zia.malformed", src=peer.src, size=len(data),
                             transport=peer.transport)
            return
        _, _, kind, tunnel, seq = _HEAD.unpack_from(data)
        if kind == KEEPALIVE:
            if (peer.key, tunnel) not in self.tunnels:
                self.tunnels.add((peer.key, tunnel))
                self.events.emit("zia.tunnel_up", src=peer.src, tunnel=tunnel,
                                 transport=peer.transport)
            peer.send(_HEAD.pack(b"ZT", 1, KEEPALIVE_ACK, tunnel, seq))
        elif kind == DATA:
            self.carry(data[_HEAD.size:], peer, tunnel)

    def carry(self, packet: bytes, peer: Peer, tunnel: int) -> None:
        fid = ipv4_flow_id(packet)
        if fid is None:
            return
        name = blocked_query(packet, self.blocklist)
        if name is not None:
            self.events.emit("zia.dns_blocked", tunnel_src=peer.src, qname=name,
                             src=str(IPv4Address(packet[12:16])))
            return
        if fid not in self.flows:
            ihl = (packet[0] & 0xF) * 4
            sport, dport = (struct.unpack_from("!HH", packet, ihl)
                            if packet[9] in (6, 17) else (0, 0))
            self.events.emit("zia.transaction", tunnel_src=peer.src, proto=packet[9],
                             src=str(IPv4Address(packet[12:16])),
                             dst=str(IPv4Address(packet[16:20])), sport=sport, dport=dport,
                             tunnel=tunnel, transport=peer.transport)
        self.flows[fid] = (peer, tunnel)
        self.kernel.write(packet)

    def to_tunnel(self, packet: bytes) -> None:
        fid = ipv4_flow_id(packet)
        found = self.flows.get(fid) if fid else None
        if found is None:
            return  # a reply to nothing we carried
        peer, tunnel = found
        peer.send(_HEAD.pack(b"ZT", 1, DATA, tunnel, 0) + packet)

    def stop(self) -> None:
        self.stopping.set()


def _read_exactly(conn: ssl.SSLSocket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError("tunnel closed")
        data += chunk
    return data


def main() -> None:
    parser = node_arguments("cclab fake ZIA gateway (tunnel end, DNS control, egress NAT)",
                            tls=True)
    parser.add_argument("--listen", required=True, type=IPv4Address)
    parser.add_argument("--block", default="", help="comma-separated name patterns")
    args = parser.parse_args()
    events = EventWriter(args.events, args.node)
    gateway = ZiaGateway(args.listen, [p.strip().lower() for p in args.block.split(",")
                                       if p.strip()], events)
    context = make_server_certificate(args.trust, f"{args.node}.zia.example", [args.listen])
    thread = threading.Thread(target=gateway.serve, daemon=True)
    thread.start()
    tls = threading.Thread(target=gateway.serve_tls, args=(context,), daemon=True)
    tls.start()

    def stop() -> None:
        gateway.stop()
        thread.join(2)
        tls.join(2)
        gateway.kernel.close()

    serve_until_signalled(events, "zia-gateway", stop)


if __name__ == "__main__":
    main()
