"""Scenario files: the shipped ones are valid, and a bad one has every problem named at
once, each by its path, on its line, with a hint (as topology files are)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lab.catalog import topology_path
from lab.model import Topology
from lab.scenario.errors import ScenarioFileError
from lab.scenario.schema import load_scenario, parse_scenario
from lab.schema import load_topology

pytestmark = pytest.mark.unit
SHIPPED = sorted((Path(__file__).resolve().parents[3] / "lab" / "scenarios").glob("*.yaml"))
GWLB = load_topology(topology_path("gwlb"))

# The issue's fault list, as this lab names the kinds.
ISSUE_KINDS = {"connector_kill", "connector_restart", "zia_blackhole", "udp_block",
               "dns_upstream_down", "lb_target_unhealthy", "connector_remove", "link_impair",
               "zpa_broker_down", "cloud_unreachable_at_enrollment"}


def lookup(name: str) -> Topology | None:
    return GWLB if name == "gwlb" else None


def parse(text: str):
    return parse_scenario(text, source=Path("s.yaml"), topologies=lookup)


def problems(text: str) -> list[tuple[str, str, str, int | None]]:
    with pytest.raises(ScenarioFileError) as caught:
        parse(text)
    return [(i.path, i.message, i.hint, i.line) for i in caught.value.issues]


GOOD = """\
name: ok-one
topology: gwlb
traffic: {methods: [direct, zia], interval_s: 0.25, duration_s: 12}
timeline:
  - at_s: 2
    fault: zia_blackhole
    nodes: [zia1, zia2]
    hold_s: 4
    expect: {detect_s: 3, lost: {zia: 5}, fail: {zia: close}}
  - at_s: 7
    fault: connector_restart
    nodes: [cc2]
"""


def test_a_good_file_reads_as_written() -> None:
    s = parse(GOOD)
    assert (s.name, s.topology, s.traffic.methods) == ("ok-one", "gwlb", ("direct", "zia"))
    first, second = s.timeline
    assert (first.kind, first.at_s, first.nodes, first.hold_s) == \
        ("zia_blackhole", 2.0, ("zia1", "zia2"), 4.0)
    assert (first.expect.detect_s, first.expect.lost, first.expect.fail, first.expect.leaks) == \
        (3.0, (("zia", 5),), (("zia", "close"),), 0)
    assert (second.kind, second.hold_s, second.expect.detect_s) == ("connector_restart", 0.0,
                                                                     None)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_each_shipped_scenario_is_valid(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem, "the file is named after its scenario"
    assert all(f.expect.leaks == 0 for f in scenario.timeline), "no shipped leak allowance"


def test_the_shipped_scenarios_cover_every_fault_kind_of_the_issue_that_this_lab_has() -> None:
    kinds = {f.kind for p in SHIPPED for f in load_scenario(p).timeline}
    assert len(SHIPPED) >= 8
    assert kinds == ISSUE_KINDS


BAD = """\
name: Bad Name
topology: gwlb
colour: red
traffic: {methods: [direct, ftp, direct], interval_s: 0.001, duration_s: 12}
timeline:
  - at_s: 2
    fault: conector_kill
    nodes: [cc1]
    hold_s: 3
  - at_s: 4
    fault: connector_restart
    nodes: [web]
    hold_s: 2
  - at_s: 6
    fault: zia_blackhole
    nodes: [zia3]
  - at_s: 7
    fault: link_impair
    nodes: [fabric]
    hold_s: 1
    params: {iface: eth9, rate: fast, loss_pct: 150, jitter: 3}
    expect: {lost: {smtp: 1}, fail: {direct: maybe}, detect_s: -1}
  - at_s: 9
    fault: udp_block
    nodes: [inet]
    hold_s: 5
