"""Load through the connector: DNS queries and HTTP from a workload node.

    make load                       # minimal lab, 20 users, 30 s, thresholds decide
    locust -f lab/traffic/locust/locustfile.py --headless -u 20 -r 10 -t 30s \
        --dns-server 10.10.3.31 --host http://198.18.10.10

Each DNS task expects an outcome (a Direct name: `answer`, a ZPA name:
`synthetic`, a blocked name: `dropped`); a query counts as a failure only when
the outcome differs, so refusals, drops and synthetic answers are counted as
what they are. Request type `DNS`, name `<expected> <qname>`. At the end,
`--max-fail-ratio` and `--max-p95-ms` decide the exit code.

Distributed: `make load WORKERS=N` (lab/traffic/load_run.py) runs a master and N
workers in the lab's workload nodes. Beyond one machine, the same: `--master` on
one, `--worker --master-host HOST` on each other one, each worker inside a
workload's network, started with the same locustfile and options.
"""

from __future__ import annotations

import itertools
import os
import time
from ipaddress import IPv4Network
from typing import Any

from locust import HttpUser, User, between, events, task
from locust.runners import WorkerRunner

from lab.traffic.locust.dns_client import DnsProbe

# A new name per query (the connector limits identical answers per name and
# /24, RRL): Direct names resolve by the lab's wildcard, ZPA names fall in the
# *.partner.example segment, blocked names in *.blocked.example.
DOMAINS = {"answer": "load.web.example", "synthetic": "load.partner.example",
           "dropped": "load.blocked.example"}


@events.init_command_line_parser.add_listener  # type: ignore[untyped-decorator]
def _options(parser: Any) -> None:
    parser.add_argument("--dns-server", default="10.10.3.31", help="the connector's service IP")
    parser.add_argument("--synthetic-pool", default="10.254.0.0/19")
    parser.add_argument("--max-fail-ratio", type=float, default=0.01)
    parser.add_argument("--max-p95-ms", type=float, default=500.0)


@events.quitting.add_listener  # type: ignore[untyped-decorator]
def _thresholds(environment: Any, **_: Any) -> None:
    """The run fails (exit 1) when failures or the 95th percentile exceed the thresholds.
    Judged where the statistics are whole: a single process, or the master (a worker
    sends its statistics to the master as it goes and holds none of its own)."""
    if isinstance(environment.runner, WorkerRunner):
        return
    total = environment.stats.total
    options = environment.parsed_options
    p95 = total.get_response_time_percentile(0.95) or 0.0
    problems = []
    if total.num_requests == 0:
        problems.append("no request was made")
    if total.fail_ratio > options.max_fail_ratio:
        problems.append(f"failure ratio {total.fail_ratio:.3%} > {options.max_fail_ratio:.3%}")
    if p95 > options.max_p95_ms:
        problems.append(f"p95 {p95:.0f} ms > {options.max_p95_ms:.0f} ms")
    for problem in problems:
        print(f"load: threshold missed: {problem}")
    environment.process_exit_code = 1 if problems else 0


_SERIAL = itertools.count(os.getpid() * 1_000_000)


class DnsUser(User):
    """Asks the connector's DNS listener; each outcome checked against what the name expects.

    About one query a second per user, as a workload asks: all users share the
    runner's address, and over 30 queries a second from one address the
    connector blocks it for a minute (spec §9.4; floods are the flood engine's).
    """

    wait_time = between(0.5, 1.5)
    weight = 3

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.probe = DnsProbe(options.dns_server, IPv4Network(options.synthetic_pool))

    def _ask(self, expected: str, timeout: float | None = None) -> None:
        name = f"u{next(_SERIAL)}.{DOMAINS[expected]}"
        started = time.perf_counter()
        outcome = self.probe.ask(name, timeout)
        error = None if outcome.kind == expected else AssertionError(
            f"{name}: expected {expected}, got {outcome.kind}")
        self.environment.events.request.fire(
            request_type="DNS", name=f"{expected} *.{DOMAINS[expected]}",
            response_time=outcome.seconds * 1000,
            response_length=outcome.size, exception=error, context={"outcome": outcome.kind},
            start_time=started)

    @task(6)
    def direct_name(self) -> None:
        self._ask("answer")

    @task(3)
    def zpa_name(self) -> None:
        self._ask("synthetic")

    @task(1)
    def blocked_name(self) -> None:
        self._ask("dropped", timeout=0.3)


class WebUser(HttpUser):
    """GETs a web destination through the connector (Direct)."""

    wait_time = between(0.2, 1.0)
    weight = 1

    @task
    def page(self) -> None:
        with self.client.get("/load", name="GET /load", catch_response=True) as response:
            if "seen_source" not in response.text:
                response.failure("the web server did not log a source")
