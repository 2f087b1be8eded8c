"""`python -m lab.traffic.dns_probe`: steady DNS queries, counted by outcome (one JSON line).

What a well-behaved workload sees while something else happens (a flood, a
failover): `--count` queries, one every `--interval` seconds (never faster: after
a timeout the schedule moves on, without a catch-up burst), for `--name`; given
several times, the names are asked in turn, so each name's rate (what the
connector's response limit counts, per name and client /24) is the probe's divided
by how many there are. Each query waits `--timeout`, a truncated answer is asked
again over TCP as a stub resolver does; outcomes as `DnsProbe` names them, and how
many came `over_tcp`. Bounded by count.
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


def next_due(due: float, interval: float, now: float) -> float:
    """When the next query goes: one interval after the last one was due, or now if that is
    past (a query that waited for its timeout). Missed queries are not sent in a burst to
    catch up: a steady client does not, and a burst of one name from one client is what
    the connector's response-rate limit (spec §9.4) is there to cut."""
    return max(due + interval, now)


def names_asked(names: list[str], count: int) -> list[str]:
    """The name of each of `count` questions: `names` in turn."""
    return [names[i % len(names)] for i in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.traffic.dns_probe", description=__doc__)
    parser.add_argument("--server", required=True)
    parser.add_argument("--name", action="append", dest="names",
                        help="a name to ask (repeat it: asked in turn; default www.web.example)")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--pool", default="10.254.0.0/19", help="the synthetic pool")
    args = parser.parse_args(argv)
    if not 0 < args.count <= MAX_COUNT:
        parser.error(f"--count must be 1..{MAX_COUNT}")
    probe = DnsProbe(args.server, IPv4Network(args.pool), args.timeout)
    outcomes: Counter[str] = Counter()
    over_tcp = 0
    started = time.monotonic()
    due = started
    for name in names_asked(args.names or ["www.web.example"], args.count):
        outcome = probe.ask(name)
        outcomes[outcome.kind] += 1
        over_tcp += outcome.tcp
        due = next_due(due, args.interval, time.monotonic())
        time.sleep(max(0.0, due - time.monotonic()))
    print(json.dumps({"sent": args.count, "outcomes": dict(outcomes), "over_tcp": over_tcp,
                      "seconds": round(time.monotonic() - started, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
