"""`make load`: a headless locust run from workload nodes of a fresh lab, with thresholds.

Brings the topology up (netns; locust runs from the project's venv inside the
workloads' namespaces), runs lab/traffic/locust/locustfile.py against the
connector for the given users and duration, writes CSV and HTML to
reports/load/, always takes the lab down, and exits with locust's code: 0 when
the thresholds held (failure ratio, 95th percentile), 1 when not.

With `--workers N` the run is distributed as locust distributes it: a master
in `--node` and N workers spread over the workload nodes (`--worker-nodes`,
default every node named workload*), each a process of its own talking to the
master over the workloads' subnet; the master merges their statistics and
applies the thresholds. Afterwards the DNS queries the connector logged are
counted per source (`reports/load/<topology>_sources.json`): the connector's
own record of who asked, to set beside locust's merged count.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
from collections import Counter
from pathlib import Path

from lab.api import LabHandle, up
from lab.backends import ExecResult
from lab.errors import LabError

LOCUSTFILE = Path(__file__).parent / "locust" / "locustfile.py"
OUT = Path("reports/load")
MAX_WORKERS = 16


def locust_argv(args: argparse.Namespace, prefix: Path) -> list[str]:
    """The standalone (or master) command line."""
    return [*_common(args), "--headless", "-u", str(args.users), "-r", str(args.spawn_rate),
            "-t", args.duration, "--csv", str(prefix), "--html", f"{prefix}.html",
            "--only-summary"]


def master_argv(args: argparse.Namespace, prefix: Path) -> list[str]:
    return [*locust_argv(args, prefix), "--master", "--expect-workers", str(args.workers)]


def worker_argv(args: argparse.Namespace, master: str) -> list[str]:
    return [*_common(args), "--worker", "--master-host", master]


def _common(args: argparse.Namespace) -> list[str]:
    locust = shutil.which("locust", path=str(Path(sys.executable).parent)) or "locust"
    return [locust, "-f", str(LOCUSTFILE), "--host", f"http://{args.web}",
            "--dns-server", args.dns_server, "--max-fail-ratio", str(args.max_fail_ratio),
            "--max-p95-ms", str(args.max_p95_ms)]


def run_locust(lab: LabHandle, args: argparse.Namespace, prefix: Path) -> ExecResult:
    """One locust process, or a master and its workers; the master's result."""
    if not args.workers:
        return lab.exec(args.node, *locust_argv(args, prefix), check=False, timeout=700)
    master = str(lab.address(args.node))
    nodes = args.worker_nodes or [n.name for n in lab.topology.nodes
                                  if n.name.startswith("workload")]
    workers = [threading.Thread(target=lab.exec, args=(nodes[i % len(nodes)],
                                                      *worker_argv(args, master)),
                                kwargs={"check": False, "timeout": 700}, daemon=True)
               for i in range(args.workers)]
    for worker in workers:
        worker.start()
    result = lab.exec(args.node, *master_argv(args, prefix), check=False, timeout=700)
    for worker in workers:
        worker.join(30)  # a worker quits when its master does
    return result


def dns_sources(lab: LabHandle, connector: str = "cc1") -> dict[str, int]:
    """How many DNS queries the connector logged from each source."""
    return dict(Counter(str(e["src"]) for e in lab.events(connector, "dns.query")))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.traffic.load_run", description=__doc__)
    parser.add_argument("--topology", default="minimal")
    parser.add_argument("--node", default="workload1")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=int, default=10)
    parser.add_argument("--duration", default="30s", help="locust's -t (at most 10m)")
    parser.add_argument("--workers", type=int, default=0,
                        help=f"distributed: a master and this many workers (0-{MAX_WORKERS})")
    parser.add_argument("--worker-nodes", type=lambda s: s.split(","), default=None,
                        help="nodes for the workers, comma-separated (default: workload*)")
    parser.add_argument("--web", default="198.18.10.10")
    parser.add_argument("--dns-server", default="10.10.3.31")
    parser.add_argument("--max-fail-ratio", type=float, default=0.01)
    parser.add_argument("--max-p95-ms", type=float, default=500.0)
    args = parser.parse_args()
    if not 0 <= args.workers <= MAX_WORKERS:
        parser.error(f"--workers must be 0..{MAX_WORKERS}")
    OUT.mkdir(parents=True, exist_ok=True)
    prefix = (OUT / args.topology).resolve()
    try:
        with up(args.topology, instance=f"load-{os.getpid()}"[:31]) as lab:
            how = f"{args.workers} workers" if args.workers else args.node
            print(f"load: {args.users} users for {args.duration} from {how} "
                  f"({args.topology})", file=sys.stderr)
            result = run_locust(lab, args, prefix)
            sources = dns_sources(lab)
    except LabError as exc:
        print(f"load: {exc}", file=sys.stderr)
        return 2
    Path(f"{prefix}_sources.json").write_text(json.dumps(sources, indent=2) + "\n")
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr[-4000:])
    print(f"load: CSV {prefix}_stats.csv, HTML {prefix}.html, DNS sources "
          f"{prefix}_sources.json; exit {result.returncode}", file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
