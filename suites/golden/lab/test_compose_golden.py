"""The checked-in docker-compose.lab.yml is exactly what `cclab render minimal` writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from suites.golden.golden import check_golden

pytestmark = pytest.mark.golden

ROOT = Path(__file__).resolve().parents[3]


def test_checked_in_compose_file_matches_a_fresh_render(request: pytest.FixtureRequest) -> None:
    # From the repository's root, paths in the file come out relative to it.
    done = subprocess.run([sys.executable, "-m", "lab.cli", "render", "minimal"],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    check_golden(request, done.stdout, ROOT / "docker-compose.lab.yml")
