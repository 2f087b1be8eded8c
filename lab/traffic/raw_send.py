"""`python -m lab.traffic.raw_send`: send packets built elsewhere, as they are, from a lab node.

The caller (a test, with scapy already loaded in its own process) builds the packets
and hands their bytes here in hex; this sender imports no packet library, so each
use costs a node a plain Python start instead of scapy's import (over a second of
CPU on this machine, several under load). What a spoofing host does:

- IP packets (the default) go out of a raw socket with the header included
  (IPPROTO_RAW, IPv4 or IPv6 by the version nibble): the node's kernel routes each by
  its destination (its policy rules too) and resolves the next hop; the source, ids,
  flags and payload are the caller's. The kernel fills in the IPv4 header checksum
  and total length (raw(7)), so a packet whose fault is one of those two is not for
  this sender.
- With `--iface`, whole Ethernet frames go out of that interface (AF_PACKET), MAC
  addresses and all.

Each packet is sent `--count` times, in order, `--interval` seconds apart (none by
default). Prints one JSON line: how many were sent.
"""

from __future__ import annotations

import argparse
import json
import socket
import time
from ipaddress import ip_address

MAX_COUNT = 10_000
MAX_INTERVAL_S = 1.0


def destination(packet: bytes) -> tuple[int, str]:
    """The address family and destination address an IP packet's own header names."""
    version = packet[0] >> 4 if packet else 0
    if version == 4 and len(packet) >= 20:
        return socket.AF_INET, str(ip_address(packet[16:20]))
    if version == 6 and len(packet) >= 40:
        return socket.AF_INET6, str(ip_address(packet[24:40]))
    raise ValueError(f"not an IPv4 or IPv6 packet: {packet[:4].hex()}...")


def send_ip(packets: list[bytes], count: int, interval: float = 0.0) -> int:
    sockets: dict[int, socket.socket] = {}
    sends: list[tuple[socket.socket, bytes, tuple[str, int] | None]] = []
    try:
        for packet in packets:
            family, dst = destination(packet)
            if family not in sockets:
                sockets[family] = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW)
            sends.append((sockets[family], packet, (dst, 0)))
        return _paced(sends, count, interval)
    finally:
        for sock in sockets.values():
            sock.close()


def send_frames(frames: list[bytes], count: int, iface: str, interval: float = 0.0) -> int:
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((iface, 0))
        return _paced([(sock, frame, None) for frame in frames], count, interval)


def _paced(sends: list[tuple[socket.socket, bytes, tuple[str, int] | None]], count: int,
           interval: float) -> int:
    sent = 0
    for sock, data, to in sends:
        for _ in range(count):
            if sent and interval:
                time.sleep(interval)
            if to is None:
                sock.send(data)
            else:
                sock.sendto(data, to)
            sent += 1
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.traffic.raw_send",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("packets", nargs="+", type=bytes.fromhex,
                        help="each packet (or frame, with --iface) in hex")
    parser.add_argument("--count", type=int, default=1, help="times each is sent")
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between sends")
    parser.add_argument("--iface", help="send Ethernet frames out of this interface")
    args = parser.parse_args()
    if not 1 <= args.count <= MAX_COUNT:
        parser.error(f"--count must be 1..{MAX_COUNT}")
    if not 0 <= args.interval <= MAX_INTERVAL_S:
        parser.error(f"--interval must be 0..{MAX_INTERVAL_S:g} s")
    try:
        sent = (send_frames(args.packets, args.count, args.iface, args.interval) if args.iface
                else send_ip(args.packets, args.count, args.interval))
    except ValueError as exc:
        parser.error(str(exc))
    print(json.dumps({"sent": sent}))


if __name__ == "__main__":
    main()
