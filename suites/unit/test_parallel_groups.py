"""`make test`'s parallel groups take effect: tests of one group run on one worker.

The docker tier may never run on two workers at once (two labs' networks would
overlap), so the grouping is a correctness matter, not only a speed one. A run
of pytest-xdist is made here on a few tests that carry the project's groups
(suites/conftest.py's rule, through its own hook), and every test of a group
must report the same worker. (pytest-xdist once stopped grouping silently with
a newer pytest: pytest-dev/pytest-xdist#1386.)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
# Two labs, as the suites make them: a module-scoped fixture with a parameter per lab
# (the cloud suite's topologies), its tests in the netns tier. The groups come from the
# suites' own hook, so the names xdist reads are the ones a real run gives it.
TESTS = '''
import pytest

@pytest.fixture(scope="module", params=[("lab-a", "netns"), ("lab-b", "netns")],
                ids=["lab-a", "lab-b"])
def lab(request):
    return request.param

@pytest.mark.netns
@pytest.mark.parametrize("n", range(6))
def test_t(lab, n):
    pass
'''
CONFTEST = "from suites.conftest import pytest_itemcollected  # noqa: F401\n"


def test_a_group_runs_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_groups.py").write_text(TESTS)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p",
                           "no:allure_pytest", "-n", "2", "--dist", "loadgroup", "-v",
                           str(tmp_path)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:]
    workers: dict[str, set[str]] = defaultdict(set)
    for line in done.stdout.splitlines():
        found = re.search(r"\[(gw\d)\].*PASSED .*::test_t\[(lab-a|lab-b)-", line)
        if found:
            workers[found.group(2)].add(found.group(1))
    assert set(workers) == {"lab-a", "lab-b"}, done.stdout[-2000:]
    assert all(len(ran_on) == 1 for ran_on in workers.values()), dict(workers)


def test_the_suites_put_the_docker_tests_in_two_groups() -> None:
    """The project's rule itself: the cloud suites' docker tests one group, every other
    docker test the other; a netns module its own; unit tests none."""
    from suites.fixtures.parallel_groups import parallel_group

    class Item:
        def __init__(self, nodeid: str) -> None:
            self.nodeid = nodeid

    def group(module: str, tier: str = "docker") -> str | None:
        return parallel_group(Item(f"suites/{module}.py::t[{tier}]"), tier)  # type: ignore[arg-type]

    clouds = {group(f"functional/cloud/test_{m}") for m in ("x", "y")}
    others = {group(f"functional/{m}") for m in ("lab/test_y", "connector/test_z",
                                                   "scenarios/test_s")}
    assert len(clouds) == len(others) == 1
    assert clouds != others
    assert group("functional/lab/test_y", "netns") == "suites/functional/lab/test_y.py"
    assert group("unit/test_u", "unit") is None


def test_a_host_wide_test_must_be_quiet(tmp_path: Path) -> None:
    """It reads the host's links or restarts the engine: beside another worker's lab it
    would see that lab, or break it. Collection refuses it unless it runs alone."""
    (tmp_path / "test_wide.py").write_text(
        "import pytest\n\n@pytest.mark.netns\n@pytest.mark.host_wide\n"
        "def test_w():\n    pass\n")
    (tmp_path / "conftest.py").write_text(
        "from suites.conftest import pytest_collection_modifyitems  # noqa: F401\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p",
                           "no:allure_pytest", "--collect-only", "-q", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 4, done.stdout[-2000:] + done.stderr[-2000:]
    assert "host_wide but not quiet" in done.stdout + done.stderr


def test_a_module_s_labs_of_each_parameter_are_groups_of_their_own() -> None:
    """A module whose lab is a parametrized module-scoped fixture gives one group per
    parameter (each worker brings up the labs of its groups); a parameter of one test
    alone (function scope) does not split the lab's tests apart."""
    from types import SimpleNamespace

    from suites.conftest import parallel_group

    def item(lab: str, case: int) -> object:
        fixtures = {"cloud": [SimpleNamespace(scope="module")],
                    "case": [SimpleNamespace(scope="function")]}
        return SimpleNamespace(nodeid=f"suites/functional/cloud/test_c.py::t[{lab}-{case}]",
                               callspec=SimpleNamespace(params={"cloud": (lab, "netns"),
                                                                "case": case}),
                               _fixtureinfo=SimpleNamespace(name2fixturedefs=fixtures),
                               get_closest_marker=lambda name: None)

    groups = {lab: {parallel_group(item(lab, case), "netns") for case in range(3)}
              for lab in ("aws-natgw", "gcp-cloudnat")}
    assert all(len(one) == 1 for one in groups.values()), groups
    assert groups["aws-natgw"] != groups["gcp-cloudnat"]
    assert groups["aws-natgw"] == {"suites/functional/cloud/test_c.py"
                                   "::cloud=('aws-natgw', 'netns')"}


def test_host_wide_tests_run_last_and_long_ones_first() -> None:
    """The docker group stops for a host_wide test (its pool emptied, no lab brought up
    ahead across it): at its end it stops once."""
    from suites.conftest import run_order

    class Item:
        def __init__(self, name: str, *markers: str) -> None:
            self.name, self.markers = name, markers

        def get_closest_marker(self, name: str) -> object:
            return object() if name in self.markers else None

    items = [Item("a", "docker"), Item("w", "host_wide"), Item("b", "docker"),
             Item("f", "load"), Item("c", "netns")]
    assert [i.name for i in sorted(items, key=run_order)] == ["f", "a", "b", "c", "w"]


def test_the_longest_work_units_go_out_first() -> None:
    """A group's expected time is its modules' recorded test time shared over their
    tests; the longest group is first, a group's tests stay in their order, the load
    tests still lead and host_wide ones still end the run."""
    from suites.conftest import run_order
    from suites.fixtures.parallel_groups import unit_seconds

    class Item:
        def __init__(self, nodeid: str, group: str | None, *markers: str) -> None:
            self.nodeid, self.group, self.markers = nodeid, group, markers

        def get_closest_marker(self, name: str) -> object:
            if name == "xdist_group":
                return pytest.mark.xdist_group(self.group).mark if self.group else None
            return object() if name in self.markers else None

    items = [Item("c.py::t1", "c"), Item("s.py::t1", "s"), Item("c.py::t2", "c"),
             Item("u.py::t", None, "unit"), Item("s.py::t2", "s"),
             Item("w.py::t", "w", "host_wide"), Item("f.py::t", None, "load")]
    recorded = {"c.py": 10.0, "s.py": 200.0, "u.py": 1.0, "w.py": 500.0, "f.py": 60.0}
    seconds = unit_seconds(items, recorded)  # type: ignore[arg-type]
    assert seconds == {"c": 10.0, "s": 200.0, "u.py::t": 1.0, "w": 500.0, "f.py::t": 60.0}
    ordered = sorted(items, key=lambda i: run_order(i, seconds))  # type: ignore[arg-type]
    assert [i.nodeid for i in ordered] == ["f.py::t", "s.py::t1", "s.py::t2", "c.py::t1",
                                           "c.py::t2", "u.py::t", "w.py::t"]


def test_recorded_module_times_are_read_or_none(tmp_path: Path) -> None:
    from suites.fixtures.parallel_groups import recorded_module_seconds

    path = tmp_path / "tests.json"
    path.write_text('{"modules": {"a.py": {"test_s": 12.5, "tests": 3}}}')
    assert recorded_module_seconds(path) == {"a.py": 12.5}
    path.write_text("{not json")
    assert recorded_module_seconds(path) == {}
    assert recorded_module_seconds(tmp_path / "none.json") == {}
