"""reports/SUMMARY.md from Allure results: tallies, the attack matrix, failures, figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports import figures
from reports.summary import summarize

pytestmark = pytest.mark.unit


def _result(name: str, status: str, **labels: str) -> dict:
    return {"name": name, "status": status, "fullName": f"suites.x#{name.split('[')[0]}",
            "labels": [{"name": k, "value": v} for k, v in labels.items()],
            "statusDetails": {"message": "AssertionError: boom\nmore"} if status == "failed"
            else {}}


RESULTS = [
    _result("test_ssh[aws-natgw-netns]", "passed", tag="netns", feature="attacks",
            story="SSH from the internet", outcome="blocked"),
    _result("test_ssh[insecure-netns]", "passed", tag="netns", feature="attacks",
            story="SSH from the internet", outcome="attack succeeded"),
    _result("test_ssh[aws-no-natgw-netns]", "failed", tag="netns", feature="attacks",
            story="SSH from the internet", outcome="attack succeeded"),
    _result("test_ssh[aws-natgw-docker]", "passed", tag="docker", feature="attacks",
            story="SSH from the internet", outcome="blocked"),
    _result("test_spoof[insecure-docker-rfc1918]", "passed", tag="docker", feature="attacks",
            story="Spoofed sources", outcome="blocked"),
    _result("test_pool", "passed", tag="unit", parentSuite="suites.unit"),
]


def test_totals_and_tiers_are_counted() -> None:
    text = summarize(RESULTS, {}, "now")
    assert "**5 passed, 1 failed, 0 broken, 0 skipped**" in text
    assert "| netns | 2 | 1 | 0 | 0 |" in text
    assert "| docker | 2 | 0 | 0 | 0 |" in text
    assert "| unit | 1 | 0 | 0 | 0 |" in text


def test_attack_matrix_shows_what_was_observed_and_flags_the_unexpected() -> None:
    text = summarize(RESULTS, {}, "now")
    assert "| attack | aws-natgw | aws-no-natgw | insecure |" in text
    assert ("| SSH from the internet | blocked | attack succeeded (UNEXPECTED) "
            "| attack succeeded |") in text  # aws-natgw: both backends, one outcome
    assert "| Spoofed sources | - | - | blocked |" in text


def test_failures_name_the_test_and_its_first_message_line() -> None:
    text = summarize(RESULTS, {}, "now")
    assert "- `suites.x#test_ssh[aws-no-natgw-netns]`: AssertionError: boom" in text


def test_figures_are_a_readable_table_with_targets_and_leave_single_runs_out() -> None:
    bench = {"docker": {"topology": "minimal", "runs": 5, "docker_warm_up_median_s": 3.8,
                        "docker_warm_up_all_s": [3.7, 3.8, 3.9], "netns_up_median_s": 0.9,
                        "docker_to_netns_up_ratio": 4.22},
             "connector": {"dns": {"rounds": 5, "connector_qps_median": 40000,
                                   "unbound_qps_median": 100000, "ratio": 0.4,
                                   "target_ratio": 0.5,
                                   "runs": {"connector": [{"qps": 41234}]}}},
             "newbench": {"x": 1}}
    text = summarize(RESULTS, bench, "now")
    assert "| figure | value | reference (same run) | ratio | target | met |" in text
    assert ("| `make lab-up` minimal on docker, warm (median of 5) | 3.8 s "
            "| the same on netns: 0.9 s | 4.22x |  |  |") in text
    assert ("| Connector DNS answers per second, with runtime.dns_fast_path "
            "(dnsperf, median of 5 rounds) | 40,000 q/s "
            "| unbound, same client, path and names: 100,000 q/s | 0.40x | ≥ 1.0x | **no** |"
            ) in text
    assert "41234" not in text  # single runs stay in the JSON
    assert "3.7 s" not in text
    assert "docker_warm_up_median_s" not in text  # no flattened JSON keys
    assert "No rows yet for: newbench.json" in text


def test_forwarding_matrix_has_a_row_per_method_and_a_cell_per_topology() -> None:
    results = [
        _result("test_direct[aws-natgw-netns]", "passed", method="DIRECT"),
        _result("test_direct[aws-natgw-docker]", "passed", method="DIRECT"),
        _result("test_zpa[azure-natgw-netns]", "failed", method="ECZPA"),
        _result("test_zpa[aws-natgw-netns]", "passed", method="ECZPA"),
    ]
    text = summarize(results, {}, "now")
    assert "| method | aws-natgw | azure-natgw |" in text
    assert "| DIRECT | as specified | - |" in text
    assert "| ECZPA | as specified | **failed** |" in text


def test_skips_are_counted_per_tier_with_their_reasons() -> None:
    skipped = [{**_result(f"test_lab[{n}]", "skipped", tag="docker"),
                "statusDetails": {"message": "Skipped: needs a running docker engine"}}
               for n in range(3)]
    text = summarize([*RESULTS, *skipped], {}, "now")
    assert "| docker | 2 | 0 | 0 | 3 |" in text
    assert "- docker: 3 x needs a running docker engine" in text


def test_the_matrices_have_a_column_for_every_topology_of_the_cloud_suite() -> None:
    """The ids pytest gives the cloud suite's cases (topology, backend, the spoof test's
    own case) reduce to one column per topology the suite lists, whatever its name."""
    from suites.fixtures.lab import on_each_backend
    from suites.functional.cloud import test_cloud_topologies as cloud

    ids = [p.id for p in on_each_backend(cloud.TOPOLOGIES, docker=cloud.DOCKER_COVER)]
    results = [r for pid in ids for r in (
        _result(f"test_direct[{pid}]", "passed", method="DIRECT"),
        _result(f"test_spoof[{pid}-vpc]", "passed", story="Spoofed sources", outcome="blocked"),
        _result(f"test_spoof[{pid}-rfc1918]", "passed", story="Spoofed sources",
                outcome="blocked"))]
    text = summarize(results, {}, "now")
    header = "| " + " | ".join(sorted(cloud.TOPOLOGIES)) + " |"
    assert "| method " + header in text
    assert "| attack " + header in text
    assert "| DIRECT |" + " as specified |" * len(cloud.TOPOLOGIES) in text
    assert "| Spoofed sources |" + " blocked |" * len(cloud.TOPOLOGIES) in text
    assert {"azure-gwlb-natgw", "azure-gwlb-no-natgw", "azure-gwlb-partial-natgw",
            "azure-plb-inbound"} <= set(cloud.TOPOLOGIES)


FIXTURE = Path(__file__).parent / "figures_fixture"  # four small benchmark JSONs


def test_the_figures_section_is_the_table_written_by_hand_for_a_small_fixture() -> None:
    """Every row below was written from the fixture's numbers by hand: the table's order
    (connector, failover, lab, attack), values with units, the reference the same run
    measured, the JSON's ratio, the target from the one table of targets (DNS: 0.5x, not
    the 1.0 the fixture's JSON records) and whether it is met (10 s is not under 10 s)."""
    text = summarize(RESULTS, figures.load(FIXTURE), "now")
    section = text.split("## Figures (reports/bench)\n\n")[1].splitlines()
    assert section == [
        "| figure | value | reference (same run) | ratio | target | met |",
        "|---|---|---|---|---|---|",
        "| Connector DNS answers per second, with runtime.dns_fast_path "
        "(dnsperf, median of 3 rounds) | 52,000 q/s "
        "| unbound, same client, path and names: 100,000 q/s | 0.52x | ≥ 1.0x | **no** |",
        "| Packets per second through the connector, routed Direct (median of 3 rounds) "
        "| 150,000 pps | kernel forwarding through a router namespace: 200,000 pps | 0.75x "
        "| ≥ 0.8x | **no** |",
        "| Packets per second through the connector, ZIA tunnel, GENEVE (median of 3 rounds) "
        "| 30,000 pps | kernel forwarding through a router namespace: 200,000 pps | 0.15x "
        "| ≥ 0.6x | **no** |",
        "| Connector killed mid-traffic: longest silence of a running flow (gwlb lab, median "
        "of 3) | 3.2 s | the GWLB's health-check window: 3 s | 1.07x | ≤ 3.05 s | **no** |",
        "| `cclab up` / `cclab down` azure-plb-inbound (netns, median of 5) | 10 s / 2.04 s "
        "|  |  | < 10 s | **no** |",
        "| `cclab up` / `cclab down` minimal (netns, median of 5) | 2.4 s / 3.4 s |  |  |  |  |",
        "| `cclab attack` azure-gwlb-natgw (netns, median of 1) | 11.9 s | `cclab up` + "
        "`cclab down` of it, same run: 7.68 s | 1.55x | < 60 s | yes |",
    ]
