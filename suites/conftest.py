"""Suite-wide configuration: fixture plugins and the one-tier-per-test rule."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import Phase, settings

pytest_plugins = ["suites.fixtures.lab"]

# `make mutmut` runs the property tests once per mutant: the same examples every run (the
# same mutants die each time) and no shrinking (a killed mutant needs no minimal example).
settings.register_profile("mutmut", derandomize=True, database=None,
                          phases=(Phase.explicit, Phase.generate))
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])

TIERS = ("unit", "golden", "netns", "docker", "load")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden expected files from the current output")


def pytest_sessionstart(session: pytest.Session) -> None:
    """The run's environment, for the Allure report (environment.properties)."""
    folder = session.config.getoption("--alluredir", None)
    if not folder:
        return
    from reports.environment import environment_properties

    path = Path(folder) / "environment.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(environment_properties())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test belongs to exactly one tier, so each tier can run alone."""
    for item in items:
        tiers = [m.name for m in item.iter_markers() if m.name in TIERS]
        if len(set(tiers)) != 1:
            raise pytest.UsageError(
                f"{item.nodeid}: needs exactly one tier marker of {TIERS}, has {tiers}"
            )
