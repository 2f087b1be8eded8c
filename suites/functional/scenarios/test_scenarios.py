"""Every shipped failure scenario (lab/scenarios/*.yaml), played on one gwlb lab, meets
the bounds written in its own file; and `cclab scenario run` exits by its bounds and
leaves no fault behind.

Each scenario first shows its flows getting through (the baseline verdicts: at least
one flow of each method before the first fault, and each HTTP method seen arriving at
its server, where a leak would be seen); its JSON, text and timeline picture are
attached to the Allure report. One lab per topology for the module (about 10 s each to
bring up); each scenario takes its traffic's duration (12-18 s) plus a settle.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import allure
import pytest

from lab.api import LabHandle, bring_up
from lab.scenario.schema import load_scenario
from suites.fixtures.lab import unique_instance, wait_targets_healthy
from suites.functional.lab.cli_helpers import cclab
from suites.functional.scenarios.played import left_behind, play_and_check

pytestmark = pytest.mark.netns
ROOT = Path(__file__).resolve().parents[3]
# By topology, so that each lab's scenarios run one after another.
SHIPPED = sorted((ROOT / "lab" / "scenarios").glob("*.yaml"),
                 key=lambda p: (load_scenario(p).topology, p.stem))
# Scenarios whose bounds sit within a second of the lab's keepalive timers, played in the
# `quiet` part, with the machine alone. Their connectors call a ZIA address dead after 2 s
# without a keepalive answer (0.5 s apart). zia-primary-blackhole bounds recovery at 5 s:
# three clean-clone CIs failed it in the parallel part (recover 7.1 s), each time with
# single `zia` flows lost seconds after the failover while every flow around them got
# through, which is what a connector or a ZIA edge starved of CPU for about 2 s on the
# loaded two cores shows; it never failed alone. zia-outage-fail-modes bounds recovery at
# 3 s after both edges answer again; a clean-clone CI failed it the same way (recover
# 3.9 s after the undo, `zia` lost 40 flows against 32-34 alone, the fail-open flows
# fine); alone, it passed every run, three of them beside three busy loops
# (docs/decisions.md).
ALONE = {"zia-primary-blackhole", "zia-outage-fail-modes"}


def _shipped(path: Path) -> object:
    marks = [pytest.mark.quiet] if path.stem in ALONE else []
    return pytest.param(path, id=path.stem, marks=marks)

class Labs:
    """One lab per topology, brought up when a scenario first needs it, all taken down
    with the module."""

    def __init__(self) -> None:
        self.up: dict[str, LabHandle] = {}

    def of(self, topology: str) -> LabHandle:
        if topology not in self.up:
            handle = bring_up(topology, instance=unique_instance(f"pt-scen-{len(self.up)}"))
            self.up[topology] = handle
            wait_targets_healthy(handle, "gwlb")
        return self.up[topology]


@pytest.fixture(scope="module")
def scenario_labs(lab_capable: None) -> Iterator[Labs]:
    labs = Labs()
    try:
        yield labs
    finally:
        for handle in labs.up.values():
            handle.down()


@pytest.fixture
def scenario_lab(scenario_labs: Labs) -> LabHandle:
    return scenario_labs.of("gwlb")


@allure.feature("scenarios")
@pytest.mark.parametrize("path", [_shipped(p) for p in SHIPPED])
def test_a_shipped_scenario_meets_its_bounds(scenario_labs: Labs, path: Path,
                                              tmp_path: Path) -> None:
    scenario = load_scenario(path)
    play_and_check(scenario_labs.of(scenario.topology), scenario, tmp_path)


SHORT_FAILING = """\
name: cli-check
topology: gwlb
traffic: {methods: [direct, zia], interval_s: 0.25, duration_s: 7}
timeline:
  - at_s: 2
    fault: zia_blackhole
    nodes: [zia1]
    hold_s: 2
    expect: {detect_s: 0.01, lost: {direct: 1000}}
"""


@allure.feature("scenarios")
def test_the_command_exits_1_on_a_missed_bound_writes_its_results_and_undoes_the_fault(
        scenario_lab: LabHandle, tmp_path: Path) -> None:
    """detect_s <= 0.01 s cannot hold (the connectors call an edge dead after 2 s)."""
    file = tmp_path / "cli-check.yaml"
    file.write_text(SHORT_FAILING)
    done = cclab("scenario", "run", str(file), "--name", scenario_lab.instance, "-o",
                 str(tmp_path / "out"), timeout=120)
    assert done.returncode == 1, done.stderr
    assert "FAIL #0 detect_s" in done.stdout
    assert "ok   #0 lost.direct" in done.stdout
    data = json.loads((tmp_path / "out" / "cli-check.json").read_text())
    assert data["passed"] is False
    assert data["faults"][0]["detect_s"] > 0.01
    assert (tmp_path / "out" / "cli-check.png").stat().st_size > 0
    assert "apply #0 zia_blackhole zia1" in done.stderr
    assert left_behind(scenario_lab) == {}


@allure.feature("scenarios")
def test_a_stopped_run_undoes_the_fault_in_play(scenario_lab: LabHandle, tmp_path: Path) -> None:
    """SIGTERM while zia1 is blackholed: the table that does it is there before, gone
    after, and the command says so with 130."""
    file = tmp_path / "stopped.yaml"
    file.write_text(SHORT_FAILING.replace("hold_s: 2", "hold_s: 3").replace("cli-check",
                                                                            "stopped"))
    command = [sys.executable, "-m", "lab.cli", "scenario", "run", str(file), "--name",
               scenario_lab.instance, "-o", str(tmp_path / "out")]
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        for _ in range(200):  # bounded: the settle and the first 2 s of traffic
            line = proc.stderr.readline()
            if "apply #0" in line or not line:
                break
        assert "apply #0 zia_blackhole zia1" in line, line
        time.sleep(0.5)
        assert "scn_cut" in scenario_lab.exec("zia1", "nft", "list", "tables").stdout
        proc.send_signal(signal.SIGTERM)
        rest = proc.stderr.read()
        assert proc.wait(timeout=30) == 130, rest
    assert "interrupted; the fault in play was undone" in rest
    assert left_behind(scenario_lab) == {}
