"""`python -m lab.traffic.dns_probe`: steady DNS queries, counted by outcome (one JSON line).

What a well-behaved workload sees while something else happens (a flood, a
failover): `--count` queries for `--name`, one every `--interval` seconds, each
waiting `--timeout`; outcomes as `DnsProbe` names them. Bounded by count.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from ipaddress import IPv4Network

from lab.traffic.locust.dns_client import DnsProbe

MAX_COUNT = 100_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.traffic.dns_probe", description=__doc__)
    parser.add_argument("--server", required=True)
    parser.add_argument("--name", default="www.web.example")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--pool", default="10.254.0.0/19", help="the synthetic pool")
    args = parser.parse_args(argv)
    if not 0 < args.count <= MAX_COUNT:
        parser.error(f"--count must be 1..{MAX_COUNT}")
    probe = DnsProbe(args.server, IPv4Network(args.pool), args.timeout)
    outcomes: Counter[str] = Counter()
    started = time.monotonic()
    for i in range(args.count):
        outcomes[probe.ask(args.name).kind] += 1
        pause = started + (i + 1) * args.interval - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    print(json.dumps({"sent": args.count, "outcomes": dict(outcomes),
                      "seconds": round(time.monotonic() - started, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