"""


def test_a_bad_file_has_every_problem_named_at_once_with_its_line_and_a_hint() -> None:
    found = problems(BAD)
    by_path = {path: (message, hint, line) for path, message, hint, line in found}
    expected = {
        "name": ("is not a scenario name", 1),
        "colour": ("unknown key", 3),
        "traffic.methods[1]": ("the profile has no method 'ftp'", 4),
        "traffic.methods[2]": ("'direct' is named twice", 4),
        "traffic.interval_s": ("out of range", 4),
        "timeline[0].fault": ("no fault kind 'conector_kill'", 7),
        "timeline[1].hold_s": ("ends by itself", 13),
        "timeline[1].nodes[0]": ("needs a node running connector", 12),
        "timeline[2].hold_s": ("missing", None),
        "timeline[2].nodes[0]": ("no node 'zia3'", 16),
        "timeline[3].params.jitter": ("unknown key", 21),
        "timeline[3].params.rate": ("is not a rate", 21),
        "timeline[3].params.loss_pct": ("out of range", 21),
        "timeline[3].params.iface": ("fabric has no interface 'eth9'", 21),
        "timeline[3].expect.lost.smtp": ("is not one of traffic.methods", 22),
        "timeline[3].expect.fail.direct": ("is not a fail mode", 22),
        "timeline[3].expect.detect_s": ("out of range", 22),
        "timeline[4].at_s": ("too late to see recovery", 23),
    }
    for path, (fragment, line) in expected.items():
        assert path in by_path, f"{path} not reported; got {sorted(by_path)}"
        message, hint, at = by_path[path]
        assert fragment in message, (path, message)
        assert hint, f"{path}: no hint"
        if line is not None:
            assert at == line, (path, at)
    assert by_path["timeline[0].fault"][1] == "did you mean 'connector_kill'?"
    assert len(found) == len(expected), sorted(set(by_path) - set(expected))


def test_faults_may_not_overlap() -> None:
    text = GOOD.replace("at_s: 7", "at_s: 5")
    assert [(p, m) for p, m, _, _ in problems(text)] == [
        ("timeline[1].at_s", "starts at 5 s, before fault #0 is undone (6 s)")]


def test_a_recovery_bound_must_fit_in_its_faults_window() -> None:
    """A flow recovering within the bound but after the window ends (the next fault's
    start, or the end of the traffic) would be measured as never recovering."""
    by_next = GOOD.replace("detect_s: 3,", "detect_s: 3, recover_s: 5.5, recover: {zia: 5},")
    assert [(p, m, h) for p, m, h, _ in problems(by_next)] == [
        ("timeline[0].expect.recover_s", "a recovery within 5.5 s (by 7.5 s) could not be "
         "seen: fault #1 starts at 7 s", "make the window last at least 7.5 s, or the bound "
         "smaller")]
    by_end = GOOD.replace("nodes: [cc2]", "nodes: [cc2]\n    expect: {recover_s: 6}")
    assert [(p, m) for p, m, _, _ in problems(by_end)] == [
        ("timeline[1].expect.recover_s", "a recovery within 6 s (by 13 s) could not be "
         "seen: the traffic ends (traffic.duration_s) at 12 s")]
    assert parse(by_end.replace("recover_s: 6", "recover_s: 5")).timeline[1].expect.recover_s == 5


def test_a_fault_needs_a_node_that_runs_its_service() -> None:
    text = GOOD.replace("fault: connector_restart", "fault: zpa_broker_down") \
        .replace("nodes: [cc2]", "nodes: [cc2]\n    hold_s: 2")
    assert [(p, m, h) for p, m, h, _ in problems(text)] == [
        ("timeline[1].nodes[0]", "zpa_broker_down needs a node running zpa-broker",
         "such nodes: none in this topology")]


def test_an_unknown_topology_and_missing_keys_are_named() -> None:
    found = {(p, m) for p, m, _, _ in problems("name: x\ntopology: nowhere\n")}
    assert found == {("topology", "no topology 'nowhere' (or it has problems)"),
                     ("traffic", "missing"), ("timeline", "missing")}


def test_a_yaml_syntax_error_is_one_problem_on_its_line() -> None:
    found = problems("name: x\ntimeline: [\n  - {at_s: 1\n")
    assert len(found) == 1
    assert found[0][0] == "(yaml)"
    assert found[0][3] is not None


def test_the_command_exits_2_on_a_bad_file_naming_every_problem(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(GOOD.replace("zia2", "zia9").replace("hold_s: 4", "hold_s: x"))
    done = subprocess.run([sys.executable, "-m", "lab.cli", "scenario", "run", str(file)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert "2 problems in scenario" in done.stderr
    assert "timeline[0].nodes[1]: no node 'zia9'" in done.stderr
    assert "timeline[0].hold_s: must be a number" in done.stderr


def test_the_enrollment_fault_waits_longer_than_the_connector_waits_for_the_cloud() -> None:
    """The fault's restart must outlast the connector's enrollment retries, or the lab
    would call a connector that is doing what it should a failed start."""
    from connector.service.cloud import CLOUD_PORT, ENROLL_WAIT_S
    from lab.scenario.faults import CLOUD_PORT as FAULT_CLOUD_PORT
    from lab.scenario.faults import ENROLL_READY_S

    assert ENROLL_READY_S >= ENROLL_WAIT_S + 10
    assert str(CLOUD_PORT) == FAULT_CLOUD_PORT
