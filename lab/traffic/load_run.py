"""`make load`: a headless locust run from a workload node of a fresh lab, with thresholds.

Brings the topology up (netns; locust runs from the project's venv inside the
workload's namespace), runs lab/traffic/locust/locustfile.py against the
connector for the given users and duration, writes CSV and HTML to
reports/load/, always takes the lab down, and exits with locust's code: 0 when
the thresholds held (failure ratio, 95th percentile), 1 when not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from lab.api import up
from lab.errors import LabError

LOCUSTFILE = Path(__file__).parent / "locust" / "locustfile.py"
OUT = Path("reports/load")


def locust_argv(args: argparse.Namespace, prefix: Path) -> list[str]:
    locust = shutil.which("locust", path=str(Path(sys.executable).parent)) or "locust"
    return [locust, "-f", str(LOCUSTFILE), "--headless", "-u", str(args.users), "-r",
            str(args.spawn_rate), "-t", args.duration, "--host", f"http://{args.web}",
            "--dns-server", args.dns_server, "--csv", str(prefix), "--html",
            f"{prefix}.html", "--max-fail-ratio", str(args.max_fail_ratio), "--max-p95-ms",
            str(args.max_p95_ms), "--only-summary"]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.traffic.load_run", description=__doc__)
    parser.add_argument("--topology", default="minimal")
    parser.add_argument("--node", default="workload1")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=int, default=10)
    parser.add_argument("--duration", default="30s", help="locust's -t (at most 10m)")
    parser.add_argument("--web", default="198.18.10.10")
    parser.add_argument("--dns-server", default="10.10.3.31")
    parser.add_argument("--max-fail-ratio", type=float, default=0.01)
    parser.add_argument("--max-p95-ms", type=float, default=500.0)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    prefix = (OUT / args.topology).resolve()
    try:
        with up(args.topology, instance=f"load-{os.getpid()}"[:31]) as lab:
            print(f"load: {args.users} users for {args.duration} from {args.node} "
                  f"({args.topology})", file=sys.stderr)
            result = lab.exec(args.node, *locust_argv(args, prefix), check=False, timeout=700)
    except LabError as exc:
        print(f"load: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr[-4000:])
    print(f"load: CSV {prefix}_stats.csv, HTML {prefix}.html; exit {result.returncode}",
          file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
