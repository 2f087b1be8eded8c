"""Suite-wide configuration: fixture plugins and the one-tier-per-test rule."""

from __future__ import annotations

import pytest

pytest_plugins = ["suites.fixtures.lab"]

TIERS = ("unit", "golden", "netns", "docker", "load")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden expected files from the current output")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test belongs to exactly one tier, so each tier can run alone."""
    for item in items:
        tiers = [m.name for m in item.iter_markers() if m.name in TIERS]
        if len(set(tiers)) != 1:
            raise pytest.UsageError(
                f"{item.nodeid}: needs exactly one tier marker of {TIERS}, has {tiers}"
            )
