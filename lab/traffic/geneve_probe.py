"""Send one hand-made GENEVE packet to a target and report what, if anything, came back.

Run inside a lab node (the GWLB's), e.g.::

    python -m lab.traffic.geneve_probe --to 10.10.3.31 --case valid --inner dns

Cases bend the header the way spec check G1 lists (a missing AWS option, version
1, an option length past the end); inner payloads are a DNS query over IPv4 or
IPv6, optionally padded to a given size (G4), a TCP SYN (`--inner tcp`, to
`--dport`), or a UDP datagram (`--inner udp`, to `--dport`). `--count` sends a
flow of that many (the first alone, then `--after-first` seconds' pause, then the
rest, from one source port). Prints one JSON object: the header sent, the port it
was sent from, and the reply's source and header, and whether that header is
byte-identical to the one sent (G2).

`--inner-hex` gives the inner packet ready made: a test builds it with `inner_of` in
its own process, where scapy is loaded already, and the probe then imports no scapy
(whose start costs a node over a second of CPU on this machine).
"""

from __future__ import annotations

import argparse
import json
import socket
import time
from ipaddress import IPv4Address

from lab.wire.geneve import aws_option, geneve_header

CASES = ("valid", "missing_cookie", "version1", "optlen_overrun", "unknown_critical")


def header_for(case: str, protocol: int, cookie_value: int = 0xC00C1E42) -> bytes:
    cookie = aws_option(3, cookie_value.to_bytes(4, "big"))
    options = (aws_option(1, (0x0E1A000000000042).to_bytes(8, "big"))
               + aws_option(2, (0x0A77000000000042).to_bytes(8, "big"))
               + (b"" if case == "missing_cookie" else cookie))
    if case == "unknown_critical":
        options += aws_option(0x80 | 9, bytes(4))
    return geneve_header(6 if protocol == 0x86DD else 4, 0, options=options,
                         version=1 if case == "version1" else 0,
                         extra_words=4 if case == "optlen_overrun" else 0)


def inner_packet(kind: str, src: str, dst: str, qname: str, size: int,
                 dport: int = 80) -> bytes:
    """A DNS query; with `size`, grown to exactly that many bytes by EDNS padding (RFC 7830).
    `tcp`: a SYN from `src` to `dst`:`dport`."""
    from scapy.layers.inet import IP, TCP, UDP  # here: not imported by a probe given --inner-hex
    if kind == "tcp":
        return bytes(IP(src=src, dst=dst) / TCP(sport=40100, dport=dport, flags="S", seq=1000))
    if kind == "udp":
        return bytes(IP(src=src, dst=dst) / UDP(sport=40200, dport=dport) / (b"u" * 32))
    wire = _dns_packet(kind, src, dst, qname, None)
    if size > len(wire):
        base = len(_dns_packet(kind, src, dst, qname, 0))
        wire = _dns_packet(kind, src, dst, qname, size - base)
    return wire


def _dns_packet(kind: str, src: str, dst: str, qname: str, padding: int | None) -> bytes:
    from scapy.layers.dns import DNS, DNSQR, DNSRROPT, EDNS0TLV
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    query = DNS(id=0x4242, rd=1, qd=DNSQR(qname=qname))
    if padding is not None:
        query.ar = DNSRROPT(rclass=4096, rdata=[EDNS0TLV(optcode=12, optdata=b"\0" * padding)])
    l3 = (IPv6(src="2001:db8:1::11", dst="2001:db8:53::53") if kind == "dns6"
          else IP(src=src, dst=dst))
    return bytes(l3 / UDP(sport=40000, dport=53) / query)


def inner_of(args: argparse.Namespace) -> bytes:
    """The inner packet the options describe."""
    return inner_packet(args.inner, args.inner_src, args.inner_dst, args.qname, args.size,
                        args.dport)


def probe(args: argparse.Namespace) -> dict[str, object]:
    inner = args.inner_hex if args.inner_hex is not None else inner_of(args)
    protocol = 0x86DD if args.inner == "dns6" else 0x0800
    header = header_for(args.case, protocol, args.cookie)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.source, args.source_port))
    sock.settimeout(args.wait)
    sock.sendto(header + inner, (args.to, 6081))
    if args.count > 1:
        time.sleep(args.after_first)
        for _ in range(args.count - 1):
            sock.sendto(header + inner, (args.to, 6081))
    report: dict[str, object] = {"case": args.case, "sent_header": header.hex(),
                                 "inner_size": len(inner), "source_port": sock.getsockname()[1]}
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        try:
            data, peer = sock.recvfrom(65535)
        except TimeoutError:
            break
        report["reply"] = {"from": list(peer),
                           "header": data[:len(header)].hex(),
                           "same_header": data[:len(header)] == header,
                           "inner_src": _ipv4_source(data[len(header):])}
        break
    sock.close()
    return report


def _ipv4_source(packet: bytes) -> str:
    """An IPv4 header's source address (bytes 12-15); '' if the packet is shorter."""
    return str(IPv4Address(packet[12:16])) if len(packet) >= 20 else ""


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab.traffic.geneve_probe",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--to", required=True, help="target (connector service address)")
    parser.add_argument("--source", default="0.0.0.0", help="address to send from")
    parser.add_argument("--case", choices=CASES, default="valid")
    parser.add_argument("--inner", choices=("dns", "dns6", "tcp", "udp"), default="dns")
    parser.add_argument("--dport", type=int, default=80, help="the inner port (tcp, udp)")
    parser.add_argument("--source-port", type=int, default=0, help="0: any free port")
    parser.add_argument("--cookie", type=lambda text: int(text, 0), default=0xC00C1E42,
                        help="the AWS flow cookie option's value")
    parser.add_argument("--count", type=int, default=1, help="packets of the one flow")
    parser.add_argument("--after-first", type=float, default=0.0,
                        help="seconds between the first packet and the rest")
    parser.add_argument("--inner-src", default="10.10.1.77")
    parser.add_argument("--inner-dst", default="198.18.53.53")
    parser.add_argument("--qname", default="www.web.example")
    parser.add_argument("--size", type=int, default=0, help="pad the inner packet to this size")
    parser.add_argument("--wait", type=float, default=2.0)
    parser.add_argument("--inner-hex", type=bytes.fromhex,
                        help="the inner packet, ready made (the inner options are then unused)")
    return parser


def main() -> None:
    print(json.dumps(probe(parser().parse_args())))


if __name__ == "__main__":
    main()
