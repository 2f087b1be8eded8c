"""The connector's DNS answers per second against unbound's, same client, path and names.

The servers sit on the service subnet of bench/topologies/dns-bench.yaml and
answer the same 5,000 names from memory (the connectors from their synthetic
pools, unbound from local data): cc1 with runtime.dns_fast_path (a question asked
again is answered by its routed tc program, each answer logged by user space
after), cc2 without (user space answers every query). dnsperf runs in the client
node against each in turn, several rounds; the figures are the median of each,
and a ratio is the median of the rounds' own ratios (a round runs all back to
back, under the same load of a shared machine). How many of cc1's answers its
kernel gave is read from its metrics. Writes reports/bench/connector.json.
Target (issue #19): at least 1.0x.
"""

from __future__ import annotations

import os
import re
import statistics
import time
from pathlib import Path
from typing import Any

from bench.lab_run import in_lab, write_part
from lab.api import LabHandle
from reports.figures import bound

TOPOLOGY = Path(__file__).parent / "topologies" / "dns-bench.yaml"
RECORDS = Path(__file__).parent / "topologies" / "bench-records.txt"
OUT = Path("reports/bench/connector.json")
ROUNDS = int(os.environ.get("CCLAB_BENCH_ROUNDS", "5"))  # quick runs: a steadier median
SECONDS = int(os.environ.get("CCLAB_BENCH_SECONDS", "8"))
SERVERS = {"connector": "10.10.3.31", "connector_user_space": "10.10.3.32",
           "unbound": "10.10.3.40"}
METRICS = "http://10.10.2.21:9100/metrics"  # cc1's management address


def dnsperf(lab: LabHandle, server: str, queries: Path, *extra: str) -> dict[str, float]:
    out = lab.exec("client", "dnsperf", "-s", server, "-d", str(queries), "-c", "4",
                   "-q", "64", "-t", "2", *extra, timeout=SECONDS + 60).stdout
    return {"qps": _number(out, r"Queries per second:\s+([\d.]+)"),
            "completed": _number(out, r"Queries completed:\s+(\d+)"),
            "lost_pct": _number(out, r"Queries lost:\s+\d+ \(([\d.]+)%\)"),
            "latency_avg_ms": 1000 * _number(out, r"Average Latency \(s\):\s+([\d.]+)")}


def _number(text: str, pattern: str) -> float:
    found = re.search(pattern, text)
    if not found:
        raise RuntimeError(f"dnsperf output lacks {pattern!r}:\n{text}")
    return float(found.group(1))


def kernel_answered(lab: LabHandle) -> float:
    """cc1's answers its routed program gave, as its metrics count them (drained)."""
    text = lab.exec("fabric", "curl", "-s", "-m", "3", METRICS).stdout
    found = re.search(r"^cclab_connector_dns_fast_path_answered_total (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def measure(lab: LabHandle) -> dict[str, Any]:
    queries = lab.run_dir / "bench-queries.txt"
    queries.write_text("".join(f"{line.split()[0]} A\n"
                               for line in RECORDS.read_text().splitlines() if line))
    for server in SERVERS.values():  # warm-up: every name once (the connector allocates)
        dnsperf(lab, server, queries, "-n", "1")
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in SERVERS}
    before = kernel_answered(lab)
    for _ in range(ROUNDS):
        for name, server in SERVERS.items():
            runs[name].append(dnsperf(lab, server, queries, "-l", str(SECONDS)))
    time.sleep(0.5)  # the last records drained (every 50 ms)
    by_kernel = kernel_answered(lab) - before
    medians = {name: statistics.median(r["qps"] for r in rs) for name, rs in runs.items()}
    # Each round runs every server back to back, under the same load of this shared
    # machine: a ratio is the median of the rounds' own ratios.
    ratios = {name: [c["qps"] / u["qps"] for c, u in zip(runs[name], runs["unbound"],
                                                          strict=True)]
              for name in ("connector", "connector_user_space")}
    return {"what": "DNS A queries answered per second, 5,000 names, dnsperf -c 4 -q 64",
            "rounds": ROUNDS, "seconds_per_run": SECONDS,
            "connector_qps_median": round(medians["connector"]),
            "connector_user_space_qps_median": round(medians["connector_user_space"]),
            "unbound_qps_median": round(medians["unbound"]),
            "ratio": round(statistics.median(ratios["connector"]), 3),
            "ratio_per_round": [round(r, 3) for r in ratios["connector"]],
            "user_space_ratio": round(statistics.median(ratios["connector_user_space"]), 3),
            "user_space_ratio_per_round": [round(r, 3)
                                           for r in ratios["connector_user_space"]],
            "kernel_answered_share": round(
                by_kernel / max(1.0, sum(r["completed"] for r in runs["connector"])), 3),
            "target_ratio": bound("connector:dns"), "runs": runs,
            "how": "cc1 with runtime.dns_fast_path: its routed tc program answers a "
                   "question asked again from user space's answer, and user space logs, "
                   "counts and holds the address for each answer from the records it "
                   "drains every 50 ms; cc2 answers every query in user space",
            "limit": "user space answers in one CPython thread; sampled in this lab "
                     "(py-spy), over half its time is the two system calls a query "
                     "(recvmsg with the original destination about a quarter, sendto "
                     "from a transparent socket, inside which the kernel routes the "
                     "answer to the client, about three tenths), the rest CPython: a "
                     "remembered decision, the guard, the pool, the log line; unbound is "
                     "C with one thread here"}


def main() -> None:
    dns = in_lab(TOPOLOGY, "bench-dns", measure)
    write_part(OUT, "dns", dns)
    print(f"connector DNS: {dns['connector_qps_median']} q/s (kernel answers, "
          f"{dns['kernel_answered_share']:.0%} of them by the kernel), user space "
          f"{dns['connector_user_space_qps_median']} q/s, unbound "
          f"{dns['unbound_qps_median']} q/s, ratios {dns['ratio']} and "
          f"{dns['user_space_ratio']} (target {dns['target_ratio']})")


if __name__ == "__main__":
    main()
