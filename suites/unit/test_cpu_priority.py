"""`--yield-cpu N`: tests outside the docker group, and what they start, run at nice N;
the docker group's at 0 (suites/fixtures/cpu_priority.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from suites.fixtures.cpu_priority import FIRST_GROUP, niceness_for

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]

# Each test asserts its own niceness and that of a process it starts (as a lab's are).
TESTS = f'''
import os, subprocess, pytest

def _child_nice():
    return int(subprocess.run(["nice"], capture_output=True, text=True).stdout)

@pytest.mark.xdist_group("a-netns-lab")
def test_1_other_group():
    assert os.getpriority(os.PRIO_PROCESS, 0) == 7
    assert _child_nice() == 7

@pytest.mark.xdist_group("{FIRST_GROUP}")
def test_2_docker_group():
    assert os.getpriority(os.PRIO_PROCESS, 0) == 0
    assert _child_nice() == 0

def test_3_no_group():
    assert os.getpriority(os.PRIO_PROCESS, 0) == 7
'''


def test_the_docker_group_runs_first_on_the_cpu_and_the_others_yield() -> None:
    assert niceness_for(FIRST_GROUP, 5) == 0
    assert niceness_for("suites/functional/x.py", 5) == 5
    assert niceness_for(None, 5) == 5
    assert niceness_for(None, 0) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="a process lowers its niceness again only as "
                    "root (make test runs as root)")
def test_a_worker_sets_its_niceness_before_each_test(tmp_path: Path) -> None:
    (tmp_path / "test_nice.py").write_text(TESTS)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "suites.fixtures.cpu_priority", "--yield-cpu", "7",
                           "-o", "addopts=", "--rootdir", str(tmp_path), str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "3 passed" in done.stdout, done.stdout + done.stderr
