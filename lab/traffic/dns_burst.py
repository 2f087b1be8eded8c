"""`python -m lab.traffic.dns_burst`: a burst of identical DNS queries, answers counted (JSON).

What a client over a rate limit sees (spec §9.4, check A2): `--count` UDP
queries for `--name` sent back to back from `--source`, each with its own id;
then every response that arrives within `--wait` seconds is sorted into full
answers and truncated ones (TC=1, the slip that tells a real client to retry
over TCP). Bounded by count (at most 10,000) and time.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import sys
import time

import dns.flags
import dns.message

MAX_COUNT = 10_000


def burst(server: str, name: str, source: str, count: int, wait: float) -> dict[str, object]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.settimeout(0.1)
    query = dns.message.make_query(name, "A").to_wire()
    for ident in range(count):
        sock.sendto(struct.pack("!H", ident) + query[2:], (server, 53))
    answered, truncated, seen = 0, 0, set()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            data, _ = sock.recvfrom(65535)
        except TimeoutError:
            continue
        reply = dns.message.from_wire(data)
        seen.add(reply.id)
        if reply.flags & dns.flags.TC:
            truncated += 1
        else:
            answered += 1
    sock.close()
    return {"sent": count, "answered": answered, "truncated": truncated,
            "distinct_ids": len(seen)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.traffic.dns_burst", description=__doc__)
    parser.add_argument("--server", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--source", default="0.0.0.0")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--wait", type=float, default=2.0)
    args = parser.parse_args(argv)
    if not 0 < args.count <= MAX_COUNT:
        parser.error(f"--count must be 1..{MAX_COUNT}")
    print(json.dumps(burst(args.server, args.name, args.source, args.count, args.wait)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
