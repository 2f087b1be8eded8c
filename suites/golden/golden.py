"""Compare output with a checked-in expected file; `--update-golden` rewrites it."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest


def check_golden(request: pytest.FixtureRequest, actual: str, expected_path: Path) -> None:
    if request.config.getoption("--update-golden"):
        expected_path.write_text(actual)
        return
    if not expected_path.exists():
        pytest.fail(f"no golden file {expected_path}; run pytest --update-golden and review it")
    expected = expected_path.read_text()
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            str(expected_path), "actual"))
        pytest.fail(f"output differs from {expected_path.name}:\n{diff}")
