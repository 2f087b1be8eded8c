"""Suite-wide configuration: fixture plugins, the one-tier-per-test rule, parallel groups.

`make test` runs the suites on six xdist workers (`--dist loadgroup`), then the
`quiet` tests alone (and with them the `host_wide` ones: the host's own state, the
engine restarted). Groups keep together what must follow one another: each of the two
docker groups, and each lab module's tests, so that its module-scoped lab is brought
up once (suites/fixtures/parallel_groups.py).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import Phase, settings

from suites.fixtures.parallel_groups import (
    parallel_group,
    recorded_module_seconds,
    unit_seconds,
    work_unit,
)

pytest_plugins = ["suites.fixtures.lab_pool", "suites.fixtures.teardown_behind",
                  "suites.fixtures.bring_up_ahead",
                  "suites.fixtures.lab", "suites.fixtures.ci_guard"]

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
    parser.addoption("--keep-results", action="store_true",
                     help="add to reports/allure-results instead of starting it afresh")


def pytest_configure(config: pytest.Config) -> None:
    """A run starts with no old results, unless it continues one (`--keep-results`): the
    controller cleans once, before any worker starts."""
    folder = config.getoption("--alluredir", None)
    worker = hasattr(config, "workerinput") or os.environ.get("PYTEST_XDIST_WORKER")
    if folder and not worker and not config.getoption("--keep-results"):
        shutil.rmtree(folder, ignore_errors=True)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Labs of earlier runs that died are removed (by the controller, before any lab of
    this run exists); the run's environment is written for the Allure report."""
    config = session.config
    if not (hasattr(config, "workerinput") or os.environ.get("PYTEST_XDIST_WORKER")):
        _reap_orphaned_labs(config)
    folder = session.config.getoption("--alluredir", None)
    if not folder:
        return
    from reports.environment import environment_properties

    path = Path(folder) / "environment.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(environment_properties())


def _reap_orphaned_labs(config: pytest.Config) -> None:
    if os.geteuid() != 0:
        return  # no lab tier runs without root, and none could have been left
    from suites.fixtures.stale_runs import reap_orphaned_labs

    reaped = reap_orphaned_labs()
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    if reaped.removed:
        reporter.write_line(f"removed {len(reaped.removed)} lab(s) left by test runs that "
                            f"ended without tearing them down: {', '.join(reaped.removed)}")
    for instance, why in reaped.failed.items():
        reporter.write_line(f"could not remove lab '{instance}' left by an earlier run: {why}",
                            yellow=True)


def pytest_itemcollected(item: pytest.Item) -> None:
    """Each lab test gets its parallel group as it is collected (xdist reads the groups
    in its own collection hook, which runs before any conftest's)."""
    tiers = [m.name for m in item.iter_markers() if m.name in TIERS]
    group = parallel_group(item, tiers[0]) if len(set(tiers)) == 1 else None
    if group is not None:
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test belongs to exactly one tier, so each tier can run alone. A test marked
    `labs(names)` runs only on the module lab's parameters naming one of those
    topologies: it is a question only those designs pose, so on the others it is not
    collected at all (a skip would fail CI's skip guard, and rightly: it hides nothing)."""
    kept = [item for item in items if _on_its_labs(item)]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
    for item in items:
        tiers = [m.name for m in item.iter_markers() if m.name in TIERS]
        if len(set(tiers)) != 1:
            raise pytest.UsageError(
                f"{item.nodeid}: needs exactly one tier marker of {TIERS}, has {tiers}"
            )
        item.user_properties.append(("tier", tiers[0]))
        if item.get_closest_marker("host_wide") and not item.get_closest_marker("quiet"):
            raise pytest.UsageError(f"{item.nodeid}: host_wide but not quiet\n    hint: a "
                                    "test of the host's own state must run alone: mark it "
                                    "quiet as well")
    seconds = unit_seconds(items, recorded_module_seconds(RECORDED_TIMES))
    items.sort(key=lambda item: run_order(item, seconds))  # stable: a group stays in order


RECORDED_TIMES = Path(__file__).resolve().parents[1] / "reports" / "bench" / "tests.json"


def run_order(item: pytest.Item, seconds: Mapping[str, float] | None = None
              ) -> tuple[bool, bool, float]:
    """Where a test goes in the run order. First the long tests in no lab's group (the
    100,000-input config fuzz), so they start at once instead of ending the run alone.
    Last the `host_wide` tests (quiet, so in the run that has the machine alone): the
    pool's parked labs are torn down and no lab is brought up ahead across them, so they
    come once, at the end, and the labs lent from module to module come up once.
    Between them, the longest work units first (`seconds`, by work unit), so that no long
    group starts late and ends the parallel part alone."""
    return (item.get_closest_marker("load") is None,
            item.get_closest_marker("host_wide") is not None,
            -seconds.get(work_unit(item), 0.0) if seconds else 0.0)


def _on_its_labs(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("labs")
    callspec = getattr(item, "callspec", None)
    if marker is None or callspec is None:
        return True
    names = set(marker.args[0])
    values = [v for v in callspec.params.values() if isinstance(v, tuple) and v]
    if not values:
        raise pytest.UsageError(f"{item.nodeid}: marked labs() but has no lab parameter")
    return any(v[0] in names for v in values)


# A test's tier and when it started and ended (its fixtures' setup and teardown included)
# go into the JUnit XML as properties: reports/test_times.py makes tier wall times of them.
@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.user_properties.append(("started", f"{time.time():.3f}"))


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    item.user_properties.append(("ended", f"{time.time():.3f}"))
