"""`make test`'s parallel groups take effect: tests of one group run on one worker.

The modules that share a lab from one worker's pool must run on that worker, so the
grouping is a correctness matter, not only a speed one. A run
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


def test_the_suites_put_docker_tests_in_two_groups() -> None:
    """The project's rule itself: DOCKER_BESIDE's modules in one docker group, the rest
    in another with every test on a lab lent from the pool (one worker's pool lends
    them on; the compose file's fixed names are among them), host-wide ones apart."""
    from suites.conftest import DOCKER_BESIDE, parallel_group

    class Item:
        def __init__(self, nodeid: str, host_wide: bool = False,
                     params: dict[str, object] | None = None) -> None:
            self.nodeid, self.host_wide = nodeid, host_wide
            self.callspec = type("CallSpec", (), {"params": params or {}})()

        def get_closest_marker(self, name: str) -> object:
            return object() if name == "host_wide" and self.host_wide else None

    pooled = {parallel_group(Item(f"suites/functional/{m}.py::t[docker]",
                                  params={fixture: "docker"}), "docker")
              for m, fixture in (("lab/test_y", "minimal_lab"), ("connector/test_x", "gwlb_lab"),
                                 ("lab/test_w", "minimal_lab"))}
    beside = {parallel_group(Item(f"{m}::t[x-docker]", params={"cloud": ("x", "docker")}),
                             "docker") for m in DOCKER_BESIDE}
    own = parallel_group(Item("suites/functional/cloud/test_v.py::t[x-docker]",
                              params={"cloud": ("x", "docker")}), "docker")
    assert len(pooled) == len(beside) == 1, (pooled, beside)
    assert pooled != beside
    assert own in pooled  # a lab of its own, not beside: with the pooled ones
    pooled_beside = parallel_group(Item(f"{sorted(DOCKER_BESIDE)[0]}::t[docker]",
                                        params={"minimal_lab": "docker"}), "docker")
    assert pooled_beside in pooled  # a lent lab stays with its pool's worker
    host = parallel_group(Item("suites/functional/lab/test_z.py::t", True), "netns")
    assert host not in pooled | beside
    assert parallel_group(Item("suites/functional/lab/test_y.py::t[netns]"), "netns") == \
        "suites/functional/lab/test_y.py"
    assert parallel_group(Item("suites/unit/test_u.py::t"), "unit") is None


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
