"""The CI guard: with CI=true, a skipped test of the netns, docker or load tier fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
TESTS = '''
import pytest

@pytest.mark.netns
def test_lab():
    pytest.skip("needs root (network namespaces)")

@pytest.mark.unit
def test_pure():
    pytest.skip("a unit skip is not the guard's business")

@pytest.mark.unit
def test_passes():
    assert True
'''


def _run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["suites.fixtures.ci_guard"]\n'
        "def pytest_configure(config):\n"
        "    for tier in ('unit', 'netns'):\n"
        "        config.addinivalue_line('markers', tier)\n")
    (tmp_path / "test_tiers.py").write_text(TESTS)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:allure_pytest", str(tmp_path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_in_ci_a_skipped_lab_test_fails_the_run_and_says_why(tmp_path: Path) -> None:
    done = _run(tmp_path, "true")
    assert done.returncode == 1, done.stdout
    assert "[netns] test_tiers.py::test_lab: needs root (network namespaces)" in done.stdout
    assert "test_pure" not in done.stdout.split("CI:")[1]


def test_outside_ci_a_skip_stays_a_skip(tmp_path: Path) -> None:
    done = _run(tmp_path, None)
    assert done.returncode == 0, done.stdout
    assert "2 skipped" in done.stdout


XFAIL = '''
import pytest

@pytest.mark.netns
@pytest.mark.xfail(strict=False, reason="quarantined")
def test_lab_known_to_fail():
    assert 96 >= 99
'''


def test_in_ci_an_expected_failure_ran_and_is_not_a_skip(tmp_path: Path) -> None:
    (tmp_path / "test_xfail.py").write_text(XFAIL)
    done = _run(tmp_path, "true")
    assert "1 xfailed" in done.stdout, done.stdout
    listed = done.stdout.split("CI:")[1]  # the guard's list (test_lab's skip is in it)
    assert "test_lab" in listed
    assert "test_lab_known_to_fail" not in listed
