"""`make test`'s parallel groups take effect: tests of one group run on one worker.

The checked-in compose file's lab may never be up twice, and host-wide tests never
beside a lab coming up, so the grouping is a correctness matter, not only a speed one. A run
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
TESTS = '''
import pytest

@pytest.mark.parametrize("n", range(6))
@pytest.mark.xdist_group("lab-a")
def test_a(n):
    pass

@pytest.mark.parametrize("n", range(6))
@pytest.mark.xdist_group("lab-b")
def test_b(n):
    pass
'''


def test_a_group_runs_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_groups.py").write_text(TESTS)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p",
                           "no:allure_pytest", "-n", "2", "--dist", "loadgroup", "-v",
                           str(tmp_path)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:]
    workers: dict[str, set[str]] = defaultdict(set)
    for line in done.stdout.splitlines():
        found = re.search(r"\[(gw\d)\].*PASSED .*::test_(a|b)\[", line)
        if found:
            workers[found.group(2)].add(found.group(1))
    assert set(workers) == {"a", "b"}, done.stdout[-2000:]
    assert all(len(ran_on) == 1 for ran_on in workers.values()), dict(workers)


def test_the_suites_give_each_docker_lab_module_a_group_of_its_own() -> None:
    """The project's rule itself: docker labs of two modules run side by side (each has
    a stand-in slice); the checked-in compose file's lab, whichever module brings it up,
    one at a time."""
    from suites.conftest import COMPOSE_LAB_GROUP, parallel_group

    class Item:
        def __init__(self, nodeid: str, fixturenames: tuple[str, ...] = ()) -> None:
            self.nodeid, self.fixturenames = nodeid, fixturenames

        def get_closest_marker(self, name: str) -> object:
            return None

    docker = {parallel_group(Item(f"suites/functional/{m}.py::t[docker]"), "docker")
              for m in ("cloud/test_x", "lab/test_y")}
    assert docker == {"suites/functional/cloud/test_x.py", "suites/functional/lab/test_y.py"}
    compose = {parallel_group(Item(f"suites/functional/{m}.py::t[docker]", ("minimal_lab",)),
                              "docker") for m in ("connector/test_x", "lab/test_y")}
    assert compose == {COMPOSE_LAB_GROUP}
    assert parallel_group(Item("suites/functional/lab/test_y.py::t[netns]", ("minimal_lab",)),
                          "netns") == "suites/functional/lab/test_y.py"
    assert parallel_group(Item("suites/unit/test_u.py::t"), "unit") is None


def test_host_wide_tests_run_with_the_quiet_ones_alone() -> None:
    """A test that reads the host's own state is `quiet` as collected: `make test`'s
    parallel part leaves it out, its quiet part runs it."""
    module = "suites/functional/lab/test_sealed.py"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def collected(expression: str) -> list[str]:
        done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                               "-o", "addopts=", "--collect-only", "-q", "-m", expression,
                               module], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        return [line for line in done.stdout.splitlines() if line.startswith(module)]

    assert collected("quiet"), "the host-wide module collected no quiet test"
    assert collected("not quiet") == []


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
                                   "[cloud=('aws-natgw', 'netns')]"}
