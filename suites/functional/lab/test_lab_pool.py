"""The lab pool on a real lab: a lab given back unchanged is lent again, and one given
back changed fails the module that changed it and is torn down.

On netns (the same `exec` and `status` the docker labs answer), with a lab of its own
so nothing it breaks is anyone else's. The pool's decisions alone:
suites/unit/test_lab_pool.py.
"""

from __future__ import annotations

from collections.abc import Callable

import allure
import pytest

from lab.api import LabHandle, bring_up
from lab.errors import NotRunningError
from suites.fixtures.lab import unique_instance
from suites.fixtures.lab_pool import LabDisturbed, LabPool, fingerprint

pytestmark = [pytest.mark.netns, pytest.mark.usefixtures("lab_capable")]


def _minimal() -> LabHandle:
    return bring_up("minimal", instance=unique_instance("pool"))


@allure.feature("lab")
@allure.story("Labs shared by modules")
def test_traffic_changes_no_fingerprint_but_a_rule_does() -> None:
    lab = _minimal()
    try:
        lent = fingerprint(lab)
        # traffic moves counters and the conntrack table, neither of which is state
        assert lab.exec("workload1", "ping", "-c", "2", "-i", "0.2", "-W", "1",
                        str(lab.address("web")), check=False).returncode == 0
        assert lent.changes(fingerprint(lab)) == []
        lab.exec("web", "nft", "add", "table", "inet", "leftover")
        changes = lent.changes(fingerprint(lab))
        assert len(changes) == 1
        assert changes[0].startswith("web: ")
        assert "table inet leftover" in changes[0]
        lab.exec("web", "nft", "delete", "table", "inet", "leftover")
        lab.exec("web", "ip", "route", "add", "192.0.2.0/24", "dev", "eth0")
        assert any("192.0.2.0/24" in c for c in lent.changes(fingerprint(lab)))
    finally:
        lab.down()


def _lend_and_leave_a_table(pool: LabPool, make: Callable[[], LabHandle],
                            first: LabHandle) -> None:
    with pool.lend("minimal", make, ready=lambda lab: None) as second:
        assert second is first  # lent again, not brought up anew
        second.exec("workload1", "nft", "add", "table", "ip", "leftover")


@allure.feature("lab")
@allure.story("Labs shared by modules")
def test_a_lab_given_back_unchanged_is_lent_again_and_a_changed_one_fails() -> None:
    made: list[LabHandle] = []

    def make() -> LabHandle:
        made.append(_minimal())
        return made[-1]

    pool = LabPool(wanted=lambda key: True)
    try:
        with pool.lend("minimal", make, ready=lambda lab: None) as first:
            pass
        assert list(pool.parked) == ["minimal"]
        with pytest.raises(LabDisturbed, match=r"(?s)workload1: .*table ip leftover"):
            _lend_and_leave_a_table(pool, make, first)
    finally:
        pool.empty()
    assert len(made) == 1
    assert pool.parked == {}
    with pytest.raises(NotRunningError):
        made[0].backend.status()
