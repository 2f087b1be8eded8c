"""How long `cclab up` and `cclab down` take for the shipped topologies (median of runs).

Each run is the real command line in a subprocess, as a user types it, so the
figure includes Python start-up and the services' readiness. Writes
reports/bench/lab.json. `CCLAB_BENCH_TOPOLOGIES=a,b` measures those only and keeps
the file's figures for the others (a new topology, without re-timing them all).
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
OUT = Path("reports/bench/lab.json")


def _timed(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lab.cli", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    return time.perf_counter() - started


def measure(topology: str) -> dict[str, object]:
    name = f"bench-{os.getpid()}"
    ups, downs = [], []
    for _ in range(RUNS):
        try:
            ups.append(_timed("up", topology, "--name", name))
        finally:
            downs.append(_timed("down", "--name", name))
    return {"topology": topology, "runs": RUNS,
            "up_median_s": round(statistics.median(ups), 3),
            "up_all_s": [round(x, 3) for x in ups],
            "down_median_s": round(statistics.median(downs), 3)}


def main() -> None:
    from lab.catalog import shipped_topologies

    only = [n for n in os.environ.get("CCLAB_BENCH_TOPOLOGIES", "").split(",") if n]
    kept = {r["topology"]: r for r in json.loads(OUT.read_text())["results"]} \
        if only and OUT.exists() else {}
    fresh = {name: measure(name) for name in (only or shipped_topologies())}
    results = [fresh.get(name) or kept[name] for name in shipped_topologies()
               if name in fresh or name in kept]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"backend": "netns", "results": results}, indent=2) + "\n")
    for r in results:
        print(f"lab {r['topology']}: up {r['up_median_s']} s, down {r['down_median_s']} s "
              f"(median of {r['runs']})")


if __name__ == "__main__":
    main()
