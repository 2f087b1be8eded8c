"""How long the docker lab takes to come up: cold (images built) and warm (median of runs).

Times `make lab-up BACKEND=docker` as a user types it, so the figure includes
make, the CLI's start-up, the image check, docker compose and every node's
readiness. Cold removes the lab's images first, so it includes debootstrap of
the base image and the lab image's build (set CCLAB_BENCH_COLD=0 to skip).
The netns backend's figure for the same topology comes from the same run.
Writes reports/bench/docker.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = int(os.environ.get("CCLAB_BENCH_RUNS", "5"))
COLD = os.environ.get("CCLAB_BENCH_COLD", "1") != "0"
OUT = Path("reports/bench/docker.json")


CPU_SPENT: list[float] = []  # the machine's CPU-seconds of each timed command, in order


def _busy_s() -> float:
    """CPU-seconds this machine has spent, every process and the kernel (not idle or iowait):
    a bring-up's work is spread over the CLI, the engine, shims and every node's processes."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _timed(argv: list[str]) -> float:
    started, busy = time.perf_counter(), _busy_s()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=900)
    CPU_SPENT.append(_busy_s() - busy)
    return time.perf_counter() - started


def _make_up(backend: str, name: str) -> float:
    return _timed(["make", "-s", "lab-up", f"BACKEND={backend}", "TOPOLOGY=minimal",
                   f"NAME={name}"])


def _down(name: str) -> float:
    return _timed([sys.executable, "-m", "lab.cli", "down", "--name", name])


def _series(backend: str, name: str) -> tuple[list[float], list[float], list[float]]:
    """Wall seconds of each bring-up and teardown, and CPU-seconds of each bring-up."""
    ups, downs, cpu = [], [], []
    for _ in range(RUNS):
        try:
            ups.append(_make_up(backend, name))
            cpu.append(CPU_SPENT[-1])
        finally:
            downs.append(_down(name))
    return ups, downs, cpu


def main() -> None:
    from lab.images.build import BASE_IMAGE, LAB_IMAGE

    name = f"bench-dk-{os.getpid()}"
    result: dict[str, object] = {"topology": "minimal", "runs": RUNS}
    if COLD:
        subprocess.run(["docker", "rmi", "-f", LAB_IMAGE, BASE_IMAGE], check=False,
                       capture_output=True)
        try:
            result["docker_cold_up_s"] = round(_make_up("docker", name), 2)
        finally:
            _down(name)
    ups, downs, cpu = _series("docker", name)
    ref_ups, ref_downs, ref_cpu = _series("netns", name)
    result.update({
        "docker_warm_up_median_s": round(statistics.median(ups), 3),
        "docker_warm_up_all_s": [round(x, 3) for x in ups],
        "docker_warm_up_cpu_median_s": round(statistics.median(cpu), 2),
        "netns_up_cpu_median_s": round(statistics.median(ref_cpu), 2),
        "docker_down_median_s": round(statistics.median(downs), 3),
        "netns_up_median_s": round(statistics.median(ref_ups), 3),
        "netns_down_median_s": round(statistics.median(ref_downs), 3),
        "docker_to_netns_up_ratio": round(statistics.median(ups) / statistics.median(ref_ups), 2),
    })
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    cold = f"cold {result['docker_cold_up_s']} s, " if COLD else ""
    print(f"docker lab-up minimal: {cold}warm {result['docker_warm_up_median_s']} s "
          f"({result['docker_warm_up_cpu_median_s']} CPU-s; netns "
          f"{result['netns_up_median_s']} s, {result['netns_up_cpu_median_s']} CPU-s), "
          f"down {result['docker_down_median_s']} s")


if __name__ == "__main__":
    main()
