"""`make load` end to end: locust from a workload through the connector, thresholds decide."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.load, pytest.mark.quiet, pytest.mark.usefixtures("lab_capable")]

ROOT = Path(__file__).resolve().parents[2]


def _run(*extra: str, duration: str = "8s") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab.traffic.load_run", "--users", "10",
                           "--duration", duration, *extra], capture_output=True, text=True,
                          cwd=ROOT, timeout=180)


def test_load_run_counts_each_outcome_and_passes_its_thresholds() -> None:
    done = _run()
    assert done.returncode == 0, done.stderr[-2000:]
    with open(ROOT / "reports/load/minimal_stats.csv") as f:
        rows = {row["Name"]: row for row in csv.DictReader(f)}
    for name in ("answer *.load.web.example", "synthetic *.load.partner.example",
                 "GET /load"):
        assert int(rows[name]["Request Count"]) > 0, name
        assert int(rows[name]["Failure Count"]) == 0, name
    assert (ROOT / "reports/load/minimal.html").stat().st_size > 0


def test_a_threshold_missed_fails_the_run() -> None:
    """No answer comes in a microsecond: a run of 3 s (the quiet part's time) misses it as
    surely as one of 8, and must fail naming the threshold."""
    done = _run("--max-p95-ms", "0.001", duration="3s")
    assert done.returncode == 1
    assert "threshold missed: p95" in done.stdout + done.stderr


def test_a_distributed_run_merges_what_each_worker_sent() -> None:
    """A master in workload1 and two workers, one in each workload: the master's merged
    count of DNS requests is what the connector itself logged, and it logged queries
    from both workloads (the connector's record is the independent count)."""
    done = _run("--workers", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    with open(ROOT / "reports/load/minimal_stats.csv") as f:
        rows = {row["Name"]: row for row in csv.DictReader(f)}
    dns = sum(int(row["Request Count"]) for name, row in rows.items()
              if row["Type"] == "DNS")
    sources = json.loads((ROOT / "reports/load/minimal_sources.json").read_text())
    assert set(sources) == {"10.10.1.11", "10.10.1.12"}, sources
    logged = sum(sources.values())
    assert dns > 0
    assert abs(logged - dns) <= 10, (logged, dns)  # at most one in flight per user at the end
