"""Connector failover: one connector killed mid-traffic, how long its flows see nothing.

The gwlb lab (two connectors behind the GWLB, health checks every second,
unhealthy after 3 missed answers). workload1 pings the web server every 10 ms
(one ICMP flow, so one connector carries it); when the GWLB's log shows which,
that connector's process is killed (SIGKILL, by the PID the lab recorded). The
gap is the longest silence between two echo replies around the kill; the
reference is the health-check window the same run configured (interval x
unhealthy threshold): the GWLB cannot move a flow sooner. The killed connector
is started again between runs. Median of RUNS; reports/bench/failover.json.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

from lab.api import LabHandle, bring_up
from lab.events import Mark

RUNS = int(os.environ.get("CCLAB_BENCH_RUNS", "3"))
OUT = Path("reports/bench/failover.json")
WEB, PING_INTERVAL_S, PING_COUNT = "198.18.10.10", 0.01, 1200
TARGETS = {"10.10.3.31": "cc1", "10.10.3.32": "cc2"}


def _healthy(lab: LabHandle, target: str, after: Mark) -> None:
    lab.wait_event("gwlb", "gwlb.target_healthy", lambda e: e.get("target") == target,
                   after=after, timeout=30)


def _carrier(lab: LabHandle) -> str:
    """The connector the GWLB gives the ping's flow now: its last assignment (a flow is
    logged when first seen and when rebalanced; the GWLB remembers it across runs)."""
    lab.wait_event("gwlb", "gwlb.flow", _is_ping, after=Mark.BEGINNING, timeout=10)
    newest = [e for e in lab.events("gwlb", "gwlb.flow") if _is_ping(e)][-1]
    return TARGETS[newest["target"]]


def _is_ping(event: dict[str, object]) -> bool:
    return (event.get("proto") == 1 and event.get("src") == "10.10.1.11"
            and event.get("dst") == WEB)


def _pid(lab: LabHandle, node: str) -> int:
    return int(next(p["pid"] for p in lab.backend.status()["processes"]
                    if p["node"] == node and p["kind"] == "connector"))


def one_run(lab: LabHandle) -> dict[str, float | str]:
    replies: list[float] = []

    def ping() -> None:
        out = lab.exec("workload1", "ping", "-D", "-n", "-i", str(PING_INTERVAL_S), "-c",
                       str(PING_COUNT), "-W", "1", WEB, check=False, timeout=60).stdout
        replies.extend(float(t) for t in re.findall(r"^\[(\d+\.\d+)\] \d+ bytes from", out,
                                                    re.MULTILINE))

    pinging = threading.Thread(target=ping)
    pinging.start()
    time.sleep(2)
    victim = _carrier(lab)
    killed_at = time.time()
    os.kill(_pid(lab, victim), signal.SIGKILL)
    pinging.join(90)
    after = [t for t in replies if t >= killed_at]
    before = [t for t in replies if t < killed_at]
    if not before or not after:
        raise RuntimeError(f"no replies around the kill ({len(before)} before, {len(after)} after)")
    gap = after[0] - before[-1]
    restarted = lab.mark()
    lab.restart_service(victim, "connector")
    _healthy(lab, next(a for a, n in TARGETS.items() if n == victim), restarted)
    return {"killed": victim, "gap_s": round(gap, 3), "replies": len(replies)}


def main() -> None:
    lab = bring_up("gwlb", instance=f"bench-failover-{os.getpid()}")
    try:
        for target in TARGETS:
            _healthy(lab, target, Mark.BEGINNING)
        runs = [one_run(lab) for _ in range(RUNS)]
    finally:
        lab.down()
    service = lab.topology.node("gwlb").services[0]
    interval = float(service.option("interval") or 10)
    unhealthy = int(service.option("unhealthy") or 3)
    gap = statistics.median(float(r["gap_s"]) for r in runs)
    window = interval * unhealthy
    result = {"benchmark": "connector killed mid-traffic: longest silence of a running flow",
              "gap_median_s": round(gap, 3), "health_window_s": window,
              "ratio_to_window": round(gap / window, 2), "runs": runs,
              "ping_interval_s": PING_INTERVAL_S}
    print(f"  failover gap {gap:.2f} s (health-check window {window:g} s)", file=sys.stderr)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
