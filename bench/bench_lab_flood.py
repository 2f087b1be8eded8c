"""A DNS flood through each cloud lab: what the lab carries end to end, and where it saturates.

For each topology (netns) the flood engine sends the `dns-flood` profile from
workload1 at its top rate, bounded by count and time, to the resolver the
workloads use; the connectors intercept it. Around the flood the benchmark reads
every node's received frames (`ip -s link`, all its interfaces) and the CPU time
of every process in the node's namespace (/proc/PID/stat). The reference is the
engine's own rate in the same run (what workload1 sent); `carried` is what
reached the connectors over that (median of RUNS; the first flood in the fresh
lab, every flow new to it, is kept apart: on 2026-12-01 it carried 0.67-0.72
through the kernel ILBs, whose repeats of the same frames carried all). The
busiest node is the one
whose processes used the most CPU during the flood: a user-space node near one
core (1.0) is where the lab saturates; the kernel's forwarding work is softirq
time and is shown machine-wide. Writes reports/bench/lab_flood.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lab.api import LabHandle, up
from lab.names import LabNames
from lab.traffic.flood.in_lab import run_flood

RUNS = int(os.environ.get("CCLAB_BENCH_RUNS", "3"))
# one lab per load balancer kind: the lab's GWLB (user space), Azure's ILB (kernel), the
# Azure GWLB chain on the inbound side, GCP's passthrough LB (kernel, CLIENT_IP_PROTO)
TOPOLOGIES = ("aws-no-natgw", "azure-no-natgw", "azure-gwlb-no-natgw", "gcp-cloudnat")
ONLY = tuple(n for n in os.environ.get("CCLAB_FLOOD_TOPOLOGIES", "").split(",") if n)
RESOLVER = "198.18.53.53"
COUNT, SECONDS = 3_000_000, 5.0
OUT = Path("reports/bench/lab_flood.json")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Sample:
    rx: dict[str, int]  # node -> frames received on all its interfaces
    cpu_s: dict[str, float]  # node -> CPU seconds of the processes in its namespace
    softirq_s: float  # the whole machine's


def _rx_frames(lab: LabHandle, node: str) -> int:
    links = json.loads(lab.exec(node, "ip", "-j", "-s", "link", "show").stdout)
    return sum(int(link["stats64"]["rx"]["packets"]) for link in links
               if link.get("ifname") != "lo")


def _cpu_seconds(namespace: str) -> float:
    done = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True,
                          check=False)
    total = 0
    for pid in done.stdout.split():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / TICKS


def _softirq_seconds() -> float:
    cpu = Path("/proc/stat").read_text().splitlines()[0].split()
    return int(cpu[7]) / TICKS


def sample(lab: LabHandle) -> Sample:
    names = LabNames(lab.backend.instance)
    nodes = [n.name for n in lab.topology.nodes]
    return Sample({n: _rx_frames(lab, n) for n in nodes},
                  {n: _cpu_seconds(names.node_ns(n)) for n in nodes}, _softirq_seconds())


def one_flood(lab: LabHandle) -> dict[str, object]:
    before = sample(lab)
    report = run_flood(lab.backend, "workload1", "dns-flood", RESOLVER, COUNT, SECONDS)
    after = sample(lab)
    return summarize(before, after, int(report["frames"]), float(report["seconds"]))


def summarize(before: Sample, after: Sample, sent: int, seconds: float) -> dict[str, object]:
    """The run's figures from two samples around a flood of `sent` frames in `seconds`."""
    rx = {n: after.rx[n] - before.rx[n] for n in after.rx}
    cpu = {n: round((after.cpu_s[n] - before.cpu_s[n]) / seconds, 3) for n in after.cpu_s}
    at_connectors = sum(v for n, v in rx.items() if n.startswith("cc"))
    busiest = max((n for n in cpu if n != "workload1"), key=lambda n: cpu[n])
    return {"sent": sent, "seconds": seconds, "sent_pps": round(sent / seconds),
            "connectors_rx_pps": round(at_connectors / seconds),
            "carried": round(at_connectors / sent, 3) if sent else 0.0,
            "busiest": busiest, "busiest_cpu": cpu[busiest],
            "softirq_cpu": round((after.softirq_s - before.softirq_s) / seconds, 3),
            "rx_pps": {n: round(v / seconds) for n, v in sorted(rx.items()) if v > sent / 20},
            "cpu": {n: c for n, c in sorted(cpu.items()) if c >= 0.05}}


def measure(topology: str) -> dict[str, object]:
    with up(topology, instance=f"bench-flood-{os.getpid()}") as lab:
        runs = [one_flood(lab) for _ in range(RUNS)]
    middle = sorted(runs, key=lambda r: float(r["carried"]))[len(runs) // 2]  # type: ignore[arg-type]
    return {"topology": topology, "runs": RUNS,
            "carried_median": statistics.median(float(r["carried"]) for r in runs),  # type: ignore[arg-type]
            "first_carried": runs[0]["carried"],
            "median_run": middle, "all_carried": [r["carried"] for r in runs]}


def main() -> None:
    """Every topology, or `CCLAB_FLOOD_TOPOLOGIES=a,b` only (the file keeps the others')."""
    kept = {r["topology"]: r for r in json.loads(OUT.read_text())["results"]} \
        if ONLY and OUT.exists() else {}
    results = []
    for name in dict.fromkeys([*TOPOLOGIES, *ONLY]):
        if ONLY and name not in ONLY:
            if name in kept:
                results.append(kept[name])
            continue
        result = measure(name)
        run = result["median_run"]
        assert isinstance(run, dict)
        print(f"lab flood {name}: sent {run['sent_pps']:,} frames/s, "
              f"{run['connectors_rx_pps']:,} reached the connectors "
              f"(carried {result['carried_median']}); busiest {run['busiest']} "
              f"at {run['busiest_cpu']} of a core, softirq {run['softirq_cpu']}")
        results.append(result)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"backend": "netns", "profile": "dns-flood",
                               "count": COUNT, "seconds": SECONDS, "results": results},
                              indent=2) + "\n")


if __name__ == "__main__":
    main()
