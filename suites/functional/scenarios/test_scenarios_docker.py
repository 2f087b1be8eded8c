"""The fault kinds whose mechanism differs by backend, on the docker lab: SIGKILL to
the connector from inside its node's container (its own PID space), and the reaping of
what it left in its process group before it is started again; and the GWLB's
deregistration and registration of a connector, by the control on the GWLB
container's own loopback (lab/scenario/faults.py, lab/nodes/gwlb_control.py). The
scenario files' own bounds, as on netns; one lab for both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import allure
import pytest

from lab.api import LabHandle
from lab.scenario.schema import load_scenario
from suites.fixtures.bring_up_ahead import lab_recipe, shipped_on_backend
from suites.fixtures.lab import made, wait_targets_healthy
from suites.fixtures.teardown_behind import remover
from suites.functional.scenarios.played import play_and_check

pytestmark = pytest.mark.docker
SCENARIOS = Path(__file__).resolve().parents[3] / "lab" / "scenarios"
KILL, REMOVE = SCENARIOS / "connector-kill.yaml", SCENARIOS / "connector-remove-add.yaml"
GWLB = shipped_on_backend("gwlb")  # docker only: the fixture has no param


@pytest.fixture(scope="module")
@lab_recipe(GWLB)
def docker_gwlb(request: pytest.FixtureRequest, lab_capable: None,
                docker_capable: None) -> Iterator[LabHandle]:
    remove = remover(request)  # a docker lab: behind the next one's bring-up
    handle = made(request, GWLB(None), "pt-scen-dk")
    try:
        wait_targets_healthy(handle, "gwlb")
        yield handle
    finally:
        remove(handle)


@allure.feature("scenarios")
def test_connector_kill_meets_its_bounds_on_docker(docker_gwlb: LabHandle,
                                                   tmp_path: Path) -> None:
    play_and_check(docker_gwlb, load_scenario(KILL), tmp_path)


@allure.feature("scenarios")
def test_connector_remove_add_meets_its_bounds_on_docker(docker_gwlb: LabHandle,
                                                         tmp_path: Path) -> None:
    play_and_check(docker_gwlb, load_scenario(REMOVE), tmp_path)
