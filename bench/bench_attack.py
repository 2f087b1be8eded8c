"""How long `cclab attack` takes on each shipped cloud topology, beside `cclab up` + `cclab down`
of the same topology measured in the same run (the floor: attack builds and removes it).

Each run is the real command line in a subprocess, as a user types it. Writes
reports/bench/attack.json. Issue 16's target: under 60 s on this machine.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reports.figures import bound

RUNS = int(os.environ.get("CCLAB_BENCH_RUNS", "1"))
OUT = Path("reports/bench/attack.json")
TARGET_S = bound("attack:run")  # reports/figures.py's table of targets


def _timed(*args: str) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lab.cli", *args], check=False,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    return time.perf_counter() - started, done.returncode


def measure(topology: str) -> dict[str, object]:
    name = f"bench-{os.getpid()}"
    attacks, floors, codes = [], [], []
    for _ in range(RUNS):
        try:
            up, _ = _timed("up", topology, "--name", name)
        finally:
            down, _ = _timed("down", "--name", name)
        floors.append(up + down)
        with tempfile.TemporaryDirectory() as folder:
            seconds, code = _timed("attack", topology, "-o", folder)
        attacks.append(seconds)
        codes.append(code)
    attack, floor = statistics.median(attacks), statistics.median(floors)
    return {"topology": topology, "runs": RUNS, "attack_median_s": round(attack, 3),
            "up_down_median_s": round(floor, 3), "attack_to_up_down": round(attack / floor, 2),
            "exit_codes": codes}


def main() -> None:
    from lab.catalog import shipped_topologies

    names = [n for n in shipped_topologies() if n.startswith(("aws-", "azure-", "insecure"))]
    results = [measure(name) for name in names]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"backend": "netns", "target_s": TARGET_S, "results": results},
                              indent=2) + "\n")
    for r in results:
        print(f"attack {r['topology']}: {r['attack_median_s']} s (up + down "
              f"{r['up_down_median_s']} s, exit {r['exit_codes']})")


if __name__ == "__main__":
    main()
