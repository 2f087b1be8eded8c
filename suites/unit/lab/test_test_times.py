"""reports/bench/tests.json from JUnit XML: tier wall time is the union of its tests'
intervals across workers, test time their sum; modules sum their tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports import test_times
from reports.test_times import busy_seconds, module_of, parse_junit, summarize

pytestmark = pytest.mark.unit


def _case(classname: str, name: str, tier: str, start: float, end: float,
          inner: str = "") -> str:
    return (f'<testcase classname="{classname}" name="{name}" time="{end - start:.3f}">'
            f'<properties><property name="tier" value="{tier}" />'
            f'<property name="started" value="{start}" /><property name="ended" value="{end}" />'
            f"</properties>{inner}</testcase>")


# Two xdist workers: the docker lab module on one (its bring-up in the first test),
# unit tests on the other, overlapping in time; one failure, one skip.
PARALLEL = ('<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">'
            '<testsuite name="pytest" errors="0" failures="1" skipped="1" tests="5" time="70.5">'
            + _case("suites.functional.cloud.test_azure_ilb", "test_a[docker]", "docker",
                    1000.0, 1040.0)
            + _case("suites.functional.cloud.test_azure_ilb", "test_b[docker]", "docker",
                    1040.0, 1070.0, '<failure message="boom">x</failure>')
            + _case("suites.unit.lab.test_plan", "test_x", "unit", 1000.0, 1001.0)
            + _case("suites.unit.lab.test_plan.TestClass", "test_y", "unit", 1000.5, 1002.0)
            + _case("suites.unit.lab.test_plan", "test_z", "unit", 1010.0, 1011.0,
                    '<skipped message="no" />')
            + "</testsuite></testsuites>")
QUIET = ('<testsuite name="pytest" tests="1" time="20.0">'
         + _case("suites.functional.lab.test_rates", "test_r[netns]", "netns", 1100.0, 1120.0)
         + "</testsuite>")


def test_modules_are_named_by_file_with_a_class_dropped() -> None:
    assert module_of("suites.unit.lab.test_plan") == "suites/unit/lab/test_plan.py"
    assert module_of("suites.unit.lab.test_plan.TestClass") == "suites/unit/lab/test_plan.py"


def test_busy_seconds_merges_overlapping_intervals() -> None:
    assert busy_seconds([(0, 10), (5, 12), (20, 21), (20.5, 20.7)]) == 13.0
    assert busy_seconds([]) == 0.0


def test_parse_reads_cases_with_tier_interval_and_outcome() -> None:
    run = parse_junit(PARALLEL)
    assert run.wall_s == 70.5
    assert [c.outcome for c in run.cases] == ["passed", "failed", "passed", "passed", "skipped"]
    assert run.cases[0].tier == "docker"
    assert run.cases[0].started == 1000.0
    assert run.cases[0].module == "suites/functional/cloud/test_azure_ilb.py"


def test_summary_gives_tier_wall_and_test_time_and_module_sums() -> None:
    summary = summarize([parse_junit(PARALLEL), parse_junit(QUIET)])
    assert summary["wall_s"] == 90.5
    assert summary["tests"] == 6
    assert summary["outcomes"] == {"failed": 1, "passed": 4, "skipped": 1}
    assert summary["tiers"]["docker"] == {"tests": 2, "test_s": 70.0, "wall_s": 70.0}
    assert summary["tiers"]["unit"] == {"tests": 3, "test_s": 3.5, "wall_s": 3.0}
    assert summary["tiers"]["netns"] == {"tests": 1, "test_s": 20.0, "wall_s": 20.0}
    modules = summary["modules"]
    assert list(modules)[0] == "suites/functional/cloud/test_azure_ilb.py"  # slowest first
    assert modules["suites/unit/lab/test_plan.py"]["tests"] == 3
    assert modules["suites/unit/lab/test_plan.py"]["tier"] == "unit"
    assert summary["slowest"][0]["test"].endswith("test_a[docker]")


def test_without_intervals_a_tier_has_test_time_only() -> None:
    bare = ('<testsuite time="3"><testcase classname="suites.unit.test_a" name="t" time="2.5"/>'
            "</testsuite>")
    summary = summarize([parse_junit(bare)])
    assert summary["tiers"] == {"unknown": {"tests": 1, "test_s": 2.5}}


def test_main_writes_the_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    xml = tmp_path / "parallel.xml"
    xml.write_text(PARALLEL)
    monkeypatch.setattr(test_times, "OUT", tmp_path / "tests.json")
    assert test_times.main([str(xml)]) == 0
    assert json.loads((tmp_path / "tests.json").read_text())["tests"] == 5
    monkeypatch.setattr(test_times, "JUNIT", tmp_path / "none")
    assert test_times.main([]) == 2
